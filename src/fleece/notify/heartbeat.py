"""The dead-man's switch: ``HEARTBEAT_URL`` pinged at every heartbeat, off the trading path.

A healthchecks.io-style service expects a ping every period and alerts when one is missing, so a
bot that died (crash, OOM kill, a machine gone) is noticed in minutes even though it can no
longer say anything itself. On a stop with a non-zero exit code the bot also pings
``<HEARTBEAT_URL>/fail`` (healthchecks.io's "signal failure"), so that one is noticed at once.

Pings run on their own thread: :meth:`HeartbeatPinger.ping` only raises a flag. A ping still in
flight when the next is due is not doubled, and in sim mode (a simulated minute every 0.1 s)
pings are spaced at least :data:`MIN_INTERVAL_S` real seconds apart.
"""

from __future__ import annotations

import logging
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable

log = logging.getLogger(__name__)

TIMEOUT_S = 10.0
MIN_INTERVAL_S = 10.0
USER_AGENT = "alpaca-fleece heartbeat"


def get_url(url: str, timeout: float) -> None:
    """One GET of ``url``; raises on failure (an HTTP error status included)."""
    # Only http(s) URLs reach here (validated at start-up); urlopen follows http redirects only.
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})  # noqa: S310
    with urllib.request.urlopen(request, timeout=timeout) as answer:  # noqa: S310
        answer.read(1024)


class HeartbeatPinger:
    """Pings ``url`` from a worker thread when asked.

    Args:
        url: the ping URL (``HEARTBEAT_URL``).
        get: performs one GET (injected for tests); raises on failure.
        monotonic: real time, for the minimum interval.
        min_interval: real seconds between two pings at least.
    """

    def __init__(
        self,
        url: str,
        *,
        get: Callable[[str, float], None] = get_url,
        monotonic: Callable[[], float] = time.monotonic,
        min_interval: float = MIN_INTERVAL_S,
    ) -> None:
        self._url = url
        self._get = get
        self._monotonic = monotonic
        self._min_interval = min_interval
        self._wanted = threading.Event()
        self._closing = threading.Event()
        self._last: float | None = None
        self._thread: threading.Thread | None = None
        self.ok = 0
        self.failed = 0

    def start(self) -> None:
        """Start the worker thread (once)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._work, name="fleece-heartbeat", daemon=True)
            self._thread.start()

    def ping(self) -> None:
        """Ask for a ping (at most one per ``min_interval``); never blocks."""
        now = self._monotonic()
        if self._last is not None and now - self._last < self._min_interval:
            return
        self._last = now
        self._wanted.set()

    def close(self, failed: bool, timeout: float = TIMEOUT_S) -> None:
        """Stop the worker; on a failed run, signal the failure with one last ping.

        The worker's ping in flight and the ``/fail`` ping share ``timeout``: no ping is sent
        once it is spent (the stop's budget counts it once).
        """
        deadline = self._monotonic() + max(timeout, 0.0)
        self._closing.set()
        self._wanted.set()
        if self._thread is not None:
            self._thread.join(max(timeout, 0.0))
        if failed:
            left = min(deadline - self._monotonic(), TIMEOUT_S)
            if left <= 0:
                log.warning("heartbeat /fail ping not sent: the stop's time for it was spent")
                return
            self._send(self._url.rstrip("/") + "/fail", left)

    def _work(self) -> None:
        while True:
            self._wanted.wait()
            self._wanted.clear()
            if self._closing.is_set():
                return
            self._send(self._url, TIMEOUT_S)

    def _send(self, url: str, timeout: float) -> None:
        try:
            self._get(url, timeout)
        except (OSError, ValueError) as exc:  # URLError, HTTPError and timeouts are OSErrors
            self.failed += 1
            # The URL is a secret (its path is the check's key): never part of the line.
            log.warning("heartbeat ping failed reason=%s", type(exc).__name__)
            return
        self.ok += 1
