"""Order bodies as the Trading API receives them: ``POST /v2/orders`` and ``PATCH`` bodies.

Only what the exchange can fill is accepted (422 ``40010001`` otherwise): market, limit, stop,
stop-limit and trailing-stop orders; simple, bracket, OCO and OTO classes; ``day`` or ``gtc``;
whole shares; regular hours. Prices follow Alpaca's tick rule (whole cents from $1.00, 1/100
cent below). What each type needs:

- ``limit``: ``limit_price``; ``stop``: ``stop_price``; ``stop_limit``: both;
  ``trailing_stop``: exactly one of ``trail_price`` (dollars) or ``trail_percent`` (0 to 100).
- ``bracket``: a market or limit entry with ``take_profit.limit_price`` and
  ``stop_loss.stop_price`` (``stop_loss.limit_price`` makes the stop a stop-limit); ``oto``: one
  of the two; ``oco``: a limit order with both, whose ``limit_price`` (if given) is the
  take-profit's.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, TypeVar

from fleece.exchange.orders import (
    ExitLegs,
    OrderClass,
    OrderRequest,
    OrderType,
    ReplaceRequest,
    TimeInForce,
    invalid,
)
from fleece.exchange.params import parse_decimal, shown
from fleece.models import CODE_INVALID_ORDER, Side
from fleece.prices import on_price_grid

_T = TypeVar("_T")
_PRICE_FIELDS = ("limit_price", "stop_price", "trail_price", "trail_percent")
_NEEDS = {
    OrderType.MARKET: (),
    OrderType.LIMIT: ("limit_price",),
    OrderType.STOP: ("stop_price",),
    OrderType.STOP_LIMIT: ("limit_price", "stop_price"),
    OrderType.TRAILING_STOP: (),
}
_ALLOWED = _NEEDS | {OrderType.TRAILING_STOP: ("trail_price", "trail_percent")}


def order_request(body: dict[str, Any]) -> OrderRequest:
    """Validate a ``POST /v2/orders`` body into an :class:`OrderRequest` (422 when invalid)."""
    symbol = body.get("symbol")
    if not isinstance(symbol, str) or not symbol:
        raise invalid("symbol is required")
    if body.get("notional") is not None:
        raise invalid("notional orders are not supported by the built-in exchange")
    if body.get("qty") is None:
        raise invalid("qty is required")
    qty = whole_qty(body["qty"])
    side = _choice(body.get("side"), "side", {s.value: s for s in Side})
    kind = _choice(body.get("type"), "type", {t.value: t for t in OrderType})
    tif = _choice(body.get("time_in_force"), "time_in_force", {t.value: t for t in TimeInForce})
    raw_class = body.get("order_class") or "simple"
    order_class = _choice(raw_class, "order_class", {c.value: c for c in OrderClass})
    if body.get("extended_hours"):
        raise invalid("extended_hours orders are not supported by the built-in exchange")
    legs = _legs(body, order_class, kind)
    if order_class is OrderClass.OCO and legs is not None:
        given = body.get("limit_price")
        if given is not None and price(given, "limit_price") != legs.take_profit:
            raise invalid("limit_price of an oco order must be its take_profit.limit_price")
        body = body | {"limit_price": legs.take_profit}
    prices = _prices(body, kind)
    client_order_id = body.get("client_order_id")
    if client_order_id is not None and not isinstance(client_order_id, str):
        raise invalid("client_order_id must be a string")
    return OrderRequest(
        symbol,
        qty,
        side,
        kind,
        tif,
        prices.get("limit_price"),
        client_order_id or None,
        stop_price=prices.get("stop_price"),
        trail_price=prices.get("trail_price"),
        trail_percent=prices.get("trail_percent"),
        order_class=order_class,
        legs=legs,
    )


def replace_request(body: dict[str, Any]) -> ReplaceRequest:
    """Validate a ``PATCH /v2/orders/{id}`` body (422 when invalid or empty)."""
    fields = ("qty", "time_in_force", "limit_price", "stop_price", "trail")
    if all(body.get(name) is None for name in fields):
        raise invalid(f"nothing to replace: give one of {', '.join(fields)}")
    tif = body.get("time_in_force")
    client_order_id = body.get("client_order_id")
    if client_order_id is not None and not isinstance(client_order_id, str):
        raise invalid("client_order_id must be a string")
    trail = body.get("trail")
    return ReplaceRequest(
        qty=whole_qty(body["qty"]) if body.get("qty") is not None else None,
        time_in_force=(
            _choice(tif, "time_in_force", {t.value: t for t in TimeInForce}) if tif else None
        ),
        limit_price=_maybe_price(body, "limit_price"),
        stop_price=_maybe_price(body, "stop_price"),
        trail=_positive(trail, "trail") if trail is not None else None,
        client_order_id=client_order_id or None,
    )


def whole_qty(value: object) -> int:
    """A positive whole number of shares."""
    qty = parse_decimal(value, "qty", CODE_INVALID_ORDER)
    if qty <= 0 or qty != qty.to_integral_value():
        raise invalid("qty must be a positive whole number of shares")
    return int(qty)


def price(value: object, name: str) -> float:
    """A positive price on Alpaca's tick grid."""
    number = parse_decimal(value, name, CODE_INVALID_ORDER)
    if number <= 0:
        raise invalid(f"{name} must be > 0")
    if not on_price_grid(number):
        raise invalid("sub-penny increment does not fulfill minimum pricing criteria")
    return float(number)


def _maybe_price(body: dict[str, Any], name: str, prefix: str = "") -> float | None:
    return price(body[name], prefix + name) if body.get(name) is not None else None


def _positive(value: object, name: str, below: Decimal | None = None) -> float:
    number = parse_decimal(value, name, CODE_INVALID_ORDER)
    if number <= 0 or (below is not None and number >= below):
        bound = f" and < {below}" if below is not None else ""
        raise invalid(f"{name} must be > 0{bound}")
    return float(number)


def _choice(value: object, name: str, allowed: dict[str, _T]) -> _T:
    if not isinstance(value, str) or value not in allowed:
        raise invalid(f"{name} must be one of {', '.join(allowed)}; got {shown(value)}")
    return allowed[value]


def _prices(body: dict[str, Any], kind: OrderType) -> dict[str, float]:
    for name in _PRICE_FIELDS:
        if body.get(name) is not None and name not in _ALLOWED[kind]:
            raise invalid(f"{name} is not allowed for {kind.value} orders")
    for name in _NEEDS[kind]:
        if body.get(name) is None:
            raise invalid(f"{name} is required for {kind.value} orders")
    out = {
        name: price(body[name], name) for name in ("limit_price", "stop_price") if body.get(name)
    }
    if kind is OrderType.TRAILING_STOP:
        given = [name for name in ("trail_price", "trail_percent") if body.get(name) is not None]
        if len(given) != 1:
            raise invalid("trailing_stop orders need exactly one of trail_price or trail_percent")
        name = given[0]
        ceiling = Decimal(100) if name == "trail_percent" else None
        out[name] = _positive(body[name], name, ceiling)
    return out


def _legs(body: dict[str, Any], order_class: OrderClass, kind: OrderType) -> ExitLegs | None:
    take_profit, stop_loss = body.get("take_profit"), body.get("stop_loss")
    if order_class is OrderClass.SIMPLE:
        for name, value in (("take_profit", take_profit), ("stop_loss", stop_loss)):
            if value is not None:
                raise invalid(f"{name} is only for bracket, oco and oto orders")
        return None
    name = order_class.value
    oco = order_class is OrderClass.OCO
    allowed = (OrderType.LIMIT,) if oco else (OrderType.MARKET, OrderType.LIMIT)
    if kind not in allowed:
        raise invalid(f"{name} orders must be {' or '.join(t.value for t in allowed)} orders")
    for label, value in (("take_profit", take_profit), ("stop_loss", stop_loss)):
        if value is not None and not isinstance(value, dict):
            raise invalid(f"{label} must be an object")
    tp = _maybe_price(take_profit, "limit_price", "take_profit.") if take_profit else None
    stop = _maybe_price(stop_loss, "stop_price", "stop_loss.") if stop_loss else None
    stop_limit = _maybe_price(stop_loss, "limit_price", "stop_loss.") if stop_loss else None
    if (take_profit and tp is None) or (stop_loss and stop is None):
        missing = (
            "take_profit.limit_price" if take_profit and tp is None else "stop_loss.stop_price"
        )
        raise invalid(f"{missing} is required")
    if order_class is OrderClass.OTO:
        if (tp is None) == (stop is None):
            raise invalid("oto orders take one of take_profit or stop_loss")
    elif tp is None or stop is None:
        raise invalid(f"{name} orders require take_profit.limit_price and stop_loss.stop_price")
    return ExitLegs(take_profit=tp, stop_price=stop, stop_limit=stop_limit)
