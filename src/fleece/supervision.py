"""Supervised tasks: restarted with backoff when they crash, given up after five in a row; run
until the bot stops (:func:`run_until_stopped`)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence

from fleece.backoff import backoff_delay
from fleece.clock import Clock
from fleece.notify.events import ErrorRaised, EventSink

# The runtime's own lines, under its name wherever the code lives (operators grep for it).
log = logging.getLogger("fleece.runtime")

# A supervised task that ran this long (real seconds) before crashing was healthy.
HEALTHY_RUN_S = 60.0
MAX_CRASHES = 5
# The pause before a restart: 0.2 s after the first crash, doubling, at most 5 s.
RESTART_BASE_S = 0.2
RESTART_CAP_S = 5.0


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
            await asyncio.sleep(backoff_delay(failures, RESTART_BASE_S, RESTART_CAP_S))


def crash_notice(events: EventSink, clock: Clock, name: str) -> Callable[[Exception], None]:
    """What :func:`supervise` tells of each crash of the task ``name``: a notification."""

    def crashed(exc: Exception) -> None:
        what = f"{type(exc).__name__}: {exc}"
        events.emit(ErrorRaised(clock.now(), f"task {name}", what))

    return crashed


async def run_until_stopped(
    tasks: Sequence[asyncio.Task[None]],
    stopping: asyncio.Event,
    drain: Callable[[], Awaitable[None]],
) -> bool:
    """Run ``tasks`` until a stop is asked or one of them ends, then cancel them all.

    When none crashed, ``drain`` runs first (the bars still queued on the bus are decided).
    Returns True when a task crashed.
    """
    stopper = asyncio.create_task(stopping.wait())
    done, _ = await asyncio.wait([*tasks, stopper], return_when=asyncio.FIRST_COMPLETED)
    crashed = [t for t in done if t is not stopper and t.exception() is not None]
    if not crashed:
        await drain()
    for task in [*tasks, stopper]:
        task.cancel()
    await asyncio.gather(*tasks, stopper, return_exceptions=True)
    return bool(crashed)
