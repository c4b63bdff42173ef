"""The figures the stop message and the daily summary report, read from the store alone.

Realised P&L follows the one accounting rule (:class:`fleece.accounting.Book`, average cost):
every fill of the store is booked in time order, and only the P&L of the fills inside the period
counts.
"""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime

from fleece.accounting import Book, equity_change
from fleece.calendar import day_bounds
from fleece.models import Fill, Side
from fleece.notify.events import DailySummary, RunFigures
from fleece.read_model import session_start_equity
from fleece.state_store import StateStore


def _realised_between(fills: list[Fill], start: datetime, end: datetime | None) -> float:
    book = Book()
    cents = 0
    for fill in sorted(fills, key=lambda f: f.timestamp):
        done = book.apply(fill)
        if fill.timestamp >= start and (end is None or fill.timestamp < end):
            cents += done.realised_cents
    return cents / 100


def run_figures(store: StateStore, since: datetime, open_positions: int) -> RunFigures:
    """What the run that started at ``since`` (bot clock) did."""
    every_fill = store.fills()
    fills = [f for f in every_fill if f.timestamp >= since]
    curve = store.equity_curve(since)
    buys = sum(1 for f in fills if f.side is Side.BUY)
    return RunFigures(
        orders=sum(1 for i in store.all_intents() if i.created_at >= since),
        fills=len(fills),
        buys=buys,
        sells=len(fills) - buys,
        realised_pnl=_realised_between(every_fill, since, None),
        refusals=store.refusal_counts(since),
        equity_start=curve[0].equity if curve else None,
        equity_end=curve[-1].equity if curve else None,
        open_positions=open_positions,
    )


def daily_summary(
    store: StateStore,
    day: date,
    *,
    equity: float | None,
    positions: int,
    last_equity: float | None = None,
) -> DailySummary:
    """Session ``day``'s figures.

    Args:
        store: the bot's store.
        day: the session.
        equity: the account's equity now (None: the day's last snapshot).
        positions: how many positions are held.
        last_equity: the broker's equity at the previous close, if known: the day's start
            when none was recorded (:func:`fleece.read_model.session_start_equity`).
    """
    start, end = day_bounds(day)
    every_fill = store.fills()
    day_fills = [f for f in every_fill if start <= f.timestamp < end]
    if equity is None:
        curve = [e for e in store.equity_curve(start) if e.timestamp < end]
        equity = curve[-1].equity if curve else None
    start_equity = session_start_equity(store, day, last_equity)
    refusals = Counter(r.reason for r in store.refusals(start) if r.timestamp < end)
    return DailySummary(
        day=day,
        pnl=equity_change(start_equity, equity),
        equity=equity,
        trades=store.trades_submitted(day),
        fills=len(day_fills),
        realised_pnl=_realised_between(every_fill, start, end),
        refusals=dict(refusals),
        positions=positions,
    )
