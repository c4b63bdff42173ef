"""docs/backtest.md states the backtest's defaults: the code's."""

from __future__ import annotations

import re
from pathlib import Path

from fleece.accounting import OPENING_CASH

DOC = Path(__file__).resolve().parents[2] / "docs" / "backtest.md"


def synopsis(command: str) -> str:
    """The page's option synopsis of ``fleece COMMAND`` (the code block line and its follow-ons)."""
    text = DOC.read_text("utf-8")
    found = re.search(rf"^fleece {command} --data DIR.*?(?=\n```)", text, re.M | re.S)
    assert found, f"no synopsis of fleece {command} in {DOC.name}"
    return found.group(0)


def test_the_backtest_synopsis_states_the_opening_cash_a_run_starts_with() -> None:
    stated = re.search(r"\[--cash (\S+)\]", synopsis("backtest"))

    assert stated and float(stated.group(1)) == OPENING_CASH
