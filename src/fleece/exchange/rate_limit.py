"""Alpaca's rate limit: ``X-RateLimit-*`` headers on every answer, 429 beyond the limit.

Alpaca allows an account 200 requests a minute (per API: trading, market data) and says where it
stands on every answer: ``X-RateLimit-Limit`` (requests a minute), ``X-RateLimit-Remaining``
(left in the current window) and ``X-RateLimit-Reset`` (Unix seconds when the window renews).
A request beyond the limit is answered 429 with the same headers and the body
``{"code": 42910000, "message": "rate limit exceeded"}``, and is not processed.

The exchange counts in fixed windows of one *simulated* minute (the window of a request is the
minute of the simulated now it arrives at; ``Reset`` is that minute's end, in simulated Unix
seconds), so a bot run at 300x real time meets the limit per market minute, as it would live.
The layer sits outside everything else (fault injection included), so every answer carries the
headers and a refused request never reaches the exchange. The admin routes (``/v1/sim/...``)
are neither counted nor limited, and neither is ``GET /v2/clock`` (its answer carries the
headers as they stand): a bot that follows the exchange's simulated time over HTTP (a loopback
``ALPACA_BASE_URL``) reads the clock to know the time, as a bot on Alpaca reads its own clock;
counting those reads would make a spent window hide the very reset the bot waits for.
"""

from __future__ import annotations

import math
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from fleece.calendar import ONE_MINUTE
from fleece.exchange.asgi import ADMIN_PREFIX, HttpLayer, Message, Receive, Scope, Send, send_error
from fleece.rate_budget import RATE_LIMIT_HEADERS

WINDOW_SECONDS = int(ONE_MINUTE.total_seconds())  # Alpaca counts requests a minute
RATE_LIMITED_MESSAGE = "rate limit exceeded"
# ASGI's header names are lower-case bytes.
_ASGI_NAMES = tuple(name.lower().encode() for name in RATE_LIMIT_HEADERS)
#: Answered with the headers but neither counted nor refused (see the module docstring).
UNCOUNTED = frozenset({"/v2/clock"})


def api_of(path: str) -> str:
    """Which API's budget a request path spends: ``data`` or ``trading``."""
    return "data" if path.startswith(("/v2/stocks", "/v1beta")) else "trading"


class RateLimiter:
    """Counts requests per API in fixed windows of one minute of ``now``.

    Args:
        limit: requests allowed per window and API.
        now: the clock the windows follow (the exchange's simulated clock).
    """

    def __init__(self, limit: int, now: Callable[[], datetime]) -> None:
        if limit < 1:
            raise ValueError(f"the rate limit must be at least 1, got {limit}")
        self.limit = limit
        self._now = now
        self._lock = threading.Lock()
        self._windows: dict[str, tuple[int, int]] = {}  # api -> (window index, requests)
        self.refused: Counter[str] = Counter()

    def take(self, api: str) -> tuple[bool, int, int]:
        """Count one request of ``api``: (allowed, remaining, reset in Unix seconds)."""
        window = math.floor(self._now().timestamp() / WINDOW_SECONDS)
        with self._lock:
            current, used = self._windows.get(api, (window, 0))
            if current != window:
                used = 0
            used += 1
            self._windows[api] = (window, used)
            allowed = used <= self.limit
            if not allowed:
                self.refused[api] += 1
        return allowed, max(0, self.limit - used), (window + 1) * WINDOW_SECONDS

    def peek(self, api: str) -> tuple[int, int]:
        """``api``'s remaining requests and reset now, without counting a request."""
        window = math.floor(self._now().timestamp() / WINDOW_SECONDS)
        with self._lock:
            current, used = self._windows.get(api, (window, 0))
        used = used if current == window else 0
        return max(0, self.limit - used), (window + 1) * WINDOW_SECONDS

    def exhaust(self, api: str, at: datetime | None = None) -> None:
        """Spend the rest of ``api``'s window at ``at`` (default: now), as another client of the
        account would."""
        window = math.floor((at or self._now()).timestamp() / WINDOW_SECONDS)
        with self._lock:
            self._windows[api] = (window, self.limit)

    def counts(self) -> dict[str, int]:
        """Requests refused with 429 so far, per API."""
        with self._lock:
            return dict(self.refused)


@dataclass(eq=False)
class RateLimitLayer(HttpLayer):
    """ASGI layer applying a :class:`RateLimiter` in front of ``app``."""

    limiter: RateLimiter

    async def serve(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one HTTP request: counted and answered with the headers, or refused (429)."""
        path = str(scope.get("path", ""))
        if path.startswith(ADMIN_PREFIX):
            await self.app(scope, receive, send)
            return
        if path in UNCOUNTED:
            remaining, reset = self.limiter.peek(api_of(path))
            allowed = True
        else:
            allowed, remaining, reset = self.limiter.take(api_of(path))
        values = (self.limiter.limit, remaining, reset)
        headers = [(n, str(v).encode()) for n, v in zip(_ASGI_NAMES, values, strict=True)]
        if not allowed:
            await send_error(send, 429, RATE_LIMITED_MESSAGE, headers)
            return

        await self.app(scope, receive, _HeaderSend(send, headers))


class _HeaderSend:
    """A ``send`` adding ``headers`` to the answer's start.

    It keeps the server's ``__self__`` visible, so that the fault layer's dropped connection
    still reaches the transport to close.
    """

    def __init__(self, send: Send, headers: list[tuple[bytes, bytes]]) -> None:
        self._send = send
        self._headers = headers
        self.__self__ = getattr(send, "__self__", None)

    async def __call__(self, message: Message) -> None:
        if message.get("type") == "http.response.start":
            message = dict(message)
            message["headers"] = [*message.get("headers", []), *self._headers]
        await self._send(message)
