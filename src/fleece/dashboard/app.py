"""The dashboard's FastAPI app: the page, the JSON API under ``/api/``, ``/metrics``, ``/healthz``.

Routes are ``async``: in the running bot they execute on the bot's own event loop, between its
tasks, so they read the trader's objects without locks and never race it.

Security (the checks themselves are in :mod:`fleece.dashboard.access`):

* With ``DASHBOARD_TOKEN`` set, every route but ``/healthz`` and the page's own code needs
  ``Authorization: Bearer <DASHBOARD_TOKEN>``, compared in constant time; the page asks for the
  token once and keeps it for the browser tab. Without a token the page is read-only:
  ``POST /api/halt``, ``/api/resume`` and ``/api/flatten`` answer 403.
* On every loopback address (``::1`` included), requests must name a loopback host: a web page
  elsewhere cannot read the API through DNS rebinding.
* Answers carry a strict Content-Security-Policy (scripts from this server only: plotly.js is
  served from the installed ``plotly`` package, so the page works offline) and may not be framed.
  There is no Swagger page (``/api/docs``): FastAPI's loads its code from a CDN, which that
  policy forbids; the schema is at ``/api/openapi.json``.
* No secret is ever part of an answer or a log line.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from importlib import resources
from typing import Annotated, Literal

from fastapi import Depends, FastAPI, HTTPException, Query, Request, Response
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST
from pydantic import SecretStr

# Qualified: the routes name their answers as the API's (api.Status), and view.py builds them.
import fleece.dashboard.schemas as api
from fleece.dashboard.access import AccessGuard, bearer_matches, digest
from fleece.dashboard.metrics import Metrics
from fleece.dashboard.view import DashboardView
from fleece.html_page import plotly_js_path
from fleece.store_health import StoreDiskError

log = logging.getLogger(__name__)

STATIC = resources.files("fleece.dashboard") / "static"


PLOTLY_JS = plotly_js_path()
# Module level: FastAPI resolves the dependency's annotation by name in this module.
BEARER = HTTPBearer(auto_error=False, description="DASHBOARD_TOKEN")
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; connect-src 'self'; frame-ancestors 'none'; "
    "base-uri 'none'; form-action 'none'"
)


def create_app(
    view: DashboardView,
    *,
    token: SecretStr | None,
    host: str = "127.0.0.1",
    metrics: Metrics | None = None,
) -> FastAPI:
    """Build the dashboard app over ``view``.

    Args:
        view: the read model (running bot or stopped store).
        token: ``DASHBOARD_TOKEN``; None makes the page read-only.
        host: the address the app is served on (loopback ones, ``::1`` included, get the Host
            check).
        metrics: the metrics registry; a new one over ``view`` when None.
    """
    metrics = metrics or Metrics(view)
    view.controls_enabled = token is not None
    app = FastAPI(
        title="alpaca-fleece dashboard",
        summary="Status, account, positions, orders, fills, equity and charts of the bot.",
        version="1",
        docs_url=None,  # FastAPI's Swagger UI loads from a CDN: left out (module docstring)
        redoc_url=None,
        openapi_url="/api/openapi.json",
    )
    # Added before the headers middleware, so inside it: its 400s and 401s carry the headers.
    app.add_middleware(AccessGuard, token=token, bind_host=host)
    _install_headers(app)

    @app.exception_handler(StoreDiskError)
    async def store_failed(request: Request, exc: StoreDiskError) -> JSONResponse:
        # The bot has already said it once (its disk guard); each poll of the page must not.
        return JSONResponse({"detail": f"the store cannot be read: {exc.what}"}, status_code=503)

    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")

    @app.get("/", include_in_schema=False)
    async def page() -> HTMLResponse:
        return HTMLResponse((STATIC / "index.html").read_text(encoding="utf-8"))

    @app.get("/vendor/plotly.min.js", include_in_schema=False)
    async def plotly_js() -> FileResponse:
        return FileResponse(
            PLOTLY_JS,
            media_type="text/javascript",
            headers={"Cache-Control": "public, max-age=86400"},
        )

    _api_routes(app, view)
    _control_routes(app, view, token)

    @app.get("/metrics", include_in_schema=False)
    async def prometheus() -> Response:
        return Response(metrics.render(), media_type=CONTENT_TYPE_LATEST)

    @app.get("/healthz", response_model=api.Health, tags=["health"])
    async def healthz() -> JSONResponse:
        """200 when the loop answers, the bot polls and (market open) its data is fresh."""
        health = view.health()
        return JSONResponse(health.model_dump(mode="json"), status_code=200 if health.ok else 503)

    return app


def _api_routes(app: FastAPI, view: DashboardView) -> None:
    @app.get("/api/status", tags=["dashboard"])
    async def status() -> api.Status:
        """Mode, trading state and why, market hours, data freshness, heartbeat."""
        return view.status()

    @app.get("/api/account", tags=["dashboard"])
    async def account() -> api.Account:
        """Equity, today's P&L, trades today and daily loss against the limits."""
        return view.account()

    @app.get("/api/positions", tags=["dashboard"])
    async def positions() -> list[api.PositionOut]:
        """Open positions with unrealised P&L at the last price seen."""
        return view.positions()

    @app.get("/api/orders", tags=["dashboard"])
    async def orders() -> list[api.OrderOut]:
        """Order intents the broker may still act on."""
        return view.orders()

    @app.get("/api/fills", tags=["dashboard"])
    async def fills(limit: Annotated[int, Query(ge=1, le=500)] = 50) -> list[api.FillOut]:
        """The latest fills, newest first."""
        return view.fills(limit)

    @app.get("/api/equity", tags=["dashboard"])
    async def equity(
        range: Annotated[Literal["today", "all"], Query()] = "today",
    ) -> api.EquitySeries:
        """The equity curve of the session shown, or of all time."""
        return view.equity(range)

    @app.get("/api/refusals", tags=["dashboard"])
    async def refusals() -> api.Refusals:
        """Risk refusals by reason, today and in total, and today's latest."""
        return view.refusals()

    @app.get("/api/bars", tags=["dashboard"])
    async def bars(symbol: Annotated[str, Query(max_length=12)]) -> api.BarSeries:
        """One symbol's bars of the session shown, its three SMAs and our fills."""
        wanted = symbol.strip().upper()
        if wanted not in view.config.trading.tickers:
            raise HTTPException(404, f"{wanted!r} is not a configured symbol")
        return view.bars(wanted)


def _control_routes(app: FastAPI, view: DashboardView, token: SecretStr | None) -> None:
    expected = digest(token.get_secret_value()) if token is not None else None

    async def require_token(
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)],
    ) -> None:
        # AccessGuard has checked the token already; this says "read-only" without one, and
        # documents the scheme in the OpenAPI schema.
        if expected is None:
            raise HTTPException(403, "read-only: no DASHBOARD_TOKEN is configured")
        given = f"Bearer {credentials.credentials}" if credentials is not None else ""
        if not bearer_matches(given, expected):
            raise HTTPException(401, "a valid token is required", {"WWW-Authenticate": "Bearer"})

    @app.post("/api/halt", tags=["control"], dependencies=[Depends(require_token)])
    async def halt() -> api.Status:
        """Set the persisted kill switch: no new orders until resumed (needs the token)."""
        return view.set_kill_switch(True)

    @app.post("/api/flatten", tags=["control"], dependencies=[Depends(require_token)])
    async def flatten(request: Request) -> dict[str, str | int]:
        """Close the running bot's positions on its next cycle, like ``fleece flatten``."""
        from fleece.control import commands

        if not view.running:
            raise HTTPException(409, "no bot runs here: flatten goes through the running bot")
        who = f"dashboard {request.client.host if request.client else 'unknown'}"
        asked = commands.request(
            view.store, "flatten", source="dashboard", sender=who, now=view.now()
        )
        record = await commands.await_result(view.store, asked, commands.DEFAULT_WAIT_S, view.now)
        return {
            "id": asked,
            "status": record.status if record else "unknown",
            "outcome": commands.outcome_line(record),
        }

    @app.post("/api/resume", tags=["control"], dependencies=[Depends(require_token)])
    async def resume() -> api.Status:
        """Lift the persisted kill switch (KILL_SWITCH=true in the environment still halts)."""
        return view.set_kill_switch(False)


def _install_headers(app: FastAPI) -> None:
    @app.middleware("http")
    async def headers(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        response.headers["Content-Security-Policy"] = CSP
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        if request.url.path.startswith("/api/") or request.url.path in ("/metrics", "/healthz"):
            response.headers["Cache-Control"] = "no-store"
        return response
