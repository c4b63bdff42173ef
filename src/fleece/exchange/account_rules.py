"""The rules an order meets before the engine accepts it, as Alpaca's paper account applies them.

In the order they are checked (the first one broken is the answer):

1. **Asset.** An asset the exchange does not list: 422 ``asset "X" not found``; an inactive one:
   422 ``asset X is not active``.
2. **Wash trade.** An order while an opposite-side order of the same symbol is open (a held
   bracket leg included): 403, code 40310000, ``potential wash trade detected. use complex
   orders`` (Alpaca's own words; cancel the open order first, or use a bracket/OCO/OTO order,
   whose own legs never refuse each other: :mod:`fleece.exchange.order_classes`).
3. **Quantity.** A position is never taken across zero by one order: selling more than a long
   position's free shares, or buying more than a short position's uncovered shares, is 403
   ``insufficient qty available for order (requested: N, available: M)``. Shares held by open
   orders of the same side are not free (an OCO group holds them once; a held leg, nothing).
4. **Shorting.** Selling with no long position opens (or adds to) a short: only on a margin
   account (equity of at least $2,000: otherwise 403 ``account is not allowed to short``) and
   for a shortable asset (403 ``asset X is not shortable``).
5. **Buying power.** An order that opens or adds exposure (a buy while not short, a short sale)
   holds its estimated cost (:mod:`fleece.accounting`: a limit or stop at its price, a market
   order a few per cent above the last price); more than the buying power is 403
   ``insufficient buying power``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from fleece.accounting import reduces
from fleece.exchange.order_classes import group_key
from fleece.exchange.orders import (
    OrderRequest,
    OrderStatus,
    SimOrder,
    forbidden,
    invalid,
    unprocessable,
    wash_trade,
)
from fleece.models import Side


class AssetFlags(Protocol):
    """What the rules need to know of an asset (see :class:`~fleece.exchange.assets.Asset`)."""

    @property
    def active(self) -> bool: ...

    @property
    def shortable(self) -> bool: ...


class AssetLookup(Protocol):
    """Finds an asset by symbol (see :class:`~fleece.exchange.assets.AssetBook`)."""

    def get(self, symbol: str) -> AssetFlags | None: ...


def check_asset(symbol: str, known: bool, assets: AssetLookup | None) -> None:
    """Rule 1: the asset exists and is active (without an asset book, every known symbol is)."""
    if not known:
        raise invalid(f'asset "{symbol}" not found')
    asset = assets.get(symbol) if assets is not None else None
    if assets is not None and asset is None:
        raise invalid(f'asset "{symbol}" not found')
    if asset is not None and not asset.active:
        raise unprocessable(f"asset {symbol} is not active")


def check_wash_trade(request: OrderRequest, open_orders: Iterable[SimOrder]) -> None:
    """Rule 2: no opposite-side order of the same symbol may be open."""
    for order in open_orders:
        if order.symbol == request.symbol and order.side is not request.side:
            raise wash_trade()


def working_qty(open_orders: Iterable[SimOrder], symbol: str, side: Side) -> int:
    """Shares the open ``side`` orders of ``symbol`` may still trade: each exit group once (its
    largest remainder), held legs not at all."""
    groups: dict[str, int] = {}
    for o in open_orders:
        if o.symbol == symbol and o.side is side and o.status is not OrderStatus.HELD:
            key = group_key(o)
            groups[key] = max(groups.get(key, 0), o.remaining)
    return sum(groups.values())


def free_qty(held: int, side: Side, open_orders: Iterable[SimOrder], symbol: str) -> int:
    """Shares of a position an order of ``side`` may close: not held by open same-side orders.

    For a long position (``held`` > 0) and a sell, or a short one (``held`` < 0) and a buy;
    zero otherwise.
    """
    if not reduces(held, side):
        return 0
    return max(0, abs(held) - working_qty(open_orders, symbol, side))


def check_position(
    request: OrderRequest,
    held: int,
    open_orders: Iterable[SimOrder],
    *,
    shorting_enabled: bool,
    assets: AssetLookup | None,
) -> bool:
    """Rules 3 and 4; True when the order adds exposure (rule 5, buying power, then applies)."""
    orders = list(open_orders)
    if reduces(held, request.side):
        available = free_qty(held, request.side, orders, request.symbol)
        if request.qty > available:
            raise forbidden(
                "insufficient qty available for order "
                f"(requested: {request.qty}, available: {available})"
            )
        return False
    if request.side is Side.SELL:
        if not shorting_enabled:
            raise forbidden("account is not allowed to short")
        asset = assets.get(request.symbol) if assets is not None else None
        if asset is not None and not asset.shortable:
            raise forbidden(f"asset {request.symbol} is not shortable")
    return True
