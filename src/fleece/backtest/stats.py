"""Performance statistics of a backtest, by plainly tested code.

Conventions (those of empyrical / quantstats, stated here so that every figure can be checked by
hand):

* **Daily returns** come from the equity at each session's close, the first one measured from
  the starting cash: ``r_i = E_i / E_{i-1} - 1``.
* **Total return** ``E_end / E_0 - 1``; **CAGR** ``(E_end / E_0) ** (252 / sessions) - 1``.
* **Sharpe** ``mean(r) / std(r, ddof=1) * sqrt(252)`` (risk-free rate 0).
* **Sortino** ``mean(r) / downside * sqrt(252)`` with ``downside = sqrt(mean(min(r, 0) ** 2))``
  over all days.
* **Max drawdown** on the minute-by-minute equity: ``min(E / running_max(E) - 1)``; its
  **duration** is the longest time from a peak until equity first gets back to that peak (or the
  end of the run, when it never does).
* **Trades** are round trips (an entry fill and the exit fill that closes it, matched first in,
  first out); a trade's P&L is the cash it returned, to the cent. **Win rate** is the share of
  trades with P&L > 0; **profit factor** gross profit / gross loss; **average win/loss** the mean
  P&L of winners and of losers.
* **Exposure** is the share of minutes with at least one position held.

A figure that is undefined (no trades, no losing trade, a flat curve) is None, never NaN or
infinity, so ``stats.json`` stays standard JSON.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np

from fleece.backtest.equity import EquityCurve
from fleece.models import Fill, Side, to_ticks

TRADING_DAYS = 252


@dataclass(frozen=True, slots=True)
class RoundTrip:
    """One closed (or still open) long trade.

    Attributes:
        symbol: the symbol.
        qty: shares.
        entry_time: when the entry filled.
        entry_price: the entry fill price.
        exit_time: when the exit filled (None while open).
        exit_price: the exit fill price (None while open).
        pnl_cents: cash returned minus cash paid, in cents (None while open).
    """

    symbol: str
    qty: int
    entry_time: datetime
    entry_price: float
    exit_time: datetime | None
    exit_price: float | None
    pnl_cents: int | None

    @property
    def return_pct(self) -> float | None:
        """The trade's P&L as a fraction of what it cost."""
        if self.pnl_cents is None:
            return None
        cost = _cents(to_ticks(self.entry_price), self.qty)
        return self.pnl_cents / cost if cost else None


def _cents(ticks: int, qty: int) -> int:
    # The exchange's rule: qty * price rounded half up to the cent.
    return (ticks * qty + 50) // 100


def round_trips(fills: Sequence[Fill]) -> list[RoundTrip]:
    """Match each symbol's sells to its earlier buys, first in, first out.

    A sell that closes part of a lot splits it; lots still open at the end are returned with
    no exit. Trades are ordered by entry time, then symbol.
    """
    lots: dict[str, deque[list[Any]]] = {}
    trips: list[RoundTrip] = []
    for fill in sorted(fills, key=lambda f: f.timestamp):
        queue = lots.setdefault(fill.symbol, deque())
        if fill.side is Side.BUY:
            queue.append([fill.qty, fill.timestamp, fill.price])
            continue
        left = fill.qty
        while left > 0 and queue:
            lot = queue[0]
            qty = min(left, lot[0])
            pnl = _cents(to_ticks(fill.price), qty) - _cents(to_ticks(lot[2]), qty)
            trips.append(
                RoundTrip(fill.symbol, qty, lot[1], lot[2], fill.timestamp, fill.price, pnl)
            )
            lot[0] -= qty
            left -= qty
            if lot[0] == 0:
                queue.popleft()
    for symbol, queue in lots.items():
        for qty, when, price in queue:
            trips.append(RoundTrip(symbol, qty, when, price, None, None, None))
    trips.sort(key=lambda t: (t.entry_time, t.symbol))
    return trips


@dataclass(frozen=True, slots=True)
class Stats:
    """The headline figures of a run (fractions, not percentages; money in dollars)."""

    start: str | None
    end: str | None
    sessions: int
    initial_equity: float
    final_equity: float
    total_return: float
    cagr: float | None
    sharpe: float | None
    sortino: float | None
    max_drawdown: float
    max_drawdown_duration_days: float
    win_rate: float | None
    profit_factor: float | None
    avg_win: float | None
    avg_loss: float | None
    trades: int
    open_trades: int
    fills: int
    exposure: float

    def to_dict(self) -> dict[str, Any]:
        """The figures as a JSON-ready dict."""
        return asdict(self)


def daily_returns(curve: EquityCurve, initial_cents: int) -> np.ndarray:
    """Returns from one session close to the next, the first from the starting cash."""
    closes = curve.equity[curve.session_end].astype(np.float64)
    if len(closes) == 0:
        return np.zeros(0)
    previous = np.concatenate(([float(initial_cents)], closes[:-1]))
    return np.asarray(closes / previous - 1.0)


def sharpe_ratio(returns: np.ndarray) -> float | None:
    """Annualised Sharpe ratio of daily returns (None with fewer than 2 or no variation)."""
    if len(returns) < 2:
        return None
    sd = float(np.std(returns, ddof=1))
    return float(np.mean(returns)) / sd * math.sqrt(TRADING_DAYS) if sd > 0 else None


def sortino_ratio(returns: np.ndarray) -> float | None:
    """Annualised Sortino ratio of daily returns (None when there is no down day)."""
    if len(returns) == 0:
        return None
    downside = math.sqrt(float(np.mean(np.minimum(returns, 0.0) ** 2)))
    return float(np.mean(returns)) / downside * math.sqrt(TRADING_DAYS) if downside > 0 else None


def max_drawdown(ts: np.ndarray, equity: np.ndarray) -> tuple[float, float]:
    """The deepest drawdown (a fraction <= 0) and the longest underwater spell, in days.

    Args:
        ts: instants, epoch seconds, increasing.
        equity: equity at those instants (any unit).
    """
    if len(equity) == 0:
        return 0.0, 0.0
    values = equity.astype(np.float64)
    peaks = np.maximum.accumulate(values)
    depth = float(np.min(values / peaks - 1.0))
    # A spell starts at a peak and lasts until equity is back at (or above) that peak; two
    # peaks in a row (nothing underwater between them) are no spell at all.
    peak_at = np.flatnonzero(values >= peaks)
    gaps = np.diff(peak_at) > 1
    spells = (ts[peak_at[1:]] - ts[peak_at[:-1]])[gaps]
    if peak_at[-1] != len(values) - 1:  # still underwater at the end
        spells = np.append(spells, ts[-1] - ts[peak_at[-1]])
    longest = float(np.max(spells)) if len(spells) else 0.0
    return depth, longest / 86_400


def compute_stats(curve: EquityCurve, fills: Sequence[Fill], initial_cents: int) -> Stats:
    """Every figure of :class:`Stats` for one run.

    Args:
        curve: the minute-by-minute account.
        fills: every fill of the run.
        initial_cents: the starting cash.
    """
    sessions = int(curve.session_end.sum())
    final = int(curve.equity[-1]) if len(curve) else initial_cents
    growth = final / initial_cents
    returns = daily_returns(curve, initial_cents)
    depth, duration = max_drawdown(curve.ts, curve.equity)
    trips = round_trips(fills)
    closed = [t.pnl_cents for t in trips if t.pnl_cents is not None]
    wins = [p for p in closed if p > 0]
    losses = [p for p in closed if p < 0]
    return Stats(
        start=_iso(int(curve.ts[0])) if len(curve) else None,
        end=_iso(int(curve.ts[-1])) if len(curve) else None,
        sessions=sessions,
        initial_equity=initial_cents / 100,
        final_equity=final / 100,
        total_return=growth - 1,
        cagr=growth ** (TRADING_DAYS / sessions) - 1 if sessions and growth > 0 else None,
        sharpe=sharpe_ratio(returns),
        sortino=sortino_ratio(returns),
        max_drawdown=depth,
        max_drawdown_duration_days=duration,
        win_rate=len(wins) / len(closed) if closed else None,
        profit_factor=sum(wins) / -sum(losses) if losses else None,
        avg_win=sum(wins) / len(wins) / 100 if wins else None,
        avg_loss=sum(losses) / len(losses) / 100 if losses else None,
        trades=len(closed),
        open_trades=len(trips) - len(closed),
        fills=len(fills),
        exposure=float(np.mean(curve.positions > 0)) if len(curve) else 0.0,
    )


def _iso(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat().replace("+00:00", "Z")
