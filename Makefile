# alpaca-fleece — every target works on a fresh machine with only python3 and pip:
# uv is installed when missing, then the locked environment is synced, then the job runs.
SHELL := /bin/bash
UV := $(shell ./scripts/ensure-uv.sh)
PY := .venv/bin/python
export UV_LINK_MODE ?= copy

.PHONY: help sync demo test test-tools test-under-load lint types pytest explore exchange clean

help:  ## list the targets
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

sync:  ## install the locked dependencies into .venv
	@$(UV) sync --frozen --quiet

demo: sync  ## run the bot against the built-in exchange for a simulated day (the embedded default)
	@$(PY) -m fleece demo

test: sync test-tools lint types pytest  ## lint, type-check and run the whole test suite

# Debian packages the tests drive for real: chromium (the dashboard's browser test; never
# `playwright install`), systemd (`systemd-analyze verify` of the unit) and sqlite3 (the seed's
# monitoring queries). Installed with apt-get only when a command is missing.
TEST_TOOLS := chromium:chromium systemd-analyze:systemd sqlite3:sqlite3

# apt-get install the Debian packages of $(1), a list of command:package pairs, whose command is
# missing.
define apt_install_missing
	@missing=""; for pair in $(1); do \
	  command -v "$${pair%%:*}" >/dev/null 2>&1 || missing="$$missing $${pair#*:}"; done; \
	if [ -n "$$missing" ]; then \
	  SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); echo "installing Debian packages:$$missing"; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi
endef

test-tools:  ## install the Debian packages the tests need (chromium, systemd, sqlite3) when missing
	$(call apt_install_missing,$(TEST_TOOLS))

# `make test` RUNS times in a row, each beside `stress-ng --cpu LOAD_CPUS` (all CPUs by default),
# as a loaded CI machine would run it: a spec that needs an idle machine shows up here. One
# table at the end (result, duration, load average per run); logs in logs/test-under-load/.
RUNS ?= 3
LOAD_CPUS ?= $(shell nproc)

test-under-load: sync  ## make test RUNS=3 times in a row beside stress-ng --cpu LOAD_CPUS; one table
	$(call apt_install_missing,stress-ng:stress-ng)
	@$(PY) scripts/test_under_load.py --runs $(RUNS) --cpus $(LOAD_CPUS)

lint: sync
	$(PY) -m ruff check
	$(PY) -m ruff format --check

types: sync
	$(PY) -m mypy

pytest: sync
	$(PY) -m pytest -q -n 4 --dist loadfile

explore: sync  ## the suite with fresh random examples for every property-based spec (make test repeats the same ones)
	HYPOTHESIS_PROFILE=explore $(PY) -m pytest -q -n 4 --dist loadfile

exchange: sync  ## serve the built-in exchange on 127.0.0.1:8765 with synthetic bars
	$(PY) -m fleece exchange --synthetic --port 8765

clean:  ## remove caches (keeps data/ and logs/)
	rm -rf .pytest_cache .mypy_cache .ruff_cache

# ---- operations (Docker, systemd, status) ----
# Docker targets as the seed lists them; `docker compose`, or docker-compose where that is what
# is installed. The image's user gets your uid/gid (1000 when you are root), so the bind-mounted
# data/ and logs/ stay writable from both sides.
COMPOSE ?= $(shell docker compose version >/dev/null 2>&1 && echo "docker compose" || echo docker-compose)
BOT_UID ?= $(shell [ "$$(id -u)" = 0 ] && echo 1000 || id -u)
BOT_GID ?= $(shell [ "$$(id -u)" = 0 ] && echo 1000 || id -g)
DC = BOT_UID=$(BOT_UID) BOT_GID=$(BOT_GID) $(COMPOSE)

.PHONY: build run status logs stop restart shell systemd-install systemd-uninstall systemd-start \
	systemd-stop systemd-restart systemd-enable systemd-status systemd-logs requirements

build:  ## Docker: build the image (python:3.12-slim, uv sync --frozen, non-root user)
	$(DC) build

run:  ## Docker: start the bot in the background (docker compose up -d)
	@mkdir -p data logs
	@if [ "$$(id -u)" = 0 ]; then chown $(BOT_UID):$(BOT_GID) data logs; fi
	$(DC) up -d

status:  ## the bot's status: the container's when Docker runs it, else the local bot's
	@if command -v docker >/dev/null 2>&1 && [ -n "$$($(DC) ps -q alpaca-bot 2>/dev/null)" ]; then \
		$(DC) ps alpaca-bot && $(DC) exec -T alpaca-bot fleece status; \
	else \
		[ -x $(PY) ] || $(UV) sync --frozen --quiet; \
		$(PY) -m fleece status; \
	fi

logs:  ## Docker: follow the container's output
	$(DC) logs -f alpaca-bot

stop:  ## Docker: stop the bot gracefully and remove the container (docker compose down)
	$(DC) down

restart:  ## Docker: restart the container (SIGTERM, graceful shutdown, start)
	$(DC) restart alpaca-bot

shell:  ## Docker: a shell in the running container
	$(DC) exec alpaca-bot bash

# systemd: the unit takes BOT_ROOT from /etc/default/alpaca-bot. systemd substitutes ${BOT_ROOT}
# in ExecStart= only, so systemd-install also writes a drop-in with the resolved ReadWritePaths=
# and User= (the owner of BOT_ROOT unless SERVICE_USER=name). Run it again after moving the bot.
SYSTEMD_DIR ?= /etc/systemd/system
BOT_DEFAULTS ?= /etc/default/alpaca-bot
SYSTEMCTL ?= systemctl
SUDO ?= $(shell [ "$$(id -u)" = 0 ] || echo sudo)
BOT_ROOT ?= $(or $(shell sed -n 's/^BOT_ROOT=//p' $(BOT_DEFAULTS) 2>/dev/null | tail -n 1),$(CURDIR))
SERVICE_USER ?=
DROPIN = $(SYSTEMD_DIR)/alpaca-bot.service.d/bot-root.conf

systemd-install: sync  ## systemd: install the unit, /etc/default/alpaca-bot and the BOT_ROOT drop-in
	@mkdir -p "$(BOT_ROOT)/data" "$(BOT_ROOT)/logs"
	@tmp=$$(mktemp) && \
	$(PY) -m fleece systemd-dropin --root "$(BOT_ROOT)" $(if $(SERVICE_USER),--user $(SERVICE_USER)) >"$$tmp" && \
	$(SUDO) install -D -m 0644 alpaca-bot.service "$(SYSTEMD_DIR)/alpaca-bot.service" && \
	$(SUDO) install -D -m 0644 "$$tmp" "$(DROPIN)"; \
	rc=$$?; rm -f "$$tmp"; exit $$rc
	@$(SUDO) mkdir -p "$$(dirname "$(BOT_DEFAULTS)")"
	@if [ -f "$(BOT_DEFAULTS)" ] && grep -q '^BOT_ROOT=' "$(BOT_DEFAULTS)"; then \
		$(SUDO) sed -i 's|^BOT_ROOT=.*|BOT_ROOT=$(BOT_ROOT)|' "$(BOT_DEFAULTS)"; \
	else \
		printf '# alpaca-fleece systemd settings (see alpaca-bot.service)\nBOT_ROOT=%s\n' "$(BOT_ROOT)" \
			| $(SUDO) tee -a "$(BOT_DEFAULTS)" >/dev/null; \
	fi
	$(SUDO) $(SYSTEMCTL) daemon-reload
	@echo "installed alpaca-bot.service for BOT_ROOT=$(BOT_ROOT) ($(DROPIN), $(BOT_DEFAULTS))"

systemd-uninstall:  ## systemd: stop, disable and remove the unit and its drop-in (keeps data/)
	-$(SUDO) $(SYSTEMCTL) disable --now alpaca-bot
	$(SUDO) rm -f "$(SYSTEMD_DIR)/alpaca-bot.service" "$(DROPIN)"
	$(SUDO) $(SYSTEMCTL) daemon-reload

systemd-start:  ## systemd: start the bot
	$(SUDO) $(SYSTEMCTL) start alpaca-bot

systemd-stop:  ## systemd: stop the bot gracefully (SIGTERM)
	$(SUDO) $(SYSTEMCTL) stop alpaca-bot

systemd-restart:  ## systemd: restart the bot
	$(SUDO) $(SYSTEMCTL) restart alpaca-bot

systemd-enable:  ## systemd: start the bot at boot
	$(SUDO) $(SYSTEMCTL) enable alpaca-bot

systemd-status:  ## systemd: the service's state and latest journal lines
	$(SYSTEMCTL) status alpaca-bot --no-pager

systemd-logs:  ## systemd: follow the journal
	journalctl -u alpaca-bot -f

# Reproducible installs without uv: hashed requirements compiled from uv.lock (the .in files
# list the direct dependencies, from pyproject.toml). tests/operations fails when they drift.
requirements:  ## regenerate requirements{,-dev}.{in,txt} from pyproject.toml and uv.lock
	$(UV) export --frozen --no-dev --no-emit-project --format requirements-txt >requirements.txt
	$(UV) export --frozen --group dev --no-emit-project --format requirements-txt >requirements-dev.txt
	$(PY) -c 'import tomllib; p = tomllib.load(open("pyproject.toml", "rb")); \
		print("# Direct dependencies, from pyproject.toml (make requirements).\n# requirements.txt is compiled from uv.lock with hashes."); \
		print(*p["project"]["dependencies"], sep="\n")' >requirements.in
	$(PY) -c 'import tomllib; p = tomllib.load(open("pyproject.toml", "rb")); \
		print("# Development dependencies, from pyproject.toml (make requirements).\n# requirements-dev.txt is compiled from uv.lock with hashes.\n-r requirements.in"); \
		print(*p["dependency-groups"]["dev"], sep="\n")' >requirements-dev.in

# ---- backtest benchmark ----
.PHONY: bench

bench: sync  ## alpaca-fleece vs backtrader on the minute grid, identical trades: synthetic year, real bars, dense and sparse
	$(PY) bench/bench.py

# ---- sweep ----
.PHONY: bench-sweep

bench-sweep: sync  ## fleece sweep on Dask: backtests per minute with 1 and 2 workers, 2nd worker's efficiency
	$(PY) bench/sweep_bench.py

# ---- reliability ----
# `make test` runs tests/reliability at a small size (a faulty hour of 8 symbols, 2 crash trials).
# `make reliability` runs the long parts: a full simulated day of 31 symbols with 10% faulty
# answers, 24 SIGKILL crash trials, the 5-day soak (bench/soak.py); then prints one table.
.PHONY: reliability soak audit

reliability: sync  ## long reliability runs (faulty day, 24 crash trials, 5-day soak) and their table
	$(PY) scripts/reliability.py

soak: sync  ## the soak alone: 5 simulated days x 31 symbols (RSS, fds, threads, requests, latency)
	$(PY) bench/soak.py

audit: sync  ## known vulnerabilities in the locked dependencies (pip-audit via uv; needs PyPI's JSON API)
	@$(PY) scripts/audit.py --uv "$(UV)"
