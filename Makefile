# alpaca-fleece — every target works on a fresh machine with only python3 and pip:
# uv is installed when missing, then the locked environment is synced, then the job runs.
SHELL := /bin/bash
UV := $(shell ./scripts/ensure-uv.sh)
PY := .venv/bin/python
export UV_LINK_MODE ?= copy

.PHONY: help sync demo test lint types pytest exchange run status clean

help:  ## list the targets
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

sync:  ## install the locked dependencies into .venv
	@$(UV) sync --frozen --quiet

demo: sync  ## run the bot against the built-in exchange for a simulated day (the embedded default)
	@$(PY) -m fleece demo

test: sync lint types pytest  ## lint, type-check and run the whole test suite

lint: sync
	$(PY) -m ruff check
	$(PY) -m ruff format --check

types: sync
	$(PY) -m mypy

pytest: sync
	$(PY) -m pytest -q

exchange: sync  ## serve the built-in exchange on 127.0.0.1:8765 with synthetic bars
	$(PY) -m fleece exchange --synthetic --port 8765

clean:  ## remove caches (keeps data/ and logs/)
	rm -rf .pytest_cache .mypy_cache .ruff_cache
