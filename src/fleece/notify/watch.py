"""Watching the broker: "unreachable for longer than N seconds", and "back".

The broker adapter counts every request and every failed one; between two looks, a request that
succeeded means the broker answers. No success for ``down_after`` real seconds (while requests
failed) is an outage: one :class:`~fleece.notify.events.BrokerDown`, then one
:class:`~fleece.notify.events.BrokerBack` when a request succeeds again. Real time, not the
bot's clock: an outage is felt by the operator in minutes of their day, and a separately run
exchange's clock stands still while it is unreachable.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

from fleece.notify.events import BrokerBack, BrokerDown, Event


class BrokerWatch:
    """Turns the broker's request counters into outage events.

    Args:
        down_after: real seconds without a successful request before an outage is declared.
        monotonic: real time (injected for tests).
    """

    def __init__(self, down_after: float, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._down_after = down_after
        self._monotonic = monotonic
        self._successes = 0
        self._errors: dict[str, int] = {}
        self._last_ok = monotonic()
        self._failing = False
        self._down_since: float | None = None
        self.last_error = ""

    def look(self, requests: Mapping[str, int], errors: Mapping[str, int]) -> Event | None:
        """Compare the counters with the last look; return an event when the outage starts or
        ends, else None."""
        now = self._monotonic()
        successes = sum(requests.values()) - sum(errors.values())
        answered = successes > self._successes
        self._successes = successes
        grown = [k for k, n in errors.items() if n > self._errors.get(k, 0)]
        self._errors = dict(errors)
        if answered:
            self._last_ok, self._failing = now, False
            if self._down_since is not None:
                outage = now - self._down_since
                self._down_since = None
                return BrokerBack(outage)
            return None
        if grown:
            self._failing = True
            self.last_error = grown[-1]
        if self._failing and self._down_since is None and now - self._last_ok >= self._down_after:
            self._down_since = self._last_ok
            return BrokerDown(now - self._last_ok, f"failing call {self.last_error}")
        return None
