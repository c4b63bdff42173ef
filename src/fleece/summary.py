"""End-of-run summary: orders, fills, realised and unrealised P&L, refusals, where things are.

Read from the store alone, so it describes exactly what was recorded.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from rich.console import Console
from rich.table import Table

from fleece.models import Fill, Side
from fleece.startup_checks import read_dropped
from fleece.state_store import StateStore


@dataclass(frozen=True, slots=True)
class PnL:
    """Realised P&L (average-cost method) and what is still held at what cost."""

    realised: float
    open_qty: dict[str, int]
    open_cost: dict[str, float]


def realised_pnl(fills: Iterable[Fill]) -> PnL:
    """Realised P&L of long-only trading by average cost, to the cent."""
    qty: defaultdict[str, int] = defaultdict(int)
    cost: defaultdict[str, float] = defaultdict(float)
    realised = 0.0
    for fill in sorted(fills, key=lambda f: f.timestamp):
        if fill.side is Side.BUY:
            qty[fill.symbol] += fill.qty
            cost[fill.symbol] += fill.qty * fill.price
            continue
        held = qty[fill.symbol]
        if held <= 0:
            continue
        sold = min(fill.qty, held)
        avg = cost[fill.symbol] / held
        realised += sold * (fill.price - avg)
        qty[fill.symbol] -= sold
        cost[fill.symbol] -= sold * avg
    open_qty = {s: q for s, q in qty.items() if q}
    return PnL(round(realised, 2), open_qty, {s: round(cost[s], 2) for s in open_qty})


def print_summary(
    console: Console,
    db: Path,
    log_path: Path,
    started: datetime,
    requests: tuple[int, float] | None = None,
) -> None:
    """Print the demo's summary table from the store at ``db``.

    ``requests`` is the run's broker requests and their rate per market minute, when known
    (the store does not keep them).
    """
    with StateStore(db) as store:
        intents = store.all_intents()
        fills = store.fills()
        refusals = store.refusal_counts()
        curve = store.equity_curve()
        runs = store.runs(1)
        dropped = read_dropped(store)
    pnl = realised_pnl(fills)
    first_equity = curve[0].equity if curve else None
    last_equity = curve[-1].equity if curve else None
    total = (last_equity - first_equity) if first_equity is not None and last_equity else 0.0
    unrealised = round(total - pnl.realised, 2) or 0.0
    table = Table(title="alpaca-fleece run summary", show_header=False)
    table.add_column("what", style="bold")
    table.add_column("value")
    statuses: defaultdict[str, int] = defaultdict(int)
    for intent in intents:
        statuses[intent.status] += 1
    buys = sum(1 for f in fills if f.side is Side.BUY)
    table.add_row(
        "orders", f"{len(intents)} ({', '.join(f'{k} {v}' for k, v in sorted(statuses.items()))})"
    )
    table.add_row("fills", f"{len(fills)} ({buys} buys, {len(fills) - buys} sells)")
    table.add_row("realised P&L", f"{pnl.realised:+,.2f}")
    table.add_row("unrealised P&L", f"{unrealised + 0.0:+,.2f}")
    if first_equity is not None and last_equity is not None:
        table.add_row("equity", f"{first_equity:,.2f} -> {last_equity:,.2f}")
    table.add_row(
        "refusals",
        ", ".join(f"{reason} {n}" for reason, n in sorted(refusals.items())) or "none",
    )
    if dropped:
        table.add_row(
            "symbols dropped", ", ".join(f"{sym} ({why})" for sym, why in dropped.items())
        )
    if requests is not None:
        table.add_row("broker requests", f"{requests[0]:,} ({requests[1]:.2f} per market minute)")
    if runs:
        table.add_row("exit", runs[0].exit_reason or "")
    table.add_row("database", str(db))
    table.add_row("log", str(log_path))
    table.add_row("wall time", f"{(datetime.now().astimezone() - started).total_seconds():.1f} s")
    console.print(table)
