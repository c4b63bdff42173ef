"""The FastAPI app of the built-in exchange: auth, Alpaca-shaped errors, the admin routes.

Every route (trading, market data and the ``/v1/sim`` admin routes) needs the configured
``APCA-API-KEY-ID`` and ``APCA-API-SECRET-KEY`` headers, compared in constant time. Every error,
including FastAPI's own validation errors and unknown routes, answers ``{"code", "message"}``.
Keys are never logged or echoed.
"""

from __future__ import annotations

import hmac
from datetime import timedelta
from typing import Any

from fastapi import Body, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from fleece.errors import ConfigError
from fleece.exchange.asgi import ADMIN_PREFIX
from fleece.exchange.data_api import data_router
from fleece.exchange.fault_plan import plan_from_json
from fleece.exchange.faults import FaultInjector
from fleece.exchange.orders import (
    CODE_UNAUTHORIZED,
    CODE_UNPROCESSABLE,
    ExchangeError,
)
from fleece.exchange.schemas import error_body
from fleece.exchange.sim import SimExchange
from fleece.exchange.trading_api import trading_router
from fleece.models import CODE_INVALID_ORDER

#: One step of the stepped clock at most: a year (the calendar ends a year or so ahead anyway).
MAX_ADVANCE_MINUTES = 366 * 24 * 60
CODE_SERVER_ERROR = 50010000


class AdvanceRequest(BaseModel):
    """Body of ``POST /v1/sim/advance``."""

    minutes: float = Field(ge=0, le=MAX_ADVANCE_MINUTES, allow_inf_nan=False)


def _same(given: str | None, expected: bytes) -> bool:
    return hmac.compare_digest((given or "").encode(), expected)


def create_app(
    exchange: SimExchange, key: str, secret: str, faults: FaultInjector | None = None
) -> FastAPI:
    """The exchange's HTTP app.

    Args:
        exchange: the simulated exchange to serve.
        key: the API key id clients must send.
        secret: the API secret clients must send.
        faults: the fault injector whose plan ``/v1/sim/faults`` shows and changes (the
            injection itself is an ASGI layer around this app: :mod:`fleece.exchange.fault_layer`).
    """
    if not key or not secret:
        raise ValueError("the exchange needs a non-empty key and secret")
    key_bytes, secret_bytes = key.encode(), secret.encode()

    def guard(request: Request) -> None:
        route = request.scope.get("route")
        # Counted by route, so made-up paths cannot grow the counters (or the state file).
        exchange.count_request(f"{request.method} {getattr(route, 'path', '(no route)')}")
        # Both comparisons always run, so timing says nothing about which one failed.
        key_ok = _same(request.headers.get("APCA-API-KEY-ID"), key_bytes)
        secret_ok = _same(request.headers.get("APCA-API-SECRET-KEY"), secret_bytes)
        if not (key_ok & secret_ok):
            raise ExchangeError(401, CODE_UNAUTHORIZED, "request is not authorized")

    app = FastAPI(
        title="alpaca-fleece built-in exchange",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        dependencies=[Depends(guard)],
    )
    app.include_router(trading_router(exchange))
    app.include_router(data_router(exchange))

    @app.post(f"{ADMIN_PREFIX}advance")
    def advance(body: AdvanceRequest) -> dict[str, Any]:
        with exchange.synced() as now:
            target = now + timedelta(minutes=body.minutes)
            try:  # past its calendar's last session the market cannot be simulated
                exchange.calendar.next_open(target)
            except (ValueError, LookupError):
                message = "minutes: the simulated clock would pass the market calendar's end"
                raise ExchangeError(422, CODE_UNPROCESSABLE, message) from None
            exchange.advance(body.minutes)
        return exchange.state()

    @app.get(f"{ADMIN_PREFIX}state")
    def state() -> dict[str, Any]:
        return exchange.state()

    if faults is not None:
        _fault_routes(app, faults)
    _install_error_handlers(app)
    return app


def _fault_routes(app: FastAPI, faults: FaultInjector) -> None:
    @app.get(f"{ADMIN_PREFIX}faults")
    def get_faults() -> dict[str, Any]:
        return faults.counts()

    @app.post(f"{ADMIN_PREFIX}faults")
    def set_faults(body: dict[str, Any] = Body(...)) -> dict[str, Any]:  # noqa: B008
        try:
            faults.configure(plan_from_json(body, faults.plan))
        except ConfigError as exc:
            raise ExchangeError(422, CODE_UNPROCESSABLE, f"{exc.key}: {exc.reason}") from None
        return faults.counts()


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ExchangeError)
    def refused(_: Request, exc: ExchangeError) -> JSONResponse:
        return JSONResponse(error_body(exc.code, exc.message), status_code=exc.status)

    @app.exception_handler(RequestValidationError)
    def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        code = (
            CODE_UNPROCESSABLE if request.url.path.startswith("/v2/stocks") else CODE_INVALID_ORDER
        )
        return JSONResponse(error_body(code, _first_problem(exc)), status_code=422)

    @app.exception_handler(Exception)
    def failed(_: Request, exc: Exception) -> JSONResponse:
        # A bug, never the client's input: still Alpaca's shape, never a plain-text traceback
        # (the traceback goes to the server's log).
        return JSONResponse(error_body(CODE_SERVER_ERROR, "internal server error"), 500)

    @app.exception_handler(StarletteHTTPException)
    def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        # Alpaca's codes are the status followed by five digits, e.g. 40410000.
        message = str(exc.detail).lower()
        return JSONResponse(
            error_body(exc.status_code * 100_000 + 10_000, message), exc.status_code
        )


def _first_problem(exc: RequestValidationError) -> str:
    errors = exc.errors()
    if not errors:
        return "invalid request"
    first = errors[0]
    where = ".".join(str(part) for part in first.get("loc", ()) if part not in ("body", "query"))
    return f"{where}: {first.get('msg', 'invalid')}" if where else str(first.get("msg", "invalid"))
