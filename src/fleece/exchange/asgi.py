"""The ASGI plumbing shared by the layers in front of the exchange's app.

The served exchange is the app inside three layers (:mod:`fleece.exchange.limits`,
:mod:`fleece.exchange.rate_limit`, :mod:`fleece.exchange.fault_layer`). Each handles HTTP
requests only and lets lifespan and any other event through (:class:`HttpLayer`); a layer that
answers itself answers in Alpaca's shape (:func:`send_error`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from dataclasses import dataclass
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
Headers = Iterable[tuple[bytes, bytes]]

#: The exchange's own admin routes (the simulated clock, its state, the fault plan): they are
#: never faulted nor rate limited, since tests and the operator drive the exchange through them.
ADMIN_PREFIX = "/v1/sim/"


@dataclass(eq=False)
class HttpLayer:
    """An ASGI layer in front of ``app``: HTTP requests go to :meth:`serve`, the rest to ``app``.

    Args:
        app: the layers and app behind.
    """

    app: ASGIApp

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one ASGI connection event."""
        if scope.get("type") != "http":
            await self.app(scope, receive, send)
            return
        await self.serve(scope, receive, send)

    async def serve(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one HTTP request (a subclass's work; this one hands it on)."""
        await self.app(scope, receive, send)


async def send_answer(
    send: Send,
    status: int,
    body: bytes,
    content_type: bytes = b"application/json",
    headers: Headers = (),
) -> None:
    """Answer with ``status`` and the whole ``body``, its type and length, then ``headers``."""
    start = [(b"content-type", content_type), (b"content-length", b"%d" % len(body)), *headers]
    await send({"type": "http.response.start", "status": status, "headers": start})
    await send({"type": "http.response.body", "body": body})


async def send_error(send: Send, status: int, message: str, headers: Headers = ()) -> None:
    """Answer ``status`` with Alpaca's error body (its code: the status, then ``10000``)."""
    body = json.dumps({"code": status * 100_000 + 10_000, "message": message}).encode()
    await send_answer(send, status, body, headers=headers)


async def read_body(receive: Receive, limit: float = math.inf) -> bytes | None:
    """The whole request body, or None as soon as it is longer than ``limit`` bytes."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message.get("type") != "http.request":
            break
        chunk = bytes(message.get("body", b""))
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body"):
            break
    return b"".join(chunks)


def replay_body(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that hands ``body`` (already read) to the next layer, then goes on."""
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed
