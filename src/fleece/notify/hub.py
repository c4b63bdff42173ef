"""The bot's event sink: choose, enrich and queue events; ping the dead-man's switch.

:class:`Notifications` is what the runtime injects into the trader, the order manager and
housekeeping (their ``events``). :meth:`~Notifications.emit` runs on the trading path, so it only
does cheap, bounded work (a filter, the average-cost book that gives an exit its P&L, a
non-blocking ``put``) and never raises; delivery happens on the worker thread of
:class:`~fleece.notify.delivery.DeliveryQueue`.

Every title and body is masked against every configured secret (API keys, tokens, the URLs'
credentials) just before delivery, with the log filter's own rule (:class:`fleece.logs.Redactor`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable

from fleece.accounting import Book
from fleece.config import AppConfig, secret_texts
from fleece.logs import Redactor
from fleece.models import Fill
from fleece.notify.delivery import DeliveryOptions, DeliveryQueue
from fleece.notify.destinations import destinations, split_urls
from fleece.notify.events import Event, EventKind, FillNotice, Level
from fleece.notify.heartbeat import HeartbeatPinger

log = logging.getLogger(__name__)


class Notifications:
    """Filters events by kind and level, queues them for delivery, pings the heartbeat URL.

    Args:
        delivery: the queue to the destinations; None when ``NOTIFY_URLS`` is empty.
        pinger: the heartbeat pinger; None when ``HEARTBEAT_URL`` is empty.
        kinds: the event kinds to send (``notifications.events``).
        min_level: the lowest level sent (``notifications.min_level``).
        flush_seconds: how long :meth:`close` waits for the last messages and pings.
        monotonic: real time, for that wait.
    """

    def __init__(
        self,
        *,
        delivery: DeliveryQueue | None,
        pinger: HeartbeatPinger | None,
        kinds: Iterable[EventKind],
        min_level: Level = Level.INFO,
        flush_seconds: float = 10.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.delivery = delivery
        self.pinger = pinger
        self.kinds = frozenset(kinds)
        self.min_level = min_level
        self.flush_seconds = flush_seconds
        self._monotonic = monotonic
        self._costs = Book()  # the one accounting rule: each exit's P&L by average cost
        self._lock = threading.Lock()
        self.errors = 0

    @classmethod
    def from_config(cls, config: AppConfig) -> Notifications:
        """The hub ``NOTIFY_URLS``, ``HEARTBEAT_URL`` and ``notifications`` describe."""
        s, n = config.settings, config.trading.notifications
        delivery = None
        if s.notify_urls is not None:
            delivery = DeliveryQueue(
                destinations(split_urls(s.notify_urls.get_secret_value())),
                DeliveryOptions(
                    queue_size=n.queue_size, retries=n.retries, batch_seconds=n.fill_batch_seconds
                ),
                Redactor(secret_texts(s)),
            )
        pinger = HeartbeatPinger(s.heartbeat_url.get_secret_value()) if s.heartbeat_url else None
        return cls(
            delivery=delivery,
            pinger=pinger,
            kinds=n.events,
            min_level=Level.named(n.min_level),
            flush_seconds=n.flush_seconds,
        )

    @property
    def enabled(self) -> bool:
        """True when messages go anywhere."""
        return self.delivery is not None

    def seed(self, fills: Iterable[Fill]) -> None:
        """Book the store's earlier fills, so that an exit of a position opened by an earlier
        run gets its P&L."""
        if self.delivery is None:
            return
        with self._lock:
            for fill in sorted(fills, key=lambda f: f.timestamp):
                self._costs.apply(fill)

    def start(self) -> None:
        """Start the delivery and heartbeat threads."""
        if self.delivery is not None:
            self.delivery.start()
            # The count only: a destination's label can hold its webhook id or token.
            log.info("notifications on destinations=%d", len(self.delivery.destinations))
        if self.pinger is not None:
            self.pinger.start()

    def emit(self, event: Event) -> None:
        """Queue ``event`` if it is wanted; returns at once and never raises."""
        if self.delivery is None:
            return
        try:
            if isinstance(event, FillNotice):
                with self._lock:
                    done = self._costs.apply(event.fill)
                    pnl = done.realised_cents / 100 if done.closed else None
                    event = FillNotice(event.fill, pnl)
            if event.kind in self.kinds and event.level >= self.min_level:
                self.delivery.put(event)
        except Exception:  # a notification must never break the trading path
            self.errors += 1
            log.exception("notification could not be queued")

    def beat(self) -> None:
        """The bot's heartbeat: ask the pinger for a ping."""
        if self.pinger is not None:
            self.pinger.ping()

    def close(self, exit_code: int) -> None:
        """Deliver the last messages and stop the pinger, within ``flush_seconds`` in all: the
        pinger (a failed run's ``/fail`` ping) gets what the messages left of it."""
        deadline = self._monotonic() + self.flush_seconds
        if self.delivery is not None:
            self.delivery.close(self.flush_seconds)
        if self.pinger is not None:
            left = max(deadline - self._monotonic(), 0.0)
            self.pinger.close(failed=exit_code != 0, timeout=left)
