"""What the fast paths and the loss scan see of a run, and the polling cycle they drive.

:class:`RunView` declares the run's objects and holds the bot's polling cycle;
:class:`fleece.backtest.runner.Run` builds those objects, buys the starting positions and runs
the exact path. The paths are driven by the runner and drive it back (its polling cycle, its
heartbeat); typing them against this base rather than the runner's class keeps the import
graph one-way: the runner imports the paths, the paths import only this.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from fleece.backtest.signals import CandidateSignals
from fleece.models import Bar, Signal

if TYPE_CHECKING:
    from fleece.backtest.data import I64, MarketData
    from fleece.backtest.result import BacktestConfig, Progress, RecordingStore
    from fleece.backtest.sim_broker import SimBroker
    from fleece.calendar import Session
    from fleece.circuit_breaker import CircuitBreaker
    from fleece.clock import ManualClock
    from fleece.exchange.engine import Engine
    from fleece.kernel import Kernel
    from fleece.minute_grid import Grid
    from fleece.models import Fill
    from fleece.order_manager import OrderManager
    from fleece.strategy.api import Strategy
    from fleece.trader import Trader

Decided = list[tuple[Bar, Signal]]
"""Signals the strategy already gave for a poll's bars, in order (the bar-by-bar path)."""


def epoch_instant(seconds: int) -> datetime:
    """Epoch seconds as a UTC instant."""
    return datetime.fromtimestamp(seconds, UTC)


class RunView(ABC):
    """The run's objects (set by :class:`~fleece.backtest.runner.Run`) and its polling cycle."""

    market: MarketData
    config: BacktestConfig
    progress: Progress | None
    grid: I64
    sessions: list[Session]
    minute_grid: Grid
    start_at: int | None
    clock: ManualClock
    engine: Engine
    broker: SimBroker
    memory: RecordingStore
    breaker: CircuitBreaker
    fills: list[Fill]
    last_fill: dict[str, tuple[int, int]]
    strategy: Strategy
    kernel: Kernel
    orders: OrderManager
    trader: Trader
    stale_after: timedelta
    offset: timedelta
    steps: int

    # ---- the polling cycle (the fast paths and the exact path) ---------------------------------
    async def cycle(
        self,
        at: int,
        bars: Sequence[Bar],
        expect: Sequence[bool] | None,
        *,
        decided: Decided | None = None,
    ) -> None:
        """One poll at minute boundary ``at``: exchange, orders, account, bars, housekeeping.

        The bars go through the kernel's step (the strategy decides in the trader), or, with
        ``expect``, through the candidate strategy of the vectorised path; ``decided`` are
        signals the strategy already gave for these bars (the bar-by-bar fast path asks it
        before polling): they go to the trader's :meth:`~fleece.trader.Trader.act` in order.
        """
        now = self.instant(at)
        self.steps += 1
        self.broker.advance_to(now)
        self.clock.set(now)
        if self.orders.has_open:
            await self.orders.refresh()
        trader = self.trader
        trader.account = self.broker.account_now()
        trader.reserved_cash = 0.0
        await self.kernel.protect(now)  # the live poll's order: account, protection, bars
        signals, tripped = trader.signals, self.breaker.tripped
        if decided is not None:
            for bar, signal in decided:
                await trader.act(bar, signal)
        elif expect is None:
            await self.kernel.step(bars)
        else:
            assert isinstance(self.strategy, CandidateSignals)
            for bar, up in zip(bars, expect, strict=True):
                self.strategy.expect(bar.symbol, bar.timestamp, up)
                await trader.on_bar(bar)
        # The heartbeat's state check. A signal already ran it this cycle with this very account
        # (the trader's first step on a signal), so it would only repeat itself, unless an order
        # failure tripped the breaker since.
        if trader.signals == signals or self.breaker.tripped != tripped:
            trader.update_state(now)
        if self.orders.has_open and trader.sessions.is_open(now):
            await self.orders.cancels.cancel_stale(self.stale_after)

    at = staticmethod(epoch_instant)

    def instant(self, at: int) -> datetime:
        """When the bot polls for minute boundary ``at``: ``poll_offset_seconds`` after it."""
        return epoch_instant(at) + self.offset

    def heartbeat(self, now: datetime) -> None:
        """The bot's per-minute state check at ``now``, on the account read then."""
        self.broker.advance_to(now)
        self.clock.set(now)
        self.trader.account = self.broker.account_now()
        self.trader.reserved_cash = 0.0
        self.trader.update_state(now)

    def _decides(self, at: int) -> bool:
        return self.start_at is None or at > self.start_at

    @abstractmethod
    async def _seed(self) -> None:
        """Buy the starting positions (see :meth:`fleece.backtest.runner.Run._seed`)."""
