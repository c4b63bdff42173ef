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
* **Trades** are round trips: each exit fill with the position it reduces (entered when the
  position was opened, at its average entry price). A trade's P&L is what that fill realised by
  the one accounting rule (:mod:`fleece.accounting`: average cost, to the cent), so the trades'
  P&L sums to the **realised P&L** of the run, the figure the summary and the dashboard show for
  the same fills. A position still open at the end is one open trade. **Win rate** is the share
  of trades with P&L > 0; **profit factor** gross profit / gross loss; **average win/loss** the
  mean P&L of winners and of losers.
* **Exposure** is the share of minutes with at least one position held.

A figure that is undefined (no trades, no losing trade, a flat curve) is None, never NaN or
infinity, so ``stats.json`` stays standard JSON.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any, TypedDict

import numpy as np

from fleece.accounting import Book
from fleece.backtest.equity import EquityCurve
from fleece.models import Fill

TRADING_DAYS = 252


@dataclass(frozen=True, slots=True)
class RoundTrip:
    """One exit fill and the position it closed part or all of, or a position still open.

    Attributes:
        symbol: the symbol.
        qty: shares (positive; a short's are counted as shares too).
        entry_time: when the position was opened (went from flat to held).
        entry_price: the position's average entry price at the exit.
        exit_time: when the exit filled (None while open).
        exit_price: the exit fill price (None while open).
        pnl_cents: what the exit realised by average cost, in cents (None while open).
        cost_cents: the closed shares' cost basis (the open position's, while open), in cents.
    """

    symbol: str
    qty: int
    entry_time: datetime
    entry_price: float
    exit_time: datetime | None
    exit_price: float | None
    pnl_cents: int | None
    cost_cents: int

    @property
    def return_pct(self) -> float | None:
        """The trade's P&L as a fraction of what its shares cost."""
        if self.pnl_cents is None:
            return None
        return self.pnl_cents / abs(self.cost_cents) if self.cost_cents else None


def round_trips(fills: Sequence[Fill]) -> list[RoundTrip]:
    """Each exit fill as a trade against the position it reduced, by average cost.

    A sale beyond the shares held (of a position opened before these fills) is left out, as
    the summary leaves it out; positions still open at the end are returned with no exit.
    Trades are ordered by entry time, then symbol, then exit time.
    """
    ledger = Book()
    trips: list[RoundTrip] = []
    for fill in sorted(fills, key=lambda f: f.timestamp):
        before = ledger.position(fill.symbol)
        done = ledger.apply(fill)
        if done.closed and before.opened_at is not None:
            trips.append(
                RoundTrip(
                    fill.symbol,
                    done.closed_qty,
                    before.opened_at,
                    float(before.avg_entry),
                    fill.timestamp,
                    fill.price,
                    done.realised_cents,
                    done.closed_cost_cents,
                )
            )
    for symbol, held in ledger.positions.items():
        opened = held.opened_at or fills[0].timestamp  # every held position was opened by a fill
        entry = float(held.avg_entry)
        trips.append(
            RoundTrip(symbol, abs(held.qty), opened, entry, None, None, None, held.cost_cents)
        )
    # Stable: a position's exits stay in time order, and its open remainder comes last.
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
    realised_pnl: float
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
    return returns_of_closes(curve.equity[curve.session_end], float(initial_cents))


def returns_of_closes(closes: np.ndarray, start: float) -> np.ndarray:
    """Returns from one session's closing equity to the next, the first from ``start``."""
    closes = np.asarray(closes, dtype=np.float64)
    if len(closes) == 0:
        return np.zeros(0)
    previous = np.concatenate(([start], closes[:-1]))
    return np.asarray(closes / previous - 1.0)


class ReturnFigures(TypedDict):
    """The return figures of a run, figured the one way (see the module's conventions)."""

    total_return: float
    cagr: float | None
    sharpe: float | None
    sortino: float | None


def return_figures(growth: float, returns: np.ndarray) -> ReturnFigures:
    """Total return, CAGR, Sharpe and Sortino of a ``growth`` factor (final / initial equity)
    earned with the daily ``returns`` (one per session)."""
    return ReturnFigures(
        total_return=growth - 1,
        cagr=cagr_of(growth, len(returns)),
        sharpe=sharpe_ratio(returns),
        sortino=sortino_ratio(returns),
    )


def cagr_of(growth: float, sessions: int) -> float | None:
    """Compound annual growth rate of a ``growth`` factor (final / initial equity) earned over
    ``sessions`` trading sessions; None without sessions or when nothing is left."""
    return growth ** (TRADING_DAYS / sessions) - 1 if sessions and growth > 0 else None


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


def drawdown(equity: np.ndarray) -> np.ndarray:
    """How far below its running peak the equity is at each instant (fractions <= 0): the
    drawdown the report draws and whose deepest point is :func:`max_drawdown`'s."""
    values = np.asarray(equity, dtype=np.float64)
    if len(values) == 0:
        return values
    return np.asarray(values / np.maximum.accumulate(values) - 1.0)


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
    depth = float(np.min(drawdown(values)))
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
        **return_figures(growth, returns),
        max_drawdown=depth,
        max_drawdown_duration_days=duration,
        realised_pnl=sum(closed) / 100,
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
