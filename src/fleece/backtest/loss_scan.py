"""The fast path's watch on the daily loss limit over the minutes it does not poll.

The bot checks its trading state every minute (its heartbeat), and a minute whose equity is at
or below the session's loss line latches REDUCING for the rest of the session, which later
refuses entries. The fast path runs the polling cycle only where a decision can happen, so the
minutes in between are checked here. Between two cycles nothing fills (the fast path polls every
minute while an order is open), so cash and positions are fixed and each skipped minute's equity
follows from the marks, by the exchange's valuation rules (:mod:`fleece.backtest.equity`,
:mod:`fleece.accounting`).

A cheap lower bound (every position at its lowest possible mark of the session) clears almost
every gap. Otherwise the skipped minutes' equity is computed with numpy, and at the first minute
at or below the line the trader's own ``update_state`` runs there, with the account the exchange
reports then, and decides.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING

import numpy as np

from fleece.accounting import cash_flow_cents, cents_of, cents_of_many
from fleece.backtest.data import I64, MarketData
from fleece.backtest.equity import marks
from fleece.minute_grid import MINUTE_S
from fleece.models import to_ticks
from fleece.risk_limits import daily_loss_floor

if TYPE_CHECKING:
    from fleece.backtest.run_view import RunView


def loss_threshold_cents(last_equity_cents: int, max_daily_loss_pct: float) -> int:
    """The highest equity (cents) at which the daily loss limit counts as hit.

    The risk manager compares equity with :func:`~fleece.risk_limits.daily_loss_floor` exactly;
    equity is whole cents, so the floor of that line in cents is the highest equity that hits.
    """
    return math.floor(daily_loss_floor(Decimal(last_equity_cents), max_daily_loss_pct))


class LossScanner:
    """Checks skipped minutes for the daily loss line; see the module docstring.

    Args:
        run: the run whose trader, exchange and fills are watched.
    """

    def __init__(self, run: RunView) -> None:
        self.run = run
        self.market: MarketData = run.market
        self.pct = run.config.limits.max_daily_loss_pct
        # max_daily_loss_pct 1.0: no daily loss stop, so no minute needs a look.
        self.stops = run.config.limits.daily_loss_stop
        self.grid: list[int] = run.grid.tolist()
        self.closes = [int(s.close.timestamp()) for s in run.sessions]
        self.opens = [int(s.open.timestamp()) for s in run.sessions]
        self._fills_seen = 0
        self._cash: int | None = None
        self._lowest: dict[tuple[str, int], int] = {}
        self._thresholds: dict[int, int] = {}
        self._safe: tuple[int, int] | None = None  # (session, fills) whose bound clears the line
        # The instants [open, close] of the session proven safe, for a check without bisection.
        self._safe_span = (0, -1, -1)  # (first instant, last instant, fills)

    def scan(self, last: int, until: int, *, inclusive: bool) -> None:
        """Check the grid minutes after ``last`` and before (or at) ``until``."""
        if not self.stops or not self.run.trader.portfolio.qty:
            return
        lo, hi, fills = self._safe_span
        if lo <= last and until <= hi and fills == len(self.run.fills):
            return  # inside a session whose every minute is already cleared
        grid = self.grid
        a = bisect_right(grid, last)
        b = bisect_right(grid, until) if inclusive else bisect_left(grid, until)
        while a < b:
            k = bisect_left(self.closes, grid[a])  # the session of minute a
            end = min(b, bisect_right(grid, self.closes[k]))
            if self._safe != (k, len(self.run.fills)):
                self._scan_session(k, a, end)
            a = end

    def _scan_session(self, k: int, a: int, b: int) -> None:
        run = self.run
        day = run.sessions[k].day
        held = run.trader.portfolio.qty
        if run.memory.reducing_latch() == day:
            return
        # At the close the exchange has just rolled last_equity to the equity itself.
        if self.grid[b - 1] == self.closes[k]:
            b -= 1
        if a >= b:
            return
        threshold = self._threshold(k)
        cash = self._cash_now()
        if self._lower_bound(k, cash, held) > threshold:
            # Holds until the next fill or session: the gaps of this stretch need no look.
            self._safe = (k, len(run.fills))
            self._safe_span = (self.opens[k], self.closes[k], len(run.fills))
            return
        minutes = run.grid[a:b]
        equity = self._equity(minutes, cash, held)
        for hit in np.flatnonzero(equity <= threshold).tolist():
            run.heartbeat(run.instant(int(minutes[hit])))
            if run.memory.reducing_latch() == day:
                return

    def _cash_now(self) -> int:
        """Cash in cents, kept from the fills by the one accounting rule."""
        if self._cash is None:
            self._cash = self.run.engine.account().cash_cents
            self._fills_seen = len(self.run.fills)
        for fill in self.run.fills[self._fills_seen :]:
            self._cash += cash_flow_cents(fill.side, to_ticks(fill.price), fill.qty)
        self._fills_seen = len(self.run.fills)
        return self._cash

    def _threshold(self, k: int) -> int:
        """Session ``k``'s loss line in cents (its last_equity is fixed all session)."""
        found = self._thresholds.get(k)
        if found is None:
            # The exchange rolls last_equity at each close; past this session's open it holds
            # this session's value, and nothing has filled since (no order is open).
            run = self.run
            if run.engine.now < run.sessions[k].open:
                run.broker.advance_to(run.sessions[k].open)
            last_equity = run.engine.account().last_equity_cents
            found = loss_threshold_cents(last_equity, self.pct)
            self._thresholds[k] = found
        return found

    def _lower_bound(self, k: int, cash: int, held: Mapping[str, int]) -> int:
        total = cash
        for symbol, qty in held.items():
            low = self._lowest_mark(symbol, k)
            fill = self.run.last_fill.get(symbol)
            if fill is not None:
                low = min(low, fill[1])
            total += cents_of(low, qty)  # valuation rises with the mark: still a lower bound
        return total

    def _lowest_mark(self, symbol: str, k: int) -> int:
        """The lowest close that can mark ``symbol`` during session ``k``'s minutes."""
        key = (symbol, k)
        found = self._lowest.get(key)
        if found is None:
            bars = self.market.bars[symbol]
            lo = int(np.searchsorted(bars.ts, self.opens[k] - MINUTE_S, "right")) - 1
            hi = int(np.searchsorted(bars.ts, self.closes[k] - 2 * MINUTE_S, "right"))
            window = bars.close[max(lo, 0) : max(hi, 1)]
            found = int(window.min()) if len(window) else 0
            self._lowest[key] = found
        return found

    def _equity(self, minutes: I64, cash: int, held: Mapping[str, int]) -> I64:
        equity = np.full(len(minutes), cash, dtype=np.int64)
        for symbol, qty in held.items():
            fill_at, fill_ticks = self.run.last_fill.get(symbol, (np.iinfo(np.int64).max, 0))
            mark = marks(self.market.bars[symbol], minutes, fill_at, fill_ticks)
            equity += cents_of_many(mark, np.full(len(minutes), qty, dtype=np.int64))
        return equity
