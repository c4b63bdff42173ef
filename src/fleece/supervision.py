"""Supervised tasks: restarted with backoff when they crash, given up after five in a row."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

# The runtime's own lines, under its name wherever the code lives (operators grep for it).
log = logging.getLogger("fleece.runtime")

# A supervised task that ran this long (real seconds) before crashing was healthy.
HEALTHY_RUN_S = 60.0
MAX_CRASHES = 5


async def supervise(
    name: str,
    factory: Callable[[], Awaitable[None]],
    stopping: asyncio.Event,
    on_crash: Callable[[Exception], None],
) -> None:
    """Run a task; restart it with backoff when it crashes, give up after 5 in a row.

    A run that lasted a while before crashing starts the count again: five crashes spread
    over weeks (a broker outage now and then) are not a crash loop.

    Args:
        name: the task's name in the log.
        factory: starts one run of the task.
        stopping: set when the bot stops (no restart then).
        on_crash: told of each crash (the bot notifies it).
    """
    failures = 0
    while not stopping.is_set():
        started = time.monotonic()
        try:
            await factory()
            return
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if time.monotonic() - started >= HEALTHY_RUN_S:
                failures = 0
            failures += 1
            log.exception("task crashed task=%s failures=%d", name, failures)
            on_crash(exc)
            if failures >= MAX_CRASHES:
                log.error("task %s keeps crashing: stopping the bot", name)
                raise
            await asyncio.sleep(min(2.0**failures * 0.1, 5.0))
