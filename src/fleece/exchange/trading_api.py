"""Trading API v2 routes: account, orders, positions, clock, calendar, assets."""

from __future__ import annotations

import itertools
from datetime import date, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Response
from fastapi.responses import JSONResponse

from fleece.calendar import session_date
from fleece.exchange.ledger import PositionView
from fleece.exchange.order_body import order_request, replace_request, whole_qty
from fleece.exchange.order_classes import LISTINGS, listed
from fleece.exchange.orders import (
    ExchangeError,
    SimOrder,
    asset_id,
    invalid,
    not_found,
)
from fleece.exchange.params import (
    RawQuery,
    parse_bool,
    parse_day,
    parse_decimal,
    parse_time,
    shown,
)
from fleece.exchange.schemas import (
    ORDER_REQUEST_BODY,
    account_json,
    asset_json,
    calendar_json,
    clock_json,
    error_body,
    order_json,
    position_json,
)
from fleece.exchange.sim import SimExchange
from fleece.models import CODE_INVALID_ORDER, MAX_ORDERS_LISTED


class OrdersQuery(RawQuery):
    """The query of an order listing, checked by :func:`_select_orders`."""

    status: str | None = None
    limit: str | None = None
    after: str | None = None
    until: str | None = None
    direction: str | None = None
    symbols: str | None = None
    side: str | None = None
    nested: str | None = None


def _select_orders(
    orders: list[SimOrder],
    params: dict[str, str],
    code: int = CODE_INVALID_ORDER,
    legs: dict[str, list[SimOrder]] | None = None,
) -> list[SimOrder]:
    """The orders a listing answers. ``legs`` (nested listings): each primary order's legs,
    which are then not listed on their own; a primary order matches a status when it or one of
    its legs does (a bracket whose entry filled is open while its exit legs work)."""
    status = params.get("status", "open")
    if status not in LISTINGS:
        raise invalid(f"status must be open, closed or all; got {shown(status)}")
    if legs is not None:
        orders = [o for o in orders if o.parent_id is None]
    orders = [o for o in orders if listed(status, o, (legs or {}).get(o.id, ()))]
    if "after" in params:
        after = parse_time(params["after"], "after", code)
        orders = [o for o in orders if o.submitted_at > after]
    if "until" in params:
        until = parse_time(params["until"], "until", code)
        orders = [o for o in orders if o.submitted_at < until]
    if params.get("symbols"):
        wanted = {s.strip().upper() for s in params["symbols"].split(",")}
        orders = [o for o in orders if o.symbol in wanted]
    if "side" in params:
        orders = [o for o in orders if o.side.value == params["side"]]
    direction = params.get("direction", "desc")
    if direction not in {"asc", "desc"}:
        raise invalid(f"direction must be asc or desc; got {shown(direction)}")
    limit = _int_param(params.get("limit", "50"), "limit", 1, MAX_ORDERS_LISTED)
    ordered = orders if direction == "asc" else orders[::-1]
    return ordered[:limit]


def _int_param(value: str, name: str, low: int, high: int) -> int:
    try:
        number = int(value)
    except ValueError:
        raise invalid(f"{name} must be an integer; got {shown(value)}") from None
    if not low <= number <= high:
        raise invalid(f"{name} must be between {low} and {high}")
    return number


def trading_router(exchange: SimExchange) -> APIRouter:
    """The Trading API routes over ``exchange``."""
    router = APIRouter()
    _account_routes(router, exchange)
    _order_routes(router, exchange)
    _position_routes(router, exchange)
    _market_routes(router, exchange)
    return router


def _symbol_of(exchange: SimExchange, symbol_or_asset_id: str) -> str:
    wanted = symbol_or_asset_id.upper()
    for symbol in exchange.store.symbols:
        if wanted in (symbol, asset_id(symbol).upper()):
            return symbol
    return wanted


def _account_routes(router: APIRouter, exchange: SimExchange) -> None:
    engine = exchange.engine

    @router.get("/v2/account")
    def get_account() -> JSONResponse:
        with exchange.synced() as now:
            view = engine.account()
        body = account_json(
            view,
            account_id=exchange.account_id,
            account_number=exchange.account_number,
            created_at=exchange.created_at,
            now=now,
        )
        return JSONResponse(body)


def _order_routes(router: APIRouter, exchange: SimExchange) -> None:
    engine = exchange.engine

    def shown(order: SimOrder) -> dict[str, Any]:
        # A single order comes with its legs (a bracket's, an OCO's), as Alpaca answers it.
        return order_json(order, engine.legs_of(order))

    @router.post("/v2/orders", openapi_extra={"requestBody": ORDER_REQUEST_BODY})
    def post_order(body: dict[str, Any] = Body(...)) -> JSONResponse:  # noqa: B008
        request = order_request(body)
        with exchange.synced():
            return JSONResponse(shown(exchange.submit(request)))

    @router.get("/v2/orders")
    def get_orders(query: Annotated[OrdersQuery, Query()]) -> JSONResponse:
        params = query.model_dump(exclude_none=True, exclude={"nested"})
        with exchange.synced():
            everything = list(engine.orders())
            if parse_bool(query.nested):
                legs = {o.id: engine.legs_of(o) for o in everything if o.legs}
                selected = _select_orders(everything, params, legs=legs)
                body = [order_json(o, legs.get(o.id)) for o in selected]
            else:
                body = [order_json(o) for o in _select_orders(everything, params)]
        return JSONResponse(body)

    @router.get("/v2/orders:by_client_order_id")
    def get_order_by_client_id(client_order_id: str) -> JSONResponse:
        with exchange.synced():
            return JSONResponse(shown(engine.order_by_client_id(client_order_id)))

    @router.get("/v2/orders/{order_id}")
    def get_order(order_id: str) -> JSONResponse:
        with exchange.synced():
            return JSONResponse(shown(engine.order(order_id)))

    @router.patch("/v2/orders/{order_id}")
    def patch_order(order_id: str, body: dict[str, Any] = Body(...)) -> JSONResponse:  # noqa: B008
        change = replace_request(body)
        with exchange.synced():
            return JSONResponse(shown(exchange.replace(order_id, change)))

    @router.delete("/v2/orders/{order_id}", status_code=204)
    def delete_order(order_id: str) -> Response:
        with exchange.synced():
            engine.cancel(order_id)
        return Response(status_code=204)

    @router.delete("/v2/orders")
    def delete_orders() -> JSONResponse:
        with exchange.synced():
            cancelled = engine.cancel_all()
        body = [{"id": o.id, "status": 200, "body": order_json(o)} for o in cancelled]
        return JSONResponse(body, status_code=207)


def _position_routes(router: APIRouter, exchange: SimExchange) -> None:
    engine = exchange.engine

    def symbol_of(symbol_or_asset_id: str) -> str:
        return _symbol_of(exchange, symbol_or_asset_id)

    def shown(view: PositionView) -> dict[str, Any]:
        asset = exchange.assets.get(view.symbol)
        return position_json(view, asset.exchange if asset else "NYSE")

    @router.get("/v2/positions")
    def get_positions() -> JSONResponse:
        with exchange.synced():
            return JSONResponse([shown(p) for p in engine.positions()])

    @router.get("/v2/positions/{symbol_or_asset_id}")
    def get_position(symbol_or_asset_id: str) -> JSONResponse:
        with exchange.synced():
            return JSONResponse(shown(engine.position(symbol_of(symbol_or_asset_id))))

    @router.delete("/v2/positions/{symbol_or_asset_id}")
    def delete_position(
        symbol_or_asset_id: str, qty: str | None = None, percentage: str | None = None
    ) -> JSONResponse:
        shares = whole_qty(qty) if qty is not None else None
        pct = parse_decimal(percentage, "percentage", CODE_INVALID_ORDER) if percentage else None
        with exchange.synced():
            order = engine.close_position(symbol_of(symbol_or_asset_id), shares, pct)
        return JSONResponse(order_json(order))

    @router.delete("/v2/positions")
    def delete_positions(cancel_orders: str | None = None) -> JSONResponse:
        results: list[dict[str, Any]] = []
        with exchange.synced():
            if parse_bool(cancel_orders):
                engine.cancel_all()
            for view in engine.positions():
                try:
                    order = engine.close_position(view.symbol)
                except ExchangeError as refused:
                    details = error_body(refused.code, refused.message)
                    details |= {"symbol": view.symbol, "existing_qty": view.qty}
                    details |= {"available": view.qty_available}
                    details |= {"held_for_orders": view.qty - view.qty_available}
                    entry = {"symbol": view.symbol, "status": refused.status, "body": details}
                else:
                    entry = {"symbol": view.symbol, "status": 200, "order_id": order.id}
                    entry["body"] = order_json(order)
                results.append(entry)
        return JSONResponse(results, status_code=207)


def _market_routes(router: APIRouter, exchange: SimExchange) -> None:
    @router.get("/v2/clock")
    def get_clock() -> JSONResponse:
        with exchange.synced() as now:
            return JSONResponse(clock_json(now, exchange.calendar))

    @router.get("/v2/calendar")
    def get_calendar(start: str | None = None, end: str | None = None) -> JSONResponse:
        with exchange.synced() as now:
            today = session_date(now)
        first = parse_day(start, "start", CODE_INVALID_ORDER) if start else today
        last = parse_day(end, "end", CODE_INVALID_ORDER) if end else None
        return JSONResponse(_calendar(exchange, first, last))

    @router.get("/v2/assets")
    def get_assets(status: str | None = None, asset_class: str | None = None) -> JSONResponse:
        if status not in (None, "active", "inactive") or asset_class not in (None, "us_equity"):
            return JSONResponse([])
        assets = exchange.assets.all()
        if status is not None:
            assets = [a for a in assets if a.active == (status == "active")]
        return JSONResponse([asset_json(a) for a in assets])

    @router.get("/v2/assets/{symbol_or_asset_id}")
    def get_asset(symbol_or_asset_id: str) -> JSONResponse:
        asset = exchange.assets.get(_symbol_of(exchange, symbol_or_asset_id))
        if asset is None:
            raise not_found("asset not found")
        return JSONResponse(asset_json(asset))


def _calendar(exchange: SimExchange, first: date, last: date | None) -> list[dict[str, Any]]:
    try:
        # Alpaca's default range is a month; a date near the end of time overflows here too.
        last = last if last is not None else first + timedelta(days=30)
        if last < first:
            return []
        # One session past the range gives the last day's settlement date (T+1).
        sessions = exchange.calendar.sessions(first, last + timedelta(days=15))
    except Exception as exc:  # exchange-calendars raises its own types for out-of-range dates
        raise invalid(f"dates outside the market calendar: {exc}".splitlines()[0]) from None
    return [calendar_json(s, nxt.day) for s, nxt in itertools.pairwise(sessions) if s.day <= last]
