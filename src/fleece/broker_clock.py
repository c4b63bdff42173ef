"""The clocks of a bot whose time is not the wall clock's.

* :class:`BrokerClock`: a separately running exchange's clock (``fleece exchange``), read from
  its ``/v2/clock``;
* :func:`is_sim_clock`: whether a clock is the in-process exchange's simulated one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from datetime import datetime

from fleece.broker import Broker
from fleece.clock import Clock, ScaledClock
from fleece.errors import BrokerError

# The runtime's own lines, under its name wherever the code lives (operators grep for it).
log = logging.getLogger("fleece.runtime")


class BrokerClock:
    """The clock of a separately running exchange, read from its ``/v2/clock``.

    It never runs ahead of the exchange: ``now`` is the last time read. What it learns is the
    exchange's pace (simulated seconds per real second between the last two reads), so that
    waiting for a moment takes about one read for a running simulation instead of one every
    50 ms; a stepped exchange (pace 0) is simply re-read often, since only its operator moves
    it, and a jump (a skipped night, a step) only makes the next nap short.
    """

    def __init__(self, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._monotonic = monotonic
        self._synced: datetime | None = None
        self._synced_at = 0.0
        self.pace = 0.0

    def now(self) -> datetime:
        if self._synced is None:
            raise RuntimeError("broker clock read before the first sync")
        return self._synced

    def nap_before(self, target: datetime) -> float:
        """Real seconds to wait before reading the clock again on the way to ``target``."""
        if self._synced is None or self.pace <= 0:
            return 0.05
        remaining = (target - self._synced).total_seconds() / self.pace
        return min(max(remaining, 0.05), 5.0)

    async def sync(self, broker: Broker) -> None:
        """Read the broker's time (one request) and the pace since the previous read."""
        stamp = (await broker.clock()).timestamp
        at = self._monotonic()
        if self._synced is not None and at > self._synced_at:
            self.pace = max((stamp - self._synced).total_seconds() / (at - self._synced_at), 0.0)
        if self._synced is None or stamp > self._synced:
            self._synced = stamp
        self._synced_at = at

    async def follow(
        self, broker: Broker, target: datetime, stopping: asyncio.Event | None = None
    ) -> None:
        """Wait until the exchange's clock reaches ``target`` (or ``stopping`` is set).

        With ``stopping`` (the poll loop's wait) a failed read is logged and retried after a
        second: the exchange is down or restarting, its clock stands still meanwhile. Without
        it (a rate limit's reset) failed reads are retried quietly.
        """
        while self.now() < target and not (stopping is not None and stopping.is_set()):
            await asyncio.sleep(self.nap_before(target))
            if stopping is None:
                with contextlib.suppress(BrokerError):
                    await self.sync(broker)
                continue
            try:
                await self.sync(broker)
            except BrokerError as exc:
                log.warning("exchange clock unreachable, waiting reason=%s", exc)
                await asyncio.sleep(1.0)


def is_sim_clock(clock: Clock) -> bool:
    """True when time is simulated (the built-in exchange's clock)."""
    return isinstance(clock, ScaledClock)
