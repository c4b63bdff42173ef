"""The matching engine: pure, synchronous, no HTTP, no clock of its own.

Order lifecycle, as Alpaca's: a submission is answered at once, ``pending_new`` while the
regular session is open and ``accepted`` while it is closed, with nothing filled; the order is
routed (``new``) at the next step of the engine (the next request the exchange serves, at the
same simulated instant or later) or, when accepted while closed, at the next open, and fills
afterwards. Fill prices and times do not depend on when the fill is processed: an order whose bar
opened at or before the submission fills at the submission instant, at that bar's open.
``filled_at`` stays null until the order is completely filled.

Fill rules (the backtest reuses them, so they are the contract):

- Only regular-session bars fill orders; an order may fill on the first regular bar of its symbol
  starting at or after its submission time floored to the minute (``eligible_from``).
- Each bar is judged at its open and at its close by the price rules of
  :mod:`fleece.exchange.matching` (market, limit, stop, stop-limit, trailing stop, gaps through
  a stop). Market fills and triggered stops pay the slippage (``slippage_bps``: a buy pays more,
  a sell receives less; rounded to 4 decimals); limit fills do not.
- At one instant, stops are judged before limits at a bar's close (when one bar reaches both
  legs of a bracket, the stop fills), a bar's close before the session closes, both before an
  order is routed, and routing before the next bar opens.
- Day orders still open at their session's close expire; an order submitted while the market is
  closed belongs to the next session. Orders fill whole, unless a :class:`FillSplit` (paper-like
  partial fills, :mod:`fleece.exchange.partial_fills`, or fault injection) says otherwise: then
  the rest fills on the order's next eligible bar.
- Bracket, OCO and OTO orders (held legs, one-cancels-other) follow
  :mod:`fleece.exchange.order_classes`; ``PATCH /v2/orders/{id}`` is :meth:`Engine.replace`.

The rules an order meets before it is accepted (wash trades, quantities, shorting, buying power)
live in :mod:`fleece.exchange.account_rules` (the buying power an order holds is estimated by
:mod:`fleece.exchange.engine_book` by :mod:`fleece.accounting`'s rule, which the risk manager
sizes entries by); the money side (cash, positions, marks, equity to the cent, the margin
account's buying power) in :mod:`fleece.exchange.ledger`.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from typing import Protocol

from fleece.accounting import closing_side
from fleece.calendar import ONE_MINUTE, MarketCalendar, Session
from fleece.exchange.account_rules import AssetLookup, check_asset, check_wash_trade
from fleece.exchange.engine_book import Book, previous_close
from fleece.exchange.ledger import Ledger
from fleece.exchange.market import BarStore
from fleece.exchange.matching import CLOSE, at_close, at_open, slippage, slipped, with_mark
from fleece.exchange.order_classes import (
    check_class,
    check_leg_prices,
    class_members,
    is_exit_member,
    leg_orders,
    siblings,
)
from fleece.exchange.order_classes import started as leg_started
from fleece.exchange.orders import (
    CODE_UNPROCESSABLE,
    ExchangeError,
    IdSource,
    OrderRequest,
    OrderStatus,
    OrderType,
    ReplaceRequest,
    SimOrder,
    TimeInForce,
    invalid,
    not_found,
)
from fleece.exchange.replacing import replaced_order, replacing_order
from fleece.models import Bar
from fleece.prices import average_price

# Event phases at one instant: stops are judged at a bar's close before limits (the worse leg of
# a bracket first), a bar's close before the session closes, both before an order is routed,
# and routing before the next bar opens.
_STOP_CLOSE, _BAR_CLOSE, _SESSION_CLOSE, _ROUTE, _BAR_OPEN = 0, 1, 2, 3, 4
_Event = tuple[datetime, int, int, str, str, Bar | None]


class FillSplit(Protocol):
    """Decides how many shares of an order fill now (fault injection's partial fills)."""

    def fill_qty(self, order: SimOrder) -> int:
        """Shares to fill now, between 1 and the order's unfilled quantity."""
        ...


class Engine(Book):
    """Orders, fills and the cash account of one simulated account.

    The engine has no clock: drive it with :meth:`advance_to` (the exchange calls it with the
    simulated now before every request, a backtest with each bar's time); every other method
    acts at :attr:`now`.

    Args:
        store: the bars that drive fills and marks.
        calendar: the market calendar (session closes expire day orders and roll last_equity).
        start: the instant the engine starts at; nothing before it is replayed.
        cash_cents: starting cash.
        slippage_bps: market-order slippage in basis points.
        ids: where order ids (and generated client_order_ids) come from.
        assets: the listed assets (status, shortable); without it every symbol of ``store`` is
            active and shortable.
    """

    # Every attribute, declared here or in Book: the state file saves and restores each by its
    # type (fleece.exchange.typed_json), and refuses to save one that is not declared.
    _calendar: MarketCalendar
    _next_close: datetime
    _events: list[_Event]
    _seq: Iterator[int]
    fill_split: FillSplit | None
    partial_fills: FillSplit | None

    def __init__(
        self,
        store: BarStore,
        calendar: MarketCalendar,
        *,
        start: datetime,
        cash_cents: int,
        slippage_bps: float = 0.0,
        ids: IdSource,
        assets: AssetLookup | None = None,
    ) -> None:
        self._store = store
        self._calendar = calendar
        self._slip = slippage(slippage_bps)
        self._ids = ids
        self._now = start
        self._ledger = Ledger(store, cash_cents, previous_close(calendar, start))
        self._next_close = calendar.next_close(start)
        self._orders: dict[str, SimOrder] = {}
        self._by_client: dict[str, str] = {}
        self._open: dict[str, None] = {}  # ids of open orders, in submission order
        self._events: list[_Event] = []
        self._seq = itertools.count()
        self._assets = assets
        # Fault injection's hook, and paper-like partial fills: the smaller answer wins.
        self.fill_split: FillSplit | None = None
        self.partial_fills: FillSplit | None = None

    # ---------------------------------------------------------------- time

    def advance_to(self, target: datetime) -> None:
        """Process every fill, expiry and session close due at or before ``target``."""
        while self._next_close <= target:
            # Session closes are events too: they expire day orders and roll last_equity.
            self._push(self._next_close, _SESSION_CLOSE, "session", "", None)
            self._next_close = self._calendar.next_close(self._next_close)
        while self._events and self._events[0][0] <= target:
            when, _, _, kind, order_id, bar = heapq.heappop(self._events)
            # Orders may name a bar that started before they were submitted (the minute floor):
            # such an event happens "now", never in the past.
            self._now = max(self._now, when)
            if kind == "session":
                self._ledger.roll(when)
            elif kind == "route":
                self._route(self._orders[order_id])
            else:
                self._on_order_event(kind, self._orders[order_id], bar)
        self._now = max(self._now, target)

    def _push(self, when: datetime, phase: int, kind: str, order_id: str, bar: Bar | None) -> None:
        heapq.heappush(self._events, (when, phase, next(self._seq), kind, order_id, bar))

    # ---------------------------------------------------------------- orders

    def submit(self, request: OrderRequest) -> SimOrder:
        """Accept ``request`` at the engine's current time, or raise :class:`ExchangeError`.

        The answer is the order as accepted (``pending_new`` or ``accepted``, nothing filled),
        with its legs for a bracket, OCO or OTO order (:meth:`legs_of`); it is routed and filled
        by later calls of :meth:`advance_to`, the earliest at this very instant.
        """
        now = self._now
        check_asset(request.symbol, self._store.has(request.symbol), self._assets)
        client_id = self._new_client_id(request.client_order_id)
        check_wash_trade(request, self._open_orders())
        check_class(request, self._ledger.held(request.symbol))
        eligible = now.replace(second=0, microsecond=0)
        session = self._calendar.next_session(now)
        reserved = self._check_affordable(request, eligible)
        check_leg_prices(request, self._base_price(request, eligible))
        in_session = session.open <= now
        status = OrderStatus.PENDING_NEW if in_session else OrderStatus.ACCEPTED
        order = self._new_order(
            request, client_id, session=session, eligible=eligible, reserved=reserved, status=status
        )
        if order.type is OrderType.TRAILING_STOP:
            mark = self._ledger.mark(order.symbol, now)
            order = with_mark(order, mark) if mark is not None else order
        legs = leg_orders(order, request.legs, self._ids)
        if legs:  # a simple order keeps its legs (): no copy of its ~30 fields
            order = replace(order, legs=tuple(leg.id for leg in legs))
        for each in (order, *legs):
            self._place(each, session, in_session)
        return order

    def _new_order(
        self,
        request: OrderRequest,
        client_id: str,
        *,
        session: Session,
        eligible: datetime,
        reserved: int,
        status: OrderStatus,
    ) -> SimOrder:
        """The order ``request`` makes, submitted now (a new order, or a replacing one)."""
        return SimOrder(
            id=self._ids.next_id(),
            client_order_id=client_id,
            submitted_at=self._now,
            eligible_from=eligible,
            expires_at=session.close if request.time_in_force is TimeInForce.DAY else None,
            reserved_cents=reserved,
            status=status,
            updated_at=self._now,
            **request.terms(),
        )

    def _place(self, order: SimOrder, session: Session, in_session: bool) -> None:
        """Book a new order and schedule its routing, expiry and first bar."""
        self._orders[order.id] = order
        self._by_client[order.client_order_id] = order.id
        self._open[order.id] = None
        if order.status is not OrderStatus.HELD:
            self._push(self._now if in_session else session.open, _ROUTE, "route", order.id, None)
            self._schedule_bar(order, order.eligible_from)
        if order.expires_at is not None:
            self._push(order.expires_at, _SESSION_CLOSE, "expire", order.id, None)

    def _route(self, order: SimOrder) -> None:
        if order.status in (OrderStatus.PENDING_NEW, OrderStatus.ACCEPTED):
            self._orders[order.id] = replace(order, status=OrderStatus.NEW, updated_at=self._now)

    def _schedule_bar(self, order: SimOrder, at: datetime) -> None:
        bar = self._store.next_regular(order.symbol, at)
        if bar is None:
            return  # no more data: the order waits for its expiry or a cancel
        if order.expires_at is not None and bar.timestamp >= order.expires_at:
            return
        self._push(bar.timestamp, _BAR_OPEN, "open", order.id, bar)

    def _on_order_event(self, kind: str, order: SimOrder, bar: Bar | None) -> None:
        if not order.status.is_open or order.status is OrderStatus.HELD:
            return  # cancelled, filled or replaced since the event was scheduled
        if kind == "expire":
            self._finish(replace(order, status=OrderStatus.EXPIRED, expired_at=self._now))
            return
        assert bar is not None
        judge = at_open if kind == "open" else at_close
        verdict = judge(order, bar, self._now)
        self._orders[order.id] = order = verdict.order
        if verdict.price is None:
            if verdict.then == CLOSE:
                phase = _STOP_CLOSE if order.type.is_stop and not order.triggered_at else _BAR_CLOSE
                self._push(bar.timestamp + ONE_MINUTE, phase, "close", order.id, bar)
            else:
                self._schedule_bar(order, bar.timestamp + ONE_MINUTE)
            return
        price = verdict.price
        if verdict.market:
            price = float(slipped(verdict.price, order.side, self._slip))
        self._fill(order, price)
        if self._orders[order.id].status.is_open:  # partly filled: the rest on a later bar
            self._schedule_bar(self._orders[order.id], bar.timestamp + ONE_MINUTE)

    def _fill(self, order: SimOrder, price: float) -> None:
        qty = order.remaining
        for split in (self.fill_split, self.partial_fills):
            if split is not None:
                qty = max(1, min(qty, split.fill_qty(order)))
        self._ledger.apply_fill(order.symbol, order.side, qty, price, self._now)
        done = order.filled_qty + qty
        average = price
        if order.filled_avg_price is not None and order.filled_qty:
            average = average_price(((order.filled_qty, order.filled_avg_price), (qty, price)))
        filled = replace(
            order,
            status=OrderStatus.FILLED if done == order.qty else OrderStatus.PARTIALLY_FILLED,
            filled_qty=done,
            filled_avg_price=average,
            filled_at=self._now if done == order.qty else None,
            # What is still to be bought keeps its share of the reservation.
            reserved_cents=(
                order.reserved_cents
                if done == order.qty
                else order.reserved_cents * (order.qty - done) // order.qty
            ),
        )
        if order.filled_qty == 0 and is_exit_member(order):
            self._end_group(order, OrderStatus.CANCELED)  # one cancels the other(s)
        if done == order.qty:
            self._finish(filled)
        else:
            self._orders[order.id] = replace(filled, updated_at=self._now)

    def _finish(self, order: SimOrder) -> None:
        """``order`` reached a final status; its held legs start working or end with it."""
        self._orders[order.id] = order = replace(order, updated_at=self._now)
        self._open.pop(order.id, None)
        if order.status is OrderStatus.REPLACED:
            return  # the legs belong to the replacing order now
        for leg_id in order.legs:
            leg = self._orders[leg_id]
            if leg.status is not OrderStatus.HELD:
                continue
            if order.filled_qty > 0:
                started = leg_started(leg, order.filled_qty, self._now)
                self._orders[leg_id] = started
                self._schedule_bar(started, started.eligible_from)
            else:
                self._finish(replace(leg, status=OrderStatus.CANCELED, canceled_at=self._now))

    def _end_group(self, order: SimOrder, status: OrderStatus) -> None:
        """End the other open members of ``order``'s exit group with ``status``."""
        for other_id in siblings(order, self._orders):
            other = self._orders[other_id]
            if other.status.is_open:
                self._finish(replace(other, status=status, canceled_at=self._now))

    def cancel(self, order_id: str) -> SimOrder:
        """Cancel an open order (and its exit group); 404 if unknown, 422 if already final."""
        order = self.order(order_id)
        if not order.status.is_open:
            raise ExchangeError(
                422, CODE_UNPROCESSABLE, f'order is already in "{order.status}" state'
            )
        self._finish(replace(order, status=OrderStatus.CANCELED, canceled_at=self._now))
        if is_exit_member(order):
            self._end_group(order, OrderStatus.CANCELED)
        return self._orders[order_id]

    def cancel_all(self) -> list[SimOrder]:
        """Cancel every open order; return them as cancelled."""
        return [self.cancel(order_id) for order_id in list(self._open) if order_id in self._open]

    def replace(self, order_id: str, change: ReplaceRequest) -> SimOrder:
        """Replace an open order (``PATCH /v2/orders/{id}``); return the new order.

        The old order reads ``replaced`` (``replaced_by`` names the new one), the new one takes
        its place in its class (``replaces`` names the old one) and meets the rules of a new
        order, the old one's holds set aside. Only a working (``new``) or ``held`` order can be
        replaced: one ``accepted`` or ``pending_new`` is not yet, a partly filled one is not by
        this exchange (422).
        """
        old = self.order(order_id)
        request = replaced_order(old, change)
        client_id = self._new_client_id(change.client_order_id)
        group = class_members(old, self._orders)  # never its own wash trade
        check_wash_trade(request, (o for o in self._open_orders() if o.id not in group))
        eligible = self._now.replace(second=0, microsecond=0)
        held = old.status is OrderStatus.HELD
        reserved = 0 if held else self._check_affordable(request, eligible, aside=old)
        session = self._calendar.next_session(self._now)
        status = OrderStatus.HELD if held else OrderStatus.PENDING_NEW
        fresh = self._new_order(
            request, client_id, session=session, eligible=eligible, reserved=reserved, status=status
        )
        new = replacing_order(old, fresh)
        self._finish(
            replace(old, status=OrderStatus.REPLACED, replaced_at=self._now, replaced_by=new.id)
        )
        self._relink(old, new.id)
        self._place(new, session, in_session=True)
        return self._orders[new.id]

    def close_position(
        self, symbol: str, qty: int | None = None, percentage: Decimal | None = None
    ) -> SimOrder:
        """Submit a day market order closing all of a position, ``qty`` shares or ``percentage`` %.

        A sell for a long position, a buy for a short one. Whole shares only: a percentage is
        rounded down.
        """
        signed = self._ledger.held(symbol)
        held = abs(signed)
        if held == 0:
            raise not_found("position does not exist")
        if qty is not None and percentage is not None:
            raise invalid("only one of qty or percentage may be given")
        if percentage is not None:
            if not 0 < percentage <= 100:
                raise invalid("percentage must be > 0 and <= 100")
            qty = int(held * percentage / 100)
        shares = held if qty is None else qty
        if shares <= 0:
            raise invalid("qty must be at least one whole share")
        side = closing_side(signed)
        return self.submit(OrderRequest(symbol, shares, side, OrderType.MARKET, TimeInForce.DAY))
