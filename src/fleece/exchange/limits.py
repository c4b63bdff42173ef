"""Bounds on a request's body, checked before anything parses it or authenticates the caller.

The outermost layer of the served exchange (outside the fault layer, which reads order bodies,
and the app, which parses JSON before its key check runs): a body larger than
:data:`MAX_BODY_BYTES` is refused without being read past the limit, and a JSON body nested deeper
than :data:`MAX_JSON_DEPTH` is refused after a linear scan, never handed to a recursive parser.
Both answers are Alpaca's shape, ``400 {"code": 40010000, "message": ...}``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from fleece.exchange.asgi import HttpLayer, Receive, Scope, Send, read_body, replay_body, send_error

#: An order is a few hundred bytes; nothing the exchange accepts comes near this.
MAX_BODY_BYTES = 64 * 1024
#: Alpaca's deepest bodies (an order's take-profit leg) are two levels deep.
MAX_JSON_DEPTH = 32
# A JSON string (skipped whole, escapes included) or one bracket.
_TOKENS = re.compile(rb'"(?:[^"\\]|\\.)*"?|[\[\]{}]', re.DOTALL)


def json_depth(body: bytes, limit: int) -> int:
    """How deep ``body``'s brackets nest, counting no further than ``limit + 1``."""
    depth = deepest = 0
    for match in _TOKENS.finditer(body):
        token = match.group()
        if token in (b"[", b"{"):
            depth += 1
            deepest = max(deepest, depth)
            if deepest > limit:
                break
        elif token in (b"]", b"}"):
            depth -= 1
    return deepest


@dataclass(eq=False)
class RequestLimits(HttpLayer):
    """ASGI layer refusing over-large or over-deep request bodies before ``app`` sees them.

    Args:
        app: the layers and app behind.
        max_body_bytes: the largest body accepted.
        max_depth: the deepest JSON nesting accepted.
    """

    max_body_bytes: int = MAX_BODY_BYTES
    max_depth: int = MAX_JSON_DEPTH

    async def serve(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one HTTP request: refused, or handed on with its body."""
        too_large = f"request body too large: at most {self.max_body_bytes} bytes"
        if _declared_length(scope) > self.max_body_bytes:
            await _refuse(send, too_large)
            return
        body = await read_body(receive, self.max_body_bytes)
        if body is None:
            await _refuse(send, too_large)
            return
        if body and json_depth(body, self.max_depth) > self.max_depth:
            await _refuse(send, f"request body nested deeper than {self.max_depth} levels")
            return
        await self.app(scope, replay_body(body, receive), send)


def _declared_length(scope: Scope) -> int:
    for name, value in scope.get("headers", ()):
        if name.lower() == b"content-length":
            text = value.strip()[:20]
            return int(text) if text.isdigit() else 0  # a bad header is the server's to refuse
    return 0


async def _refuse(send: Send, message: str) -> None:
    # The unread rest of a refused body is not worth keeping the connection for.
    await send_error(send, 400, message, [(b"connection", b"close")])
