"""The running bot's poll: waiting for its clock to reach the poll, then one trading cycle.

Phase 4's polling loop (:class:`fleece.runtime.Bot`) waits with :func:`wait_until` and runs
:func:`trading_cycle` at each poll: orders, account and bars brought up to date, the positions'
protection swept, the minute's bars published to the core, the due housekeeping done.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime

from fleece.broker import Broker
from fleece.broker_clock import BrokerClock
from fleece.clock import Clock
from fleece.errors import BrokerError
from fleece.event_bus import EventBus
from fleece.housekeeping import Housekeeping
from fleece.kernel import Kernel
from fleece.run_stats import MinuteBars
from fleece.runtime_data import BarFeed
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
