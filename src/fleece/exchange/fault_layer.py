"""The ASGI layer that applies fault injection in front of the built-in exchange's app.

:class:`FaultLayer` asks a :class:`~fleece.exchange.faults.FaultInjector` about each request and
answers as the fault it meets says (the kinds: :mod:`fleece.exchange.fault_plan`): an error
instead of the answer, the answer held or lost, the connection dropped, garbage, or the orders
chosen for ``done_for_day`` shown so while they work.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fleece.exchange.asgi import (
    ASGIApp,
    HttpLayer,
    Message,
    Receive,
    Scope,
    Send,
    read_body,
    replay_body,
    send_answer,
    send_error,
)
from fleece.exchange.fault_plan import BY_CLIENT_ID
from fleece.exchange.faults import ORDERS_PATH, FaultInjector

log = logging.getLogger(__name__)

#: Statuses an order answer shows as ``done_for_day`` for an order chosen for that kind.
_WORKING = frozenset(("new", "partially_filled"))
HTML_PAGE = b"<html><head><title>502 Bad Gateway</title></head><body>bad gateway</body></html>"


@dataclass(eq=False)
class FaultLayer(HttpLayer):
    """ASGI layer applying a :class:`FaultInjector`'s decisions in front of ``app``.

    Args:
        app: the exchange's ASGI app.
        injector: decides and counts.
        before_answer: called (in a worker thread) before any answer to a request that may have
            changed the exchange's state is sent, e.g. to save it; see
            :mod:`fleece.exchange.state_file`.
    """

    injector: FaultInjector
    before_answer: Callable[[str, str], None] | None = None

    async def serve(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one HTTP request, faulty if the injector decides so."""
        method, path = str(scope.get("method", "")), str(scope.get("path", ""))
        raw_send = send  # uvicorn's own: _drop reaches the connection through it
        body: bytes | None = None
        client_order_id: str | None = None
        if method == "POST" and path == ORDERS_PATH:
            body = await read_body(receive) or b""  # no limit: never None
            client_order_id = _client_order_id(body)
            receive = replay_body(body, receive)
        fault = self.injector.decide(method, path, client_order_id)
        if fault is not None:
            log.info(
                "fault injected kind=%s status=%s request=%s %s",
                fault.kind,
                fault.status or "-",
                method,
                path,
            )
        send = self._saving(method, path, send)
        chosen = self.injector.done_for_day_ids()
        if chosen and path.startswith(ORDERS_PATH):
            send = _ShowingDoneForDay(send, chosen)
        kind = fault.kind if fault is not None else None
        if kind is None or kind in BY_CLIENT_ID:
            await self.app(scope, receive, send)
        elif kind == "5xx":
            await send_error(send, fault.status if fault else 500, "injected fault: server error")
        elif kind == "429":
            retry = _seconds_text(self.injector.plan.retry_after_seconds)
            await send_error(send, 429, "rate limit exceeded", [(b"retry-after", retry.encode())])
        elif kind == "reject":
            await send_error(send, 403, "order rejected (injected fault)")
        elif kind == "drop":
            await _drop(raw_send)
        elif kind == "ambiguous":
            await self.app(scope, receive, self._saving(method, path, _swallow))
            await _drop(raw_send)
        elif kind == "slow":
            answer = await _buffered(self.app, scope, receive)
            await asyncio.sleep(self.injector.plan.slow_seconds)
            for message in answer:
                await send(message)
        else:  # garbage
            await self.app(scope, receive, self._saving(method, path, _swallow))
            await _garbage(send, self.injector)

    def _saving(self, method: str, path: str, send: Send) -> Send:
        hook = self.before_answer
        if hook is None:
            return send
        done = False

        async def saving_send(message: Message) -> None:
            nonlocal done
            if not done and message.get("type") == "http.response.start":
                done = True
                # Off the event loop: saving takes the exchange's lock, which a request handler
                # in the thread pool may hold.
                await asyncio.to_thread(hook, method, path)
            await send(message)

        return saving_send


def _client_order_id(body: bytes) -> str | None:
    try:
        parsed = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    value = parsed.get("client_order_id") if isinstance(parsed, dict) else None
    return value if isinstance(value, str) and value else None


def _seconds_text(seconds: float) -> str:
    return str(int(seconds)) if float(seconds).is_integer() else f"{seconds:g}"


class _ShowingDoneForDay:
    """A ``send`` that shows the chosen working orders of an answer as ``done_for_day``."""

    def __init__(self, send: Send, chosen: frozenset[str]) -> None:
        self._send = send
        self._chosen = chosen
        self._start: Message | None = None
        self._chunks: list[bytes] = []
        self.__self__ = getattr(send, "__self__", None)  # the fault layer's drop needs it

    async def __call__(self, message: Message) -> None:
        if message.get("type") == "http.response.start":
            self._start = message
            return
        if message.get("type") != "http.response.body" or self._start is None:
            await self._send(message)
            return
        self._chunks.append(bytes(message.get("body", b"")))
        if message.get("more_body"):
            return
        body = _done_for_day(b"".join(self._chunks), self._chosen)
        headers = [(k, v) for k, v in self._start.get("headers", []) if k != b"content-length"]
        headers.append((b"content-length", str(len(body)).encode()))
        await self._send({**self._start, "headers": headers})
        await self._send({"type": "http.response.body", "body": body})


def _done_for_day(body: bytes, chosen: frozenset[str]) -> bytes:
    try:
        parsed = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return body

    def mark(node: Any) -> Any:
        if isinstance(node, list):
            return [mark(item) for item in node]
        if not isinstance(node, dict):
            return node
        node = {key: mark(value) for key, value in node.items()}
        if node.get("client_order_id") in chosen and node.get("status") in _WORKING:
            node["status"] = "done_for_day"
        return node

    return json.dumps(mark(parsed)).encode()


async def _swallow(message: Message) -> None:
    """A ``send`` that loses the answer (the exchange acted; the client never hears of it)."""


async def _buffered(app: ASGIApp, scope: Scope, receive: Receive) -> list[Message]:
    messages: list[Message] = []

    async def keep(message: Message) -> None:
        messages.append(message)

    await app(scope, receive, keep)
    return messages


async def _drop(send: Send) -> None:
    """Close the client's connection without a byte of answer.

    uvicorn passes its request cycle's bound ``send``; the cycle holds the transport. Closing
    it is what a crashed proxy does. If the server is not uvicorn, a truncated answer (headers
    promising a body that never comes) breaks the connection just as well.
    """
    transport = getattr(getattr(send, "__self__", None), "transport", None)
    if transport is not None and hasattr(transport, "close"):
        transport.close()
        # Let the server see the connection is gone, so it does not report a missing answer.
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        return
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json"), (b"content-length", b"4096")],
        }
    )
    raise ConnectionAbortedError("injected fault: connection dropped")


async def _garbage(send: Send, injector: FaultInjector) -> None:
    html = injector.counts()["requests"] % 2 == 0  # alternate, deterministically
    body = HTML_PAGE if html else b""
    await send_answer(send, 200, body, b"text/html" if html else b"application/json")
