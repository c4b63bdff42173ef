"""The engine's books: its orders, cash and positions, and what can be read of them.

:class:`Book` is the half of :class:`~fleece.exchange.engine.Engine` that only looks things up
(orders by id and client_order_id, their legs, positions and the account valued now, and what
buying power a new or replacing order holds); the engine adds what changes them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime
from decimal import Decimal

from fleece.accounting import cents_of, closing_side, market_order_ticks
from fleece.calendar import MarketCalendar
from fleece.exchange.account_rules import AssetLookup, check_position, working_qty
from fleece.exchange.ledger import AccountView, Ledger, PositionView
from fleece.exchange.market import BarStore
from fleece.exchange.orders import (
    IdSource,
    OrderRequest,
    SimOrder,
    forbidden,
    invalid,
    not_found,
)
from fleece.models import DUPLICATE_CLIENT_ORDER_ID, MAX_CLIENT_ORDER_ID, to_ticks


class Book:
    """Orders and the ledger of one account, and the queries over them."""

    # Declared for the exchange's state file (the engine declares the rest).
    _store: BarStore
    _ids: IdSource
    _now: datetime
    _ledger: Ledger
    _slip: Decimal
    _assets: AssetLookup | None
    _orders: dict[str, SimOrder]
    _by_client: dict[str, str]
    _open: dict[str, None]

    @property
    def now(self) -> datetime:
        """The instant the engine has processed up to."""
        return self._now

    def _new_client_id(self, wanted: str | None) -> str:
        client_id = wanted or self._ids.next_id()
        if len(client_id) > MAX_CLIENT_ORDER_ID:
            raise invalid(f"client_order_id must be no more than {MAX_CLIENT_ORDER_ID} characters")
        if client_id in self._by_client:
            raise invalid(DUPLICATE_CLIENT_ORDER_ID)
        return client_id

    def _price_now(self, symbol: str, eligible: datetime) -> float | None:
        """The symbol's last price, or the open of the bar the order would meet first."""
        price = self._ledger.mark(symbol, self._now)
        if price is None:  # no bar has closed yet: the order's own bar is the only price
            bar = self._store.next_regular(symbol, eligible)
            price = bar.open if bar is not None else None
        return price

    def _base_price(self, request: OrderRequest, eligible: datetime) -> float | None:
        if request.legs is None:
            return None
        return request.limit_price or self._price_now(request.symbol, eligible)

    def _check_affordable(
        self, request: OrderRequest, eligible: datetime, aside: SimOrder | None = None
    ) -> int:
        """The buying power ``request`` holds once accepted (0 when it closes a position).

        ``aside``: an order being replaced by ``request``, whose holds do not count.
        """
        others = [o for o in self._open_orders() if aside is None or o.id != aside.id]
        account = self.account()
        adds = check_position(
            request,
            self._ledger.held(request.symbol),
            others,
            shorting_enabled=account.shorting_enabled,
            assets=self._assets,
        )
        if not adds:
            return 0
        price = request.limit_price or request.stop_price
        if price is not None:
            ticks = to_ticks(price)
        else:
            market = self._price_now(request.symbol, eligible)
            if market is None:
                raise invalid(f"no price available for {request.symbol}")
            ticks = market_order_ticks(to_ticks(market), self._slip)
        reserved = cents_of(ticks, request.qty)
        available = account.buying_power_cents + (aside.reserved_cents if aside else 0)
        if reserved > available:
            raise forbidden("insufficient buying power")
        return reserved

    def _free_qty(self, symbol: str) -> int:
        """A position's quantity less what open orders closing it hold (signed like the qty)."""
        held = self._ledger.held(symbol)
        working = working_qty(self._open_orders(), symbol, closing_side(held))
        return held - working if held > 0 else held + working

    def _relink(self, old: SimOrder, new_id: str) -> None:
        """The replacing order takes ``old``'s place in its class."""
        for leg_id in old.legs:
            self._orders[leg_id] = replace(self._orders[leg_id], parent_id=new_id)
        if old.parent_id is not None:
            parent = self._orders[old.parent_id]
            legs = tuple(new_id if leg == old.id else leg for leg in parent.legs)
            self._orders[parent.id] = replace(parent, legs=legs)

    def order(self, order_id: str) -> SimOrder:
        """The order with ``order_id``; 404 if unknown."""
        found = self._orders.get(order_id)
        if found is None:
            raise not_found("order not found")
        return found

    def legs_of(self, order: SimOrder) -> list[SimOrder]:
        """The legs of a bracket, OCO or OTO primary order, as they are now."""
        return [self._orders[leg_id] for leg_id in order.legs]

    def order_by_client_id(self, client_order_id: str) -> SimOrder:
        """The order with ``client_order_id``; 404 if unknown."""
        order_id = self._by_client.get(client_order_id)
        if order_id is None:
            raise not_found("order not found")
        return self._orders[order_id]

    @property
    def order_count(self) -> int:
        """How many orders were accepted so far (legs and replacing orders included)."""
        return len(self._orders)

    def orders(self) -> Iterator[SimOrder]:
        """Every order, in submission order."""
        return iter(self._orders.values())

    def _open_orders(self) -> Iterator[SimOrder]:
        return (self._orders[order_id] for order_id in self._open)

    def mark(self, symbol: str, at: datetime) -> float | None:
        """The price ``symbol`` is valued at, at ``at`` (None when nothing is known yet)."""
        return self._ledger.mark(symbol, at)

    def positions(self) -> list[PositionView]:
        """Every open position valued now, sorted by symbol."""
        return [self.position(symbol) for symbol in self._ledger.symbols()]

    def position(self, symbol: str) -> PositionView:
        """The position in ``symbol`` valued now; 404 if there is none."""
        view = self._ledger.position(symbol, self._now, self._free_qty(symbol))
        if view is None:
            raise not_found("position does not exist")
        return view

    def account(self) -> AccountView:
        """Cash, market value, buying power and last equity, now."""
        return self._ledger.account(self._now, self._reserved())

    def _reserved(self) -> int:
        # What open orders adding exposure hold is not available again.
        return sum(o.reserved_cents for o in self._open_orders())


def previous_close(calendar: MarketCalendar, at: datetime) -> datetime | None:
    """The close of the last session that ended at or before ``at``."""
    found = calendar.previous(at)
    return found.close if found is not None else None
