"""Alpaca's order classes: bracket, OCO and OTO orders, their legs and how they hang together.

- **Bracket**: an entry (market or limit) with two exit legs on the other side: a take-profit
  limit order and a stop-loss stop (or stop-limit) order. **OTO**: an entry with one of them.
  The legs are ``held`` until the entry fills completely; then they work, from the entry's fill
  on (a stop leg may trigger on the very bar that filled the entry). An entry that ends partly
  filled (cancelled, or expired at its session's close) starts its legs for the shares it
  bought; one that ends with nothing filled cancels them. A bracket or OTO must open or add to a
  position: one whose entry would reduce a position is refused (422 ``bracket orders must be
  entry orders``). For a buy entry the take-profit must be at least a cent above the base price
  and the stop at least a cent below it (mirrored for a sell); the base price is the entry's
  limit price, or for a market entry the symbol's last price (422 ``take_profit.limit_price must
  be >= base_price + 0.01``, ``stop_loss.stop_price must be <= base_price - 0.01``).
- **OCO**: exit only, two orders on the same side: the primary order is the take-profit limit
  order (its ``limit_price`` is ``take_profit.limit_price``), its one leg the stop-loss. Both
  work at once. An OCO must reduce a position (422 ``oco orders must be exit orders``), and a
  sell's take-profit must lie above its stop (a buy's below).
- **One cancels the other**: the exit legs of a bracket, and both orders of an OCO, are one
  group. The first fill of one of them (even a partial one) cancels the others, and cancelling
  one cancels the others. When one bar reaches both the take-profit and the stop, the stop fills
  (the bar does not say which came first; the engine assumes the worse).
- A group holds the shares it may sell once, not once per leg, and a held leg holds nothing
  until it works (:func:`fleece.exchange.account_rules.working_qty`).
- **The wash-trade rule** (403 ``potential wash trade detected``) applies to an order against
  the *other* open orders of its symbol: a bracket's entry and its exit legs never refuse each
  other, but a new standalone order against an open opposite-side leg (held or working) is
  refused, as Alpaca refuses it; cancel the legs first.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime

from fleece.accounting import reduces
from fleece.exchange.orders import (
    ExitLegs,
    IdSource,
    OrderClass,
    OrderRequest,
    OrderStatus,
    OrderType,
    SimOrder,
    unprocessable,
)
from fleece.models import Side, to_ticks

_ENTRY_CLASSES = (OrderClass.BRACKET, OrderClass.OTO)
_ONE_CENT = 100  # ticks


def opposite(side: Side) -> Side:
    """The other side."""
    return Side.SELL if side is Side.BUY else Side.BUY


def check_class(request: OrderRequest, held: int) -> None:
    """An entry class must open or add to a position, an OCO must reduce one (422 otherwise)."""
    closing = reduces(held, request.side)
    if request.order_class in _ENTRY_CLASSES and closing:
        raise unprocessable(f"{request.order_class.value} orders must be entry orders")
    if request.order_class is OrderClass.OCO and not closing:
        raise unprocessable("oco orders must be exit orders")


def check_leg_prices(request: OrderRequest, base: float | None) -> None:
    """The exit legs lie on the right sides of the entry's base price (and of each other)."""
    legs = request.legs
    if legs is None:
        return
    sell = request.side is Side.SELL
    if request.order_class is OrderClass.OCO:
        assert legs.take_profit is not None and legs.stop_price is not None
        tp, stop = to_ticks(legs.take_profit), to_ticks(legs.stop_price)
        if (tp <= stop) if sell else (tp >= stop):
            relation = ">" if sell else "<"
            raise unprocessable(f"take_profit.limit_price must be {relation} stop_loss.stop_price")
        return
    if base is None:
        return
    # An entry's exits are on the other side of the price: above and below a buy's base.
    high, low = to_ticks(base) + _ONE_CENT, to_ticks(base) - _ONE_CENT
    if legs.take_profit is not None:
        tp = to_ticks(legs.take_profit)
        if (tp > low) if sell else (tp < high):
            raise unprocessable(
                f"take_profit.limit_price must be {'<=' if sell else '>='} "
                f"base_price {'-' if sell else '+'} 0.01"
            )
    if legs.stop_price is not None:
        stop = to_ticks(legs.stop_price)
        if (stop < high) if sell else (stop > low):
            raise unprocessable(
                f"stop_loss.stop_price must be {'>=' if sell else '<='} "
                f"base_price {'+' if sell else '-'} 0.01"
            )


def leg_orders(parent: SimOrder, legs: ExitLegs | None, ids: IdSource) -> list[SimOrder]:
    """The legs ``parent`` (a bracket, OTO or OCO primary order) asks for, in Alpaca's order.

    A bracket's legs are its take-profit, then its stop-loss, both ``held``; an OCO's one leg
    is its stop-loss, working from the start like its primary order.
    """
    if legs is None or parent.order_class is OrderClass.SIMPLE:
        return []
    entry = parent.order_class in _ENTRY_CLASSES
    side = opposite(parent.side) if entry else parent.side
    status = OrderStatus.HELD if entry else parent.status
    common = {"side": side, "parent_id": parent.id, "status": status}
    out: list[SimOrder] = []
    if entry and legs.take_profit is not None:
        out.append(_leg(parent, ids, type=OrderType.LIMIT, limit_price=legs.take_profit, **common))
    if legs.stop_price is not None:
        kind = OrderType.STOP_LIMIT if legs.stop_limit is not None else OrderType.STOP
        out.append(
            _leg(
                parent,
                ids,
                type=kind,
                stop_price=legs.stop_price,
                limit_price=legs.stop_limit,
                **common,
            )
        )
    return out


def _leg(parent: SimOrder, ids: IdSource, **fields: object) -> SimOrder:
    return replace(
        parent,
        id=ids.next_id(),
        client_order_id=ids.next_id(),  # Alpaca names legs itself
        reserved_cents=0,  # an exit holds no buying power
        legs=(),
        trail_price=None,
        trail_percent=None,
        hwm=None,
        **fields,  # type: ignore[arg-type]
    )


def is_exit_member(order: SimOrder) -> bool:
    """True for an exit leg of a bracket or OTO, and for both orders of an OCO."""
    return order.parent_id is not None or (order.order_class is OrderClass.OCO and bool(order.legs))


def group_key(order: SimOrder) -> str:
    """Orders sharing this key hold the same shares once (an OCO's two orders, a bracket's
    two exit legs); any other order is a group of its own."""
    return order.parent_id or order.id


def siblings(order: SimOrder, orders: Mapping[str, SimOrder]) -> list[str]:
    """The other members of ``order``'s exit group (ids), whatever their status."""
    if order.parent_id is not None:
        parent = orders[order.parent_id]
        members = list(parent.legs)
        if parent.order_class is OrderClass.OCO:
            members.insert(0, parent.id)
    elif order.order_class is OrderClass.OCO:
        members = [order.id, *order.legs]
    else:
        return []
    return [m for m in members if m != order.id]


#: The statuses ``GET /v2/orders`` lists by (``status=``), Alpaca's words.
LISTINGS = ("open", "closed", "all")


def listed(status: str, order: SimOrder, legs: Sequence[SimOrder] = ()) -> bool:
    """True when a ``status`` listing (:data:`LISTINGS`) answers ``order``, listed with ``legs``
    (a nested listing's): it matches when it or one of its legs does, so a bracket whose entry
    filled is open while its exit legs work (and closed as well)."""
    if status == "all":
        return True
    wanted = status == "open"
    return order.status.is_open == wanted or any(leg.status.is_open == wanted for leg in legs)


def class_members(order: SimOrder, orders: Mapping[str, SimOrder]) -> set[str]:
    """Every order of ``order``'s class: its primary order and all the legs (ids)."""
    primary = orders[order.parent_id] if order.parent_id is not None else order
    return {primary.id, *primary.legs}


def started(leg: SimOrder, qty: int, now: datetime) -> SimOrder:
    """A held leg that starts working now, for ``qty`` shares (its entry filled that many)."""
    return replace(
        leg,
        status=OrderStatus.NEW,
        qty=qty,
        eligible_from=now.replace(second=0, microsecond=0),
        updated_at=now,
    )
