"""The running bot's poll: waiting for its clock to reach the poll, then one trading cycle.

Phase 4's polling loop (:class:`PollLoop`, run by :class:`fleece.runtime.Bot`) waits with
:func:`wait_until` and runs :func:`trading_cycle` at each poll: orders, account and bars brought
up to date, the positions' protection swept, the minute's bars published to the core, the due
housekeeping done.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from fleece.broker import Broker
from fleece.broker_clock import BrokerClock
from fleece.clock import Clock, ScaledClock
from fleece.config import DataConfig
from fleece.control.runner import CommandRunner
from fleece.disk_guard import DiskGuard
from fleece.errors import BrokerError
from fleece.event_bus import EventBus
from fleece.housekeeping import Housekeeping
from fleece.kernel import Kernel
from fleece.run_stats import MinuteBars
from fleece.runtime_data import BarFeed
from fleece.runtime_times import next_poll
from fleece.runtime_view import LiveView
from fleece.stream_polling import sleep_until

# The runtime's own lines, under its name wherever the code lives (operators grep for it).
log = logging.getLogger("fleece.runtime")


async def wait_until(
    clock: Clock,
    broker: Broker | None,
    speed: float | None,
    target: datetime,
    stopping: asyncio.Event | None = None,
) -> None:
    """Wait for the bot's clock to reach ``target``, or until ``stopping`` is set (the poll
    loop's wait); without ``stopping``, stopping or not (a rate limit's reset)."""
    if isinstance(clock, BrokerClock):
        assert broker is not None
        await clock.follow(broker, target, stopping)
        return
    if stopping is None:
        await sleep_until(clock, target, speed)
        return
    waiter = asyncio.create_task(sleep_until(clock, target, speed))
    stopper = asyncio.create_task(stopping.wait())
    await asyncio.wait([waiter, stopper], return_when=asyncio.FIRST_COMPLETED)
    waiter.cancel()
    stopper.cancel()


async def trading_cycle(
    bus: EventBus,
    now: datetime,
    *,
    kernel: Kernel,
    feed: BarFeed,
    broker: Broker,
    housekeeping: Housekeeping,
) -> None:
    """Refresh orders, account and bars; publish bars; do due housekeeping."""
    trader = kernel.trader
    if not trader.sessions.covers(now):
        await feed.refresh_calendar()
    trader.breaker_sync()
    try:
        await trader.orders.refresh()
    except BrokerError as exc:
        log.warning("order refresh failed reason=%s", exc)
    grid_bars = await feed.poll()
    market_open = trader.sessions.is_open(now)
    if grid_bars or market_open:
        try:
            trader.account = await broker.account()
            trader.reserved_cash = 0.0
        except BrokerError as exc:
            log.warning("account read failed reason=%s", exc)
    try:
        await kernel.protect(now)  # the positions' protective orders, before the bars
    except BrokerError as exc:
        log.warning("protection sweep failed reason=%s", exc)
    if grid_bars:
        await bus.publish(MinuteBars(tuple(grid_bars)))
        await bus.join()
    await housekeeping.tick(now, market_open)


@dataclass(frozen=True)
class PollLoop:
    """Phase 4's polling loop and what it works with (the running bot's parts): until a stop,
    wait for the next poll, run one cycle there, then the operator commands and the snapshot."""

    clock: Clock
    broker: Broker
    speed: float | None
    data: DataConfig
    disk: DiskGuard
    commands: CommandRunner | None
    view: LiveView
    stopping: asyncio.Event
    stop_at: datetime | None
    sim: Callable[[], ScaledClock | None]  # the in-process exchange's clock, which it holds
    cycle: Callable[[EventBus], Awaitable[None]]  # one poll (the bot's, under its disk guard)
    request_stop: Callable[[str], None]

    async def run(self, bus: EventBus) -> None:
        """Poll until a stop is requested or the stop time is reached."""
        while not self.stopping.is_set():
            now = self.clock.now()
            if self.stop_at is not None and now >= self.stop_at:
                self.request_stop("stop time reached")
                return
            target = next_poll(self.data, now)
            if (sim := self.sim()) is not None:
                # The built-in exchange's market waits at our next poll: each cycle happens at
                # its exact simulated instant however loaded the machine, so a sim run is
                # deterministic and trades as a backtest of the same bars does.
                sim.hold_at(target)
            await wait_until(self.clock, self.broker, self.speed, target, self.stopping)
            if self.stopping.is_set():
                return
            await self.cycle(bus)
            if self.commands is not None and not self.disk.tripped:
                # Operator commands, between two cycles. They are read from and recorded in the
                # store, so none after a store failure, and a failing read only trips the guard.
                with self.disk.quietly():
                    await self.commands.run_pending()
            self.view.publish()
