"""The bot's side of Alpaca's rate limit: a budget read from the ``X-RateLimit-*`` headers.

Alpaca answers every request with ``X-RateLimit-Limit`` (requests a minute), ``-Remaining`` (left
in the current window) and ``-Reset`` (Unix seconds when the window renews), and refuses a request
beyond the limit with 429. One :class:`RateBudget` per API client (trading, market data) reads
those headers from every answer (a ``requests`` response hook on the SDK's session, so nothing
of alpaca-py is patched) and, before each request, makes the caller wait when the window is
spent:

* reads wait while ``Remaining`` is at or below a small reserve (:data:`RESERVE`), so that an
  order and the look-up that may follow it always find room;
* orders wait only when nothing remains;
* after a 429, everything waits until ``Reset`` (a ``Retry-After``, when the answer has one, is
  honoured by the caller as well).

Waiting follows the bot's clock (simulated time against the built-in exchange, whose ``Reset`` is
simulated Unix seconds too), through the ``wait_until`` the runtime gives; it is bounded by
:data:`MAX_WAIT` of that clock, so a broken ``Reset`` can never park the bot. Headers that are
missing or unreadable leave the budget unknown: then nothing waits, and the broker adapter's
retries with backoff apply as before.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

log = logging.getLogger(__name__)

#: Alpaca's rate-limit headers, in the order (limit, remaining, reset): the bot reads them here,
#: the built-in exchange (:mod:`fleece.exchange.rate_limit`) sends them.
RATE_LIMIT_HEADERS = (
    "X-RateLimit-Limit",
    "X-RateLimit-Remaining",
    "X-RateLimit-Reset",
)
#: Requests left in a window below which reads wait for the reset (orders do not).
RESERVE = 5
#: The longest wait for a reset, in the bot's clock (Alpaca's windows are a minute).
MAX_WAIT = timedelta(seconds=90)
_MAX_HEADER = 10**12


def _wall_now() -> datetime:
    return datetime.now(UTC)


async def _real_wait(target: datetime) -> None:
    await asyncio.sleep(max(0.0, (target - _wall_now()).total_seconds()))


def _header_int(headers: Any, name: str) -> int | None:
    raw = headers.get(name) if headers is not None else None
    if raw is None:
        return None
    try:
        value = int(str(raw).strip())
    except ValueError:
        return None
    return value if 0 <= value < _MAX_HEADER else None


class RateBudget:
    """One API's request budget, from the headers of its answers.

    Args:
        api: a name for the log lines (``trading``, ``data``).
        now: the bot's clock (whose time ``Reset`` is given in).
        wait_until: waits until an instant of that clock.
        reserve: requests kept back from reads for orders.
    """

    def __init__(
        self,
        api: str,
        *,
        now: Callable[[], datetime] = _wall_now,
        wait_until: Callable[[datetime], Awaitable[None]] = _real_wait,
        reserve: int = RESERVE,
    ) -> None:
        self.api = api
        self._now = now
        self._wait_until = wait_until
        self._reserve = reserve
        self._lock = threading.Lock()
        self.limit: int | None = None
        self.remaining: int | None = None
        self.reset: int | None = None
        self._blocked_until: int | None = None  # a 429 was answered: nothing before this reset
        self.waiting = False  # a request waits for the reset right now
        self.waits = 0
        self.rate_limited = 0

    def observe(self, response: Any, *args: Any, **kwargs: Any) -> Any:
        """Read one answer's headers (a ``requests`` response hook; runs in a worker thread)."""
        headers = getattr(response, "headers", None)
        limit, remaining, reset = (_header_int(headers, name) for name in RATE_LIMIT_HEADERS)
        status = getattr(response, "status_code", None)
        with self._lock:
            if limit is not None and remaining is not None and reset is not None:
                self.limit, self.remaining, self.reset = limit, min(remaining, limit), reset
            if status == 429:
                self.rate_limited += 1
                if reset is not None:
                    self._blocked_until = max(self._blocked_until or 0, reset)
        return response

    @property
    def knows_reset(self) -> bool:
        """True when a 429 told when the window renews (the caller then needs no backoff)."""
        with self._lock:
            return self._blocked_until is not None

    async def turn(self, *, urgent: bool = False) -> None:
        """Wait, if the budget says so, before sending one request (``urgent``: an order)."""
        with self._lock:
            limit, remaining, reset = self.limit, self.remaining, self.reset
            blocked = self._blocked_until
        if blocked is None and (reset is None or limit is None or remaining is None):
            return
        try:
            now = self._now()
        except RuntimeError:  # a clock that cannot tell yet (the broker's, before its first read)
            return
        epoch = now.timestamp()
        if blocked is not None and blocked <= epoch:
            blocked = None
        floor = 0 if urgent or limit is None else min(self._reserve, limit // 4)
        if blocked is not None:
            target_epoch = blocked
        elif reset is not None and remaining is not None and remaining <= floor and reset > epoch:
            target_epoch = reset
        else:
            self._clear(blocked_before=epoch)
            return
        target = min(datetime.fromtimestamp(target_epoch, UTC), now + MAX_WAIT)
        self.waits += 1
        log.warning(
            "rate limit: waiting for the reset api=%s remaining=%s limit=%s reset=%s%s",
            self.api,
            remaining,
            limit,
            target.isoformat(),
            " (after a 429)" if blocked is not None else "",
        )
        self.waiting = True
        try:
            await self._wait_until(target)
        finally:
            self.waiting = False
        self._clear(blocked_before=target_epoch + 1, renewed=target_epoch)

    def _clear(self, *, blocked_before: float, renewed: int | None = None) -> None:
        with self._lock:
            if self._blocked_until is not None and self._blocked_until < blocked_before:
                self._blocked_until = None
            if renewed is not None and self.reset == renewed:
                self.remaining = None  # the window renewed: unknown until the next answer
