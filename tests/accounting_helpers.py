"""The realised P&L of one store as the summary, the backtest statistics and the dashboard give it.

The issue's "done when": the three agree to the cent. Each is read through its own public path
(the summary's printed row, :func:`~fleece.backtest.stats.compute_stats`, the dashboard's
account), so a viewer that computed it by another rule would stand out. First in, first out is
the rule they once disagreed by: :func:`fifo_realised_cents` gives its figure, so that a spec can
show that its fills tell the two rules apart.
"""

from __future__ import annotations

import io
import re
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
from rich.console import Console

from fleece.accounting import cents_of
from fleece.backtest.equity import EquityCurve
from fleece.backtest.stats import compute_stats
from fleece.clock import ManualClock
from fleece.config import AppConfig, load_config
from fleece.dashboard import DashboardView
from fleece.models import Fill, Side, to_ticks
from fleece.state_store import StateStore
from fleece.summary import print_summary

REPO = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Realised:
    """The realised P&L of one store, in dollars, as each viewer shows it."""

    summary: float
    stats: float
    dashboard: float
    fills: list[Fill]


def summary_row(text: str, name: str) -> str:
    """The value of row ``name`` of a printed summary table."""
    match = re.search(rf"│ {re.escape(name)}\s*│ (.*?)\s*│", text)
    assert match, f"no '{name}' row in:\n{text}"
    return match.group(1)


def dollars(text: str) -> float:
    """A printed amount such as ``+1,234.56`` as a float."""
    return float(text.replace(",", ""))


def viewer_config(folder: Path) -> AppConfig:
    """The committed trading.yaml in sim mode, with its files in ``folder`` (the dashboard's)."""
    env = {"FLEECE_MODE": "sim", "DATABASE_PATH": str(folder / "v.db"), "LOG_DIR": str(folder)}
    return load_config(None, env, config_path=REPO / "config" / "trading.yaml")


def realised_three_ways(db: Path, folder: Path, *, summary_text: str | None = None) -> Realised:
    """The store at ``db`` as the summary (its printed row: ``summary_text`` when the run
    printed it already), the statistics and the dashboard of a stopped bot report it."""
    if summary_text is None:
        console = Console(record=True, width=200, file=io.StringIO())
        print_summary(console, db, folder / "log", datetime.now().astimezone())
        summary_text = console.export_text()
    with StateStore(db) as store:
        fills = store.fills()
        view = DashboardView(store, viewer_config(folder), clock=ManualClock(fills[-1].timestamp))
        dashboard = view.account().realised_pnl
    none = np.zeros(0, dtype=np.int64)  # the trades' figures need no curve
    stats = compute_stats(EquityCurve(none, none, none, none, none.astype(bool)), fills, 1)
    return Realised(
        dollars(summary_row(summary_text, "realised P&L")), stats.realised_pnl, dashboard, fills
    )


def fifo_realised_cents(fills: Sequence[Fill]) -> int:
    """Realised P&L matching each sale to the earliest shares bought (the rule replaced)."""
    lots: dict[str, deque[list[int]]] = {}
    total = 0
    for fill in sorted(fills, key=lambda f: f.timestamp):
        queue = lots.setdefault(fill.symbol, deque())
        ticks = to_ticks(fill.price)
        if fill.side is Side.BUY:
            queue.append([fill.qty, ticks])
            continue
        left = fill.qty
        while left and queue:
            lot = queue[0]
            qty = min(left, lot[0])
            total += cents_of(ticks, qty) - cents_of(lot[1], qty)
            lot[0] -= qty
            left -= qty
            if not lot[0]:
                queue.popleft()
    return total
