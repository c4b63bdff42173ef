"""docs/sweep.md states the sweep's metrics and its defaults: the code's, word for word."""

from __future__ import annotations

import re
from pathlib import Path

from fleece.accounting import OPENING_CASH
from fleece.sweep.metrics import DEFAULT_METRIC, METRICS

DOC = Path(__file__).resolve().parents[2] / "docs" / "sweep.md"


def option_row(option: str) -> list[str]:
    """The cells of the page's option table row that starts with ``option``."""
    for line in DOC.read_text("utf-8").splitlines():
        if line.startswith(f"| `{option}`"):
            return [cell.strip() for cell in line.strip("|").split("|")]
    raise AssertionError(f"{option} is not in {DOC.name}'s option table")


def test_the_metric_option_documents_the_metrics_and_the_default_the_sweep_uses() -> None:
    _, what, default = option_row("--metric")

    assert re.findall(r"`(\w+)`", what) == list(METRICS)
    assert default == f"`{DEFAULT_METRIC}`"


def test_the_cash_option_documents_the_opening_cash_every_run_starts_with() -> None:
    _, _, defaults = option_row("--cash")

    assert float(defaults.split(",")[0]) == OPENING_CASH
