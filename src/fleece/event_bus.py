"""A small in-process event bus: typed events, subscribers called in publish order.

Bars, decisions and fills flow one way through it. Dispatch is sequential (one consumer task), so
the decision core sees events in exactly the order the feed published them — the property that
makes live runs reproducible by the backtest.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable
from typing import Any

log = logging.getLogger(__name__)

Handler = Callable[[Any], Awaitable[None] | None]


class EventBus:
    """Publish/subscribe by event type over an asyncio queue."""

    def __init__(self, maxsize: int = 100_000) -> None:
        self._queue: asyncio.Queue[object] = asyncio.Queue(maxsize)
        self._handlers: defaultdict[type, list[Handler]] = defaultdict(list)
        self.published = 0
        self.handler_errors = 0

    def subscribe(self, event_type: type, handler: Handler) -> None:
        """Call ``handler`` for every published event of ``event_type`` (exact type)."""
        self._handlers[event_type].append(handler)

    async def publish(self, event: object) -> None:
        """Queue ``event``; waits only if the queue is full (back-pressure on the feed)."""
        self.published += 1
        await self._queue.put(event)

    async def join(self) -> None:
        """Wait until every published event has been handled."""
        await self._queue.join()

    async def _dispatch(self, event: object) -> None:
        for handler in self._handlers.get(type(event), []):
            try:
                result = handler(event)
                if inspect.isawaitable(result):
                    await result
            except asyncio.CancelledError:
                raise
            except Exception:
                # One bad event must not kill the bus; the error is logged with its traceback.
                self.handler_errors += 1
                log.exception("event handler failed event=%s", type(event).__name__)

    async def run(self) -> None:
        """Dispatch events forever (run as a supervised task)."""
        while True:
            event = await self._queue.get()
            try:
                await self._dispatch(event)
            finally:
                self._queue.task_done()
