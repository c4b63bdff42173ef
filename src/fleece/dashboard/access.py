"""Who may read the dashboard: the Host check (DNS rebinding) and the token, on every request.

* **Host check, on every loopback bind** (``127.0.0.1``, any ``127.x.y.z``, ``localhost``,
  ``::1``): a request must name a loopback host (``localhost``, a ``127.x.y.z`` address or
  ``[::1]``, any port). A web page on another site whose name an attacker re-points at
  127.0.0.1 (DNS rebinding) sends its own name and gets 400. A non-loopback bind requires the
  token instead (the configuration refuses one without it), since any name may reach it.
* **The token, on every route but a few, when ``DASHBOARD_TOKEN`` is set**: ``Authorization:
  Bearer <token>``, else 401. Deny by default: a route added later is protected without a
  thought. Open without it are only ``/healthz`` (a monitor's probe: up or down and why, no
  figures) and the page's own code, which holds no data and is needed to ask for the token:
  ``/``, ``/static/...`` (script, style, icon) and ``/vendor/plotly.min.js``. Everything with
  data needs it: the JSON API and its schema, ``/metrics``, the controls.
* Tokens are compared in constant time (SHA-256 of both, then :func:`hmac.compare_digest`, so
  not even the length leaks); a refusal waits a quarter second, which slows guessing without
  blocking the event loop. Logs name the client and path, never a token.

Without a token the dashboard is read-only and must be on loopback (see ``config.py``).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging

from pydantic import SecretStr
from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from fleece.paper_lock import is_loopback_host

log = logging.getLogger(__name__)

REJECTED_TOKEN_DELAY_S = 0.25
PUBLIC_PATHS = frozenset({"/", "/healthz", "/vendor/plotly.min.js"})
PUBLIC_PREFIXES = ("/static/",)


def is_public(path: str) -> bool:
    """True for the routes served without the token (the module docstring says why)."""
    return path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)


def host_name(header: str) -> str:
    """The name in a ``Host`` header without its port: ``[::1]:8080`` -> ``::1``."""
    header = header.strip().lower()
    if header.startswith("["):
        inner, bracket, _ = header[1:].partition("]")
        return inner if bracket else ""
    return header.partition(":")[0]


def loopback_host_header(header: str) -> bool:
    """True when a ``Host`` header names a loopback host (any port)."""
    return is_loopback_host(host_name(header))


def digest(value: str) -> bytes:
    """The SHA-256 of a token: what is compared, so that lengths do not leak either."""
    return hashlib.sha256(value.encode("utf-8", errors="surrogateescape")).digest()


def bearer_matches(authorization: str, expected: bytes) -> bool:
    """True when ``authorization`` is ``Bearer <token>`` with the token whose digest is given."""
    scheme, _, given = authorization.strip().partition(" ")
    matches = hmac.compare_digest(digest(given.strip()), expected)
    return matches and scheme.lower() == "bearer"


class AccessGuard:
    """ASGI middleware enforcing the Host check and the token (see the module docstring).

    Args:
        app: the application it guards.
        token: ``DASHBOARD_TOKEN``, or None (no token: reads are open, on loopback only).
        bind_host: the address the dashboard listens on (loopback ones get the Host check).
    """

    def __init__(self, app: ASGIApp, *, token: SecretStr | None, bind_host: str) -> None:
        self.app = app
        self._expected = digest(token.get_secret_value()) if token is not None else None
        self.check_host = is_loopback_host(bind_host.strip("[]"))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        if self.check_host and not loopback_host_header(headers.get("host", "")):
            response = JSONResponse({"detail": "Invalid host header"}, status_code=400)
            await response(scope, receive, send)
            return
        path = str(scope.get("path", ""))
        if self._expected is not None and not is_public(path):
            given = headers.get("authorization")
            if given is None or not bearer_matches(given, self._expected):
                await self._refuse(scope, receive, send, path, wrong=given is not None)
                return
        await self.app(scope, receive, send)

    async def _refuse(
        self, scope: Scope, receive: Receive, send: Send, path: str, *, wrong: bool
    ) -> None:
        client = scope.get("client")
        who = client[0] if client else "unknown"
        if wrong:
            log.warning("dashboard refused a request: wrong token client=%s path=%r", who, path)
        else:
            log.debug("dashboard refused a request: no token client=%s path=%r", who, path)
        await asyncio.sleep(REJECTED_TOKEN_DELAY_S)  # slows guessing; the loop runs on
        response = JSONResponse(
            {"detail": "this dashboard needs its token: Authorization: Bearer <DASHBOARD_TOKEN>"},
            status_code=401,
            headers={"WWW-Authenticate": "Bearer"},
        )
        await response(scope, receive, send)
