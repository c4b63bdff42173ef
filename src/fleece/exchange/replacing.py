"""``PATCH /v2/orders/{id}``: what a replacement may change, as Alpaca's replace allows it.

A replacement names any of ``qty``, ``time_in_force``, ``limit_price``, ``stop_price``, ``trail``
(and the new order's ``client_order_id``); everything else is the old order's. ``limit_price``
applies to limit and stop-limit orders only, ``stop_price`` to stop and stop-limit orders,
``trail`` to trailing stops (it replaces whichever of ``trail_price`` or ``trail_percent`` the
order has; the high-water mark carries over, so the stop moves at once). Anything else is 422,
and so is replacing an order that is neither working (``new``) nor ``held``. The engine
(:meth:`fleece.exchange.engine.Engine.replace`) then holds the new order to the rules of a new
one, and :func:`replacing_order` puts it in the old one's place.
"""

from __future__ import annotations

from dataclasses import replace

from fleece.exchange.matching import with_mark
from fleece.exchange.orders import (
    CODE_UNPROCESSABLE,
    ExchangeError,
    OrderRequest,
    OrderStatus,
    OrderType,
    ReplaceRequest,
    SimOrder,
    invalid,
)


def replaced_order(old: SimOrder, change: ReplaceRequest) -> OrderRequest:
    """The order ``old`` becomes with ``change``.

    422 for an order that cannot be replaced now (only a working or held one can), or for a field
    its type does not have.
    """
    if old.status not in (OrderStatus.NEW, OrderStatus.HELD):
        raise ExchangeError(
            422, CODE_UNPROCESSABLE, f'order is in "{old.status}" state and cannot be replaced'
        )
    if change.limit_price is not None and not old.type.has_limit:
        raise invalid(f"limit_price is not allowed for {old.type.value} orders")
    if change.stop_price is not None and old.type not in (OrderType.STOP, OrderType.STOP_LIMIT):
        raise invalid(f"stop_price is not allowed for {old.type.value} orders")
    if change.trail is not None and old.type is not OrderType.TRAILING_STOP:
        raise invalid(f"trail is not allowed for {old.type.value} orders")
    if change.qty is not None and change.qty < old.filled_qty:
        raise invalid("qty must not be less than the filled quantity")
    trail_price, trail_percent = old.trail_price, old.trail_percent
    if change.trail is not None:
        if trail_price is not None:
            trail_price = change.trail
        else:
            trail_percent = change.trail
    return OrderRequest(
        symbol=old.symbol,
        qty=change.qty if change.qty is not None else old.qty,
        side=old.side,
        type=old.type,
        time_in_force=change.time_in_force or old.time_in_force,
        limit_price=change.limit_price if change.limit_price is not None else old.limit_price,
        stop_price=change.stop_price if change.stop_price is not None else old.stop_price,
        trail_price=trail_price,
        trail_percent=trail_percent,
        order_class=old.order_class,
    )


def replacing_order(old: SimOrder, fresh: SimOrder) -> SimOrder:
    """``fresh``, the new order the engine made of a replacement, in ``old``'s place."""
    # It keeps the old order's place in its class and its trailing stop's high-water mark and
    # trigger (an open order has filled nothing: no fill to carry over).
    new = replace(
        fresh,
        hwm=old.hwm,
        triggered_at=old.triggered_at,
        parent_id=old.parent_id,
        legs=old.legs,
        replaces=old.id,
    )
    if new.type is OrderType.TRAILING_STOP and new.hwm is not None:
        new = with_mark(new, new.hwm)
    return new
