"""Delivery off the trading path: a bounded queue and one worker thread.

:meth:`DeliveryQueue.put` never blocks: a full queue drops the event and counts it
(``fleece_notifications_dropped_total``). The worker thread turns events into messages, batches
fills that arrive together into one message, and delivers each message to every destination,
retrying a failed destination alone with a growing pause; a destination that still fails counts
in ``failed``. A destination that hangs holds up only this thread: the event loop, and with it
every order, never waits for it.

A thread rather than an asyncio task: apprise is synchronous, and a thread keeps even its
slowest call (DNS, TLS, a read timeout) away from the event loop.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from fleece.backoff import backoff_delay
from fleece.notify.destinations import Destination
from fleece.notify.events import Event, FillNotice
from fleece.notify.messages import Message, render, render_fills

log = logging.getLogger(__name__)


def failure_text(exc: Exception, redact: Callable[[str], str]) -> str:
    """Why a destination failed, on one line with every secret masked (its type when the
    error says nothing): in the delivery log and in ``fleece notify test`` alike, since a
    service's error can echo its URL, which holds the webhook's key."""
    return redact(" ".join(str(exc).split()) or type(exc).__name__)


#: Fills collected into one message at most (more start the next message).
MAX_BATCH = 200


class _Stop:
    """The sentinel that tells the worker to finish what is queued and leave."""


_STOP = _Stop()


@dataclass(frozen=True, slots=True)
class DeliveryOptions:
    """How the worker delivers (``notifications`` in ``trading.yaml``)."""

    queue_size: int = 1000
    retries: int = 3
    batch_seconds: float = 2.0
    backoff_seconds: float = 1.0
    # The worker is one thread: a dead destination holds every later message while it waits,
    # so no pause grows past half a minute (10 retries: 181 s, not 1,023 s).
    backoff_cap_seconds: float = 30.0


class DeliveryQueue:
    """The bounded queue and its worker.

    Args:
        destinations: where every message goes.
        options: queue size, retries, fill batching window.
        redact: applied to every title and body before delivery (masks secrets).
        sleep: the pause between retries (injected for tests).
        monotonic: real time, for the batching window.
    """

    def __init__(
        self,
        destinations: Sequence[Destination],
        options: DeliveryOptions,
        redact: Callable[[str], str],
        *,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.destinations = tuple(destinations)
        self.options = options
        self._redact = redact
        self._sleep = sleep
        self._monotonic = monotonic
        self._queue: queue.Queue[Event | _Stop] = queue.Queue(maxsize=options.queue_size)
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.sent = 0
        self.dropped = 0
        self.failed = 0
        self.delivered: list[Message] = []  # the last few, for tests and `fleece notify test`

    @property
    def queued(self) -> int:
        """Events waiting for the worker."""
        return self._queue.qsize()

    def start(self) -> None:
        """Start the worker thread (once)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._work, name="fleece-notify", daemon=True)
            self._thread.start()

    def put(self, event: Event) -> None:
        """Queue ``event``; drop and count it when the queue is full. Never blocks."""
        try:
            self._queue.put_nowait(event)
        except queue.Full:
            with self._lock:
                self.dropped += 1
            log.warning("notification dropped: queue full kind=%s", event.kind)

    def close(self, timeout: float) -> int:
        """Deliver what is queued, waiting at most ``timeout`` real seconds.

        Returns:
            The events not delivered in time (still queued or in flight); 0 when all went.
        """
        if self._thread is None:
            return 0
        # One deadline: a full queue's wait for room and the worker's last deliveries share it
        # (the stop's budget counts `timeout` once, config_bounds.STOP_BUDGET_SECONDS).
        deadline = self._monotonic() + max(timeout, 0.0)
        try:
            self._queue.put(_STOP, timeout=max(timeout, 0.0))
        except queue.Full:
            return self.queued
        self._thread.join(max(deadline - self._monotonic(), 0.0))
        if self._thread.is_alive():
            # A daemon thread: it dies with the process; say what was left behind.
            left = self.queued
            log.warning(
                "notifications not delivered within %.0fs at stop: %d queued (a destination "
                "is not answering)",
                timeout,
                left,
            )
            return max(left, 1)
        return 0

    # ---- the worker -------------------------------------------------------------------------
    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if isinstance(item, _Stop):
                return
            if isinstance(item, FillNotice):
                batch, held = self._collect_fills(item)
                self._deliver(render_fills(batch))
                if held is None:
                    continue
                if isinstance(held, _Stop):
                    return
                item = held
            self._deliver(render(item))

    def _collect_fills(self, first: FillNotice) -> tuple[list[FillNotice], Event | _Stop | None]:
        """Fills arriving within the batching window join ``first``; returns them and the
        first other item met (sent after the batch)."""
        batch = [first]
        deadline = self._monotonic() + self.options.batch_seconds
        while len(batch) < MAX_BATCH:
            remaining = deadline - self._monotonic()
            try:
                item = (
                    self._queue.get(timeout=remaining)
                    if remaining > 0
                    else self._queue.get_nowait()
                )
            except queue.Empty:
                return batch, None
            if not isinstance(item, FillNotice):
                return batch, item
            batch.append(item)
        return batch, None

    def _deliver(self, message: Message) -> None:
        message = Message(self._redact(message.title), self._redact(message.body), message.level)
        pending = list(self.destinations)
        for attempt in range(self.options.retries + 1):
            if attempt:
                self._sleep(
                    backoff_delay(
                        attempt, self.options.backoff_seconds, self.options.backoff_cap_seconds
                    )
                )
            pending = [d for d in pending if not self._try(d, message, attempt)]
            if not pending:
                break
        with self._lock:
            self.failed += len(pending)
            if len(pending) < len(self.destinations):
                self.sent += 1
                self.delivered = [*self.delivered[-49:], message]
        for destination in pending:
            log.warning(
                "notification not delivered destination=%s attempts=%d title=%r",
                destination.label,
                self.options.retries + 1,
                message.title,
            )

    def _try(self, destination: Destination, message: Message, attempt: int) -> bool:
        try:
            ok = destination.deliver(message)
        except Exception as exc:  # a destination's failure must never kill the worker
            log.warning(
                "notification attempt failed destination=%s attempt=%d error=%s",
                destination.label,
                attempt + 1,
                failure_text(exc, self._redact),
            )
            return False
        return ok
