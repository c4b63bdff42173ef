"""Equity minute by minute, computed from the fills with numpy and the exchange's valuation rules.

The exchange's ledger (:mod:`fleece.exchange.ledger`) values a position at the close of the
symbol's latest closed bar (extended hours included), or at its latest fill price when that fill
is more recent than the bar; cash and values follow the one accounting rule
(:mod:`fleece.accounting`, here its vectorised :func:`~fleece.accounting.cents_of_many`).
Positions only change at fills, so the whole curve follows from the fills and the bars: this
module evaluates it at every minute close of every session at once, to the cent, instead of
asking the ledger 100,000 times. A test holds it equal to the ledger's own answers. The mark
itself is :func:`marks`, which the loss scan (:mod:`fleece.backtest.loss_scan`) values by too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from fleece.accounting import cents_of_many, signed_qty
from fleece.backtest.data import I64, MarketData, SymbolBars
from fleece.calendar import Session
from fleece.minute_grid import MINUTE_S
from fleece.models import Fill, to_ticks


@dataclass(frozen=True, eq=False)
class EquityCurve:
    """Account value at each instant of a grid, in cents.

    Attributes:
        ts: the instants, epoch seconds (every minute close of every session, and each open).
        equity: cash plus positions at market, cents.
        cash: cash, cents.
        positions: number of symbols held.
        session_end: True at each session's close (the daily points of daily statistics).
    """

    ts: I64
    equity: I64
    cash: I64
    positions: I64
    session_end: np.ndarray

    def __len__(self) -> int:
        return len(self.ts)


def session_grid(sessions: Sequence[Session]) -> tuple[I64, np.ndarray]:
    """Every minute boundary of every session, open and close included, and the close flags."""
    parts: list[I64] = []
    ends: list[np.ndarray] = []
    for s in sessions:
        opened = int(s.open.timestamp())
        points = opened + MINUTE_S * np.arange(s.minutes + 1, dtype=np.int64)
        parts.append(points)
        flag = np.zeros(len(points), dtype=np.bool_)
        flag[-1] = True
        ends.append(flag)
    if not parts:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.bool_)
    return np.concatenate(parts), np.concatenate(ends)


def marks(bars: SymbolBars, at: I64, fill_at: I64 | int, fill_ticks: I64 | int) -> I64:
    """The price (ticks) that marks ``bars``' symbol at each instant of ``at``: the ledger's
    rule (:meth:`fleece.exchange.ledger.Ledger.mark`), vectorised.

    The close of the latest bar closed by then (extended hours included), unless the symbol's
    latest fill (at ``fill_at``, price ``fill_ticks``: one for all instants, or one per instant)
    is not after the instant and not older than that bar's end: the fill then prices it, until
    a bar closes after it.
    """
    i = np.searchsorted(bars.ts, at - MINUTE_S, "right") - 1
    closes = bars.close[np.maximum(i, 0)].astype(np.int64)
    ends = np.where(i >= 0, bars.ts[np.maximum(i, 0)] + MINUTE_S, np.iinfo(np.int64).min)
    found: I64 = np.where((fill_at <= at) & (fill_at >= ends), fill_ticks, closes)
    return found


def equity_curve(
    market: MarketData,
    fills: Sequence[Fill],
    cash_cents: int,
    grid: I64,
    session_end: np.ndarray,
) -> EquityCurve:
    """The account at every instant of ``grid``, after every fill at or before it.

    Args:
        market: the bars (marks come from their closes).
        fills: every fill of the run.
        cash_cents: starting cash.
        grid: the instants, epoch seconds, increasing.
        session_end: True where an instant is a session close.
    """
    cash = np.full(len(grid), cash_cents, dtype=np.int64)
    value = np.zeros(len(grid), dtype=np.int64)
    held = np.zeros(len(grid), dtype=np.int64)
    by_symbol: dict[str, list[Fill]] = {}
    for fill in fills:
        by_symbol.setdefault(fill.symbol, []).append(fill)
    for symbol, own in by_symbol.items():
        own.sort(key=lambda f: f.timestamp)
        times = np.array([int(f.timestamp.timestamp()) for f in own], dtype=np.int64)
        signed = np.array([signed_qty(f.side, f.qty) for f in own], dtype=np.int64)
        prices = np.array([to_ticks(f.price) for f in own], dtype=np.int64)
        flows = -cents_of_many(prices, signed)  # a buy (signed > 0) takes cash
        k = np.searchsorted(times, grid, "right") - 1
        done = k >= 0
        kk = np.maximum(k, 0)
        cash += np.where(done, np.cumsum(flows)[kk], 0)
        qty = np.where(done, np.cumsum(signed)[kk], 0)
        last_fill_at = np.where(done, times[kk], np.iinfo(np.int64).max)
        value += cents_of_many(marks(market.bars[symbol], grid, last_fill_at, prices[kk]), qty)
        held += qty != 0
    return EquityCurve(grid, cash + value, cash, held, session_end)
