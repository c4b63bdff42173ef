"""What the fast paths and the loss scan see of a run (:class:`fleece.backtest.runner.Run`).

The paths are driven by the runner and drive it back (its polling cycle, its heartbeat); typing
them against this protocol rather than the runner's class keeps the import graph one-way:
the runner imports the paths, the paths import only this.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from fleece.models import Bar, Signal

if TYPE_CHECKING:
    from fleece.backtest.data import I64, MarketData
    from fleece.backtest.result import BacktestConfig, Progress, RecordingStore
    from fleece.backtest.sim_broker import SimBroker
    from fleece.calendar import Session
    from fleece.exchange.engine import Engine
    from fleece.minute_grid import Grid
    from fleece.models import Fill
    from fleece.order_manager import OrderManager
    from fleece.strategy.api import Strategy
    from fleece.trader import Trader

Decided = list[tuple[Bar, Signal]]
"""Signals the strategy already gave for a poll's bars, in order (the bar-by-bar path)."""


class RunView(Protocol):
    """The run's objects and steps the paths use (all read-only here)."""

    @property
    def market(self) -> MarketData: ...
    @property
    def config(self) -> BacktestConfig: ...
    @property
    def progress(self) -> Progress | None: ...
    @property
    def grid(self) -> I64: ...
    @property
    def sessions(self) -> list[Session]: ...
    @property
    def minute_grid(self) -> Grid: ...
    @property
    def start_at(self) -> int | None: ...
    @property
    def engine(self) -> Engine: ...
    @property
    def broker(self) -> SimBroker: ...
    @property
    def memory(self) -> RecordingStore: ...
    @property
    def fills(self) -> list[Fill]: ...
    @property
    def last_fill(self) -> dict[str, tuple[int, int]]: ...
    @property
    def orders(self) -> OrderManager: ...
    @property
    def trader(self) -> Trader: ...
    @property
    def strategy(self) -> Strategy: ...

    async def cycle(
        self,
        at: int,
        bars: Sequence[Bar],
        expect: Sequence[bool] | None,
        *,
        decided: Decided | None = None,
    ) -> None:
        """One poll at minute boundary ``at`` (see :meth:`Run.cycle`)."""

    def at(self, seconds: int) -> datetime:
        """Epoch seconds as a UTC instant."""

    def instant(self, at: int) -> datetime:
        """When the bot polls for minute boundary ``at``."""

    def heartbeat(self, now: datetime) -> None:
        """The bot's per-minute state check at ``now``."""

    def _decides(self, at: int) -> bool: ...

    async def _seed(self) -> None: ...
