"""End-of-run summary: orders, fills, realised and unrealised P&L, refusals, where things are.

Read from the store alone, so it describes exactly what was recorded. Realised P&L is the one
accounting rule's (:func:`fleece.accounting.realised_pnl`: average cost, to the cent), the
figure the backtest statistics and the dashboard give for the same fills; unrealised P&L is the
rest of the equity's change.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path

from rich.console import Console
from rich.table import Table

from fleece.accounting import equity_change, realised_pnl
from fleece.models import Side
from fleece.notify.messages import counts_text, money
from fleece.protection import exits_line, fill_reasons, is_protective
from fleece.startup_checks import read_dropped
from fleece.state_store import StateStore


def empty_minutes_line(on_grid: Mapping[str, int], empty: Mapping[str, int]) -> str | None:
    """The share of grid minutes that had no bar, overall and at both ends of liquidity.

    Args:
        on_grid: per symbol, the grid minutes the strategy stepped.
        empty: per symbol, how many of them had no bar (carried).
    """
    shares = {s: empty.get(s, 0) / n for s, n in on_grid.items() if n}
    if not shares:
        return None
    total = sum(on_grid.values())
    overall = sum(empty.get(s, 0) for s in shares) / total
    line = f"{overall:.1%} of {total:,} symbol-minutes had no bar"
    if len(shares) > 1:
        fullest = min(shares, key=lambda s: (shares[s], s))
        thinnest = max(shares, key=lambda s: (shares[s], s))
        line += f" ({fullest} {shares[fullest]:.1%} ... {thinnest} {shares[thinnest]:.1%})"
    return line


def print_summary(
    console: Console,
    db: Path,
    log_path: Path,
    started: datetime,
    requests: tuple[int, float] | None = None,
    *,
    grid: tuple[Mapping[str, int], Mapping[str, int]] | None = None,
) -> None:
    """Print the demo's summary table from the store at ``db``.

    ``requests`` is the run's broker requests and their rate per market minute, when known
    (the store does not keep them); ``grid`` the minute grid's minutes and empty minutes per
    symbol (:func:`empty_minutes_line`).
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
    total = equity_change(first_equity, last_equity) or 0.0
    unrealised = round(total - pnl.realised, 2)
    table = Table(title="alpaca-fleece run summary", show_header=False)
    table.add_column("what", style="bold")
    table.add_column("value")
    statuses: defaultdict[str, int] = defaultdict(int)
    for intent in intents:
        statuses[intent.status] += 1
    buys = sum(1 for f in fills if f.side is Side.BUY)
    table.add_row("orders", f"{len(intents)} ({counts_text(statuses)})")
    table.add_row("fills", f"{len(fills)} ({buys} buys, {len(fills) - buys} sells)")
    exits = fill_reasons(fills, intents)
    if exits or any(is_protective(i.strategy) for i in intents):
        table.add_row("protective exits", exits_line(exits.values()))
    table.add_row("realised P&L", money(pnl.realised, signed=True))
    table.add_row("unrealised P&L", money(unrealised, signed=True))
    if first_equity is not None and last_equity is not None:
        table.add_row("equity", f"{money(first_equity)} -> {money(last_equity)}")
    table.add_row("refusals", counts_text(refusals))
    if dropped:
        table.add_row(
            "symbols dropped", ", ".join(f"{sym} ({why})" for sym, why in dropped.items())
        )
    if requests is not None:
        table.add_row("broker requests", f"{requests[0]:,} ({requests[1]:.2f} per market minute)")
    empty_line = empty_minutes_line(*grid) if grid is not None else None
    if empty_line is not None:
        table.add_row("empty minutes", empty_line)
    if runs:
        table.add_row("exit", runs[0].exit_reason or "")
    table.add_row("database", str(db))
    table.add_row("log", str(log_path))
    table.add_row("wall time", f"{(datetime.now().astimezone() - started).total_seconds():.1f} s")
    console.print(table)
