"""The command log: every operator command is a ``commands`` row, with who sent it.

A command the running bot must execute itself (``flatten``: it sends orders, and only the bot's
own trading session may) is recorded ``pending``; the bot claims it on its next cycle
(``running``) and records the outcome (``done``, ``refused`` or ``failed``). Whoever asked waits
for that outcome; one that gives up first moves the command to ``expired``, atomically, so a
late bot never executes a command nobody waits for any more. Commands the asker can carry out
itself (``halt``, ``resume``, the reports) are recorded with their outcome at once; commands from
a Telegram chat that is not allowed are recorded ``refused``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import datetime

from fleece.state_store import COMMAND_FINAL as FINAL
from fleece.state_store import CommandRecord, StateStore

FLATTEN = "flatten"
#: How long an asker waits for the bot by default: one poll cycle is at most a minute, plus the
#: close-out's broker calls with their retries.
DEFAULT_WAIT_S = 150.0
CHECK_EVERY_S = 0.25
GAVE_UP = "not picked up in time (is the bot running and polling?); nothing was done"


def request(store: StateStore, command: str, *, source: str, sender: str, now: datetime) -> int:
    """Queue ``command`` for the running bot; returns the command's id."""
    return store.add_command(now, source, sender, command)


def give_up(store: StateStore, command_id: int, now: datetime) -> CommandRecord | None:
    """Expire the command if the bot has not claimed it yet; returns it as it now stands."""
    store.set_command_status(command_id, "expired", GAVE_UP, now, was="pending")
    return store.command(command_id)


def wait_for(
    store: StateStore,
    command_id: int,
    timeout: float,
    now: Callable[[], datetime],
    *,
    sleep: Callable[[float], None] = time.sleep,
    monotonic: Callable[[], float] = time.monotonic,
) -> CommandRecord | None:
    """Block until the command has an outcome, or give up after ``timeout`` real seconds."""
    deadline = monotonic() + timeout
    while monotonic() < deadline:
        record = store.command(command_id)
        if record is None or record.status in FINAL:
            return record
        sleep(CHECK_EVERY_S)
    return give_up(store, command_id, now())


async def await_result(
    store: StateStore, command_id: int, timeout: float, now: Callable[[], datetime]
) -> CommandRecord | None:
    """:func:`wait_for` for the event loop (Telegram, the dashboard): never blocks it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        record = store.command(command_id)
        if record is None or record.status in FINAL:
            return record
        await asyncio.sleep(CHECK_EVERY_S)
    return give_up(store, command_id, now())


def outcome_line(record: CommandRecord | None) -> str:
    """The outcome for a person."""
    if record is None:
        return "the command vanished from the store"
    return f"{record.command} #{record.id} {record.status}: {record.result or ''}".rstrip(": ")
