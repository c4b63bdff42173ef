"""The running bot's side of the command log: execute queued commands once per cycle.

Called from the poll loop between two cycles, so a close-out never interleaves with a bar's
decision. Every ``flatten`` pending at that moment shares one close-out (a second one right
after would cancel the first one's closing orders).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from fleece.clock import Clock
from fleece.closing import CloseOutcome
from fleece.control.commands import FLATTEN
from fleece.errors import BrokerError
from fleece.state_store import StateStore

log = logging.getLogger(__name__)
LEFT_OVER = "sent while no bot was polling; expired at start-up, nothing was done"


class CommandRunner:
    """Claims and executes pending commands.

    Args:
        store: the bot's store.
        clock: the bot's clock.
        flatten: closes the bot's positions (the shutdown's close-out routine).
    """

    def __init__(
        self,
        store: StateStore,
        clock: Clock,
        flatten: Callable[[], Awaitable[CloseOutcome]],
    ) -> None:
        self._store = store
        self._clock = clock
        self._flatten = flatten

    def expire_left_overs(self) -> int:
        """At start-up: commands queued before this run are stale, never executed late."""
        now = self._clock.now()
        expired = 0
        for record in self._store.commands("pending"):
            expired += self._store.set_command_status(
                record.id, "expired", LEFT_OVER, now, was="pending"
            )
        if expired:
            log.warning("expired %d commands queued before this start", expired)
        return expired

    async def run_pending(self) -> int:
        """Execute what is pending; returns how many commands were handled."""
        pending = self._store.commands("pending")
        if not pending:
            return 0
        now = self._clock.now()
        claimed = [
            r
            for r in pending
            if self._store.set_command_status(r.id, "running", None, now, was="pending")
        ]
        flattens = [r for r in claimed if r.command == FLATTEN]
        for record in claimed:
            if record.command != FLATTEN:
                self._store.set_command_status(
                    record.id, "failed", "unknown command", now, was="running"
                )
        if flattens:
            status, result = await self._run_flatten()
            for record in flattens:
                self._store.set_command_status(
                    record.id, status, result, self._clock.now(), was="running"
                )
                log.warning(
                    "command flatten #%d from %s %s: %s %s",
                    record.id,
                    record.source,
                    record.sender,
                    status,
                    result,
                )
        return len(claimed)

    async def _run_flatten(self) -> tuple[str, str]:
        try:
            outcome = await self._flatten()
        except BrokerError as exc:
            return "failed", f"broker error: {exc}"
        return ("refused" if outcome.kept else "done"), outcome.line()
