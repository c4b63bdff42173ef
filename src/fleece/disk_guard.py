"""The running bot's answer to a store that stops working: HALTED, said once, and no crash loop.

A full disk, an I/O error or damage found while trading makes every later write fail too. Left
alone, each poll cycle would crash, the supervisor would restart it until it gave up, and the
shutdown would crash on its own writes. Instead, the store tells the guard of its first failure
(:attr:`fleece.state_store.StateStore.on_disk_error`) and the guard:

* logs ONE ``ERROR`` line naming the file, the failure and what to do;
* puts the trader in ``HALTED`` (reason ``store_failure``) for the rest of the process's life:
  no new order is sent, because none could be written ahead (an order the store does not know
  of could be sent twice after a restart);
* lets the runtime swallow the failures that follow (:meth:`DiskGuard.quietly`): the polling
  loop keeps running (and pinging systemd's watchdog) without trading, and the shutdown cancels
  open orders at the broker without recording anything.

Nothing committed before the failure is lost: SQLite rolls back only the failing transaction.
After a restart (space freed, disk replaced), reconciliation adopts what the broker did meanwhile.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator

from fleece.store_health import StoreDiskError

log = logging.getLogger(__name__)


class DiskGuard:
    """Trips on the store's first disk failure and keeps the ones after it quiet.

    Args:
        on_trip: called once, with the first failure (the runtime halts the trader).
    """

    def __init__(self, on_trip: Callable[[StoreDiskError], None]) -> None:
        self._on_trip = on_trip
        self.failure: StoreDiskError | None = None
        self.later_failures = 0

    @property
    def tripped(self) -> bool:
        """True once the store has failed in this process."""
        return self.failure is not None

    def __call__(self, failure: StoreDiskError) -> None:
        """The store's hook: the first failure halts trading with one ERROR line."""
        if self.failure is not None:
            self.later_failures += 1
            log.debug("store failure again: %s", failure)
            return
        self.failure = failure
        log.error(
            "store failure: %s; trading HALTED until restart, no new orders (free the disk or "
            "fix the file, then restart the bot)",
            failure,
        )
        self._on_trip(failure)

    @contextlib.contextmanager
    def quietly(self) -> Iterator[None]:
        """Swallow a :class:`StoreDiskError` already reported (anything else passes).

        A failure the guard has not seen (the store's hook not installed yet) is raised.
        """
        try:
            yield
        except StoreDiskError as exc:
            if self.failure is None:
                raise
            log.debug("skipped after the store failure: %s", exc)
