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
- Market order: fills at that bar's OPEN, at the instant the bar starts, plus slippage
  (``slippage_bps``: a buy pays more, a sell receives less; rounded to 4 decimals).
- Limit order, bar by bar: at the bar's start, if the open is at or through the limit it fills at
  the open; otherwise at the bar's close, if the bar traded through the limit (buy: low <= limit;
  sell: high >= limit) it fills at the limit. Equivalently the price is ``min(limit, open)`` for a
  buy and ``max(limit, open)`` for a sell. No slippage on limit fills.
- Day orders still open at their session's close expire; an order submitted while the market is
  closed belongs to the next session. Orders fill whole, unless a :class:`FillSplit` (paper-like
  partial fills, :mod:`fleece.exchange.partial_fills`, or fault injection) says otherwise: then
  the rest fills on the order's next eligible bar.

The rules an order meets before it is accepted (wash trades, quantities, shorting, buying power)
live in :mod:`fleece.exchange.account_rules`; the money side (cash, positions, marks, equity to
the cent, the margin account's buying power) in :mod:`fleece.exchange.ledger`.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Protocol

from fleece.calendar import ONE_MINUTE, MarketCalendar
from fleece.exchange.account_rules import AssetLookup, check_asset, check_position, check_wash_trade
from fleece.exchange.ledger import AccountView, Ledger, PositionView, cents_of
from fleece.exchange.market import BarStore
from fleece.exchange.orders import (
    CODE_UNPROCESSABLE,
    MAX_CLIENT_ORDER_ID,
    ExchangeError,
    IdSource,
    OrderRequest,
    OrderStatus,
    OrderType,
    SimOrder,
    TimeInForce,
    forbidden,
    invalid,
    not_found,
)
from fleece.models import Bar, Side, to_ticks

_TICK = Decimal("0.0001")
# Event phases at one instant: a bar's close is judged before the session closes, both before an
# order is routed, and routing before the next bar opens.
_BAR_CLOSE, _SESSION_CLOSE, _ROUTE, _BAR_OPEN = 0, 1, 2, 3
_Event = tuple[datetime, int, int, str, str, Bar | None]


class FillSplit(Protocol):
    """Decides how many shares of an order fill now (fault injection's partial fills)."""

    def fill_qty(self, order: SimOrder) -> int:
        """Shares to fill now, between 1 and the order's unfilled quantity."""
        ...


class Engine:
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

    # Every attribute, declared here: the state file saves and restores each by its type
    # (fleece.exchange.typed_json), and refuses to save one that is not declared.
    _store: BarStore
    _calendar: MarketCalendar
    _slip: Decimal
    _ids: IdSource
    _now: datetime
    _ledger: Ledger
    _next_close: datetime
    _orders: dict[str, SimOrder]
    _by_client: dict[str, str]
    _open: dict[str, None]
    _events: list[_Event]
    _seq: Iterator[int]
    _assets: AssetLookup | None
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
        self._slip = Decimal(str(slippage_bps)) / 10_000
        self._ids = ids
        self._now = start
        self._ledger = Ledger(store, cash_cents, _previous_close(calendar, start))
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

    @property
    def now(self) -> datetime:
        """The instant the engine has processed up to."""
        return self._now

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

        The answer is the order as accepted (``pending_new`` or ``accepted``, nothing filled);
        it is routed and filled by later calls of :meth:`advance_to`, the earliest at this very
        instant.
        """
        now = self._now
        check_asset(request.symbol, self._store.has(request.symbol), self._assets)
        client_id = request.client_order_id or self._ids.next_id()
        if len(client_id) > MAX_CLIENT_ORDER_ID:
            raise invalid(f"client_order_id must be no more than {MAX_CLIENT_ORDER_ID} characters")
        if client_id in self._by_client:
            raise invalid("client_order_id must be unique")
        check_wash_trade(request, self._open_orders())
        eligible = now.replace(second=0, microsecond=0)
        session = self._calendar.next_session(now)
        reserved = self._check_affordable(request, eligible)
        in_session = session.open <= now
        order = SimOrder(
            id=self._ids.next_id(),
            client_order_id=client_id,
            symbol=request.symbol,
            side=request.side,
            type=request.type,
            time_in_force=request.time_in_force,
            qty=request.qty,
            limit_price=request.limit_price,
            submitted_at=now,
            eligible_from=eligible,
            expires_at=session.close if request.time_in_force is TimeInForce.DAY else None,
            reserved_cents=reserved,
            status=OrderStatus.PENDING_NEW if in_session else OrderStatus.ACCEPTED,
            updated_at=now,
        )
        self._orders[order.id] = order
        self._by_client[client_id] = order.id
        self._open[order.id] = None
        self._push(now if in_session else session.open, _ROUTE, "route", order.id, None)
        if order.expires_at is not None:
            self._push(order.expires_at, _SESSION_CLOSE, "expire", order.id, None)
        self._schedule_bar(order, eligible)
        return order

    def _route(self, order: SimOrder) -> None:
        if order.status in (OrderStatus.PENDING_NEW, OrderStatus.ACCEPTED):
            self._orders[order.id] = replace(order, status=OrderStatus.NEW, updated_at=self._now)

    def _check_affordable(self, request: OrderRequest, eligible: datetime) -> int:
        """The buying power ``request`` holds once accepted (0 when it closes a position)."""
        account = self.account()
        adds = check_position(
            request,
            self._ledger.held(request.symbol),
            self._open_orders(),
            shorting_enabled=account.shorting_enabled,
            assets=self._assets,
        )
        if not adds:
            return 0
        if request.limit_price is not None:
            estimate = Decimal(str(request.limit_price))
        else:
            price = self._ledger.mark(request.symbol, self._now)
            if price is None:  # no bar has closed yet: the order's own bar is the only price
                bar = self._store.next_regular(request.symbol, eligible)
                if bar is None:
                    raise invalid(f"no price available for {request.symbol}")
                price = bar.open
            estimate = self._slipped(price, request.side)
        reserved = cents_of(to_ticks(float(estimate)), request.qty)
        if reserved > account.buying_power_cents:
            raise forbidden("insufficient buying power")
        return reserved

    def _free_qty(self, symbol: str) -> int:
        """A position's quantity less what open orders closing it hold (signed like the qty)."""
        held = self._ledger.held(symbol)
        closing = Side.SELL if held > 0 else Side.BUY
        working = sum(
            o.qty - o.filled_qty
            for o in self._open_orders()
            if o.symbol == symbol and o.side is closing
        )
        return held - working if held > 0 else held + working

    def _schedule_bar(self, order: SimOrder, at: datetime) -> None:
        bar = self._store.next_regular(order.symbol, at)
        if bar is None:
            return  # no more data: the order waits for its expiry or a cancel
        if order.expires_at is not None and bar.timestamp >= order.expires_at:
            return
        self._push(bar.timestamp, _BAR_OPEN, "open", order.id, bar)

    def _on_order_event(self, kind: str, order: SimOrder, bar: Bar | None) -> None:
        if not order.status.is_open:
            return  # cancelled or filled since the event was scheduled
        if kind == "expire":
            self._finish(replace(order, status=OrderStatus.EXPIRED, expired_at=self._now))
            return
        assert bar is not None
        limit = order.limit_price
        if order.type is OrderType.MARKET:
            self._fill(order, float(self._slipped(bar.open, order.side)))
        elif kind == "open":
            assert limit is not None
            if _crosses(order.side, limit, bar.open, bar.open):
                self._fill(order, bar.open)
            else:
                self._push(bar.timestamp + ONE_MINUTE, _BAR_CLOSE, "close", order.id, bar)
                return
        else:
            assert limit is not None
            if _crosses(order.side, limit, bar.low, bar.high):
                self._fill(order, limit)
            else:
                self._schedule_bar(order, bar.timestamp + ONE_MINUTE)
                return
        if self._orders[order.id].status.is_open:  # partly filled: the rest on a later bar
            self._schedule_bar(self._orders[order.id], bar.timestamp + ONE_MINUTE)

    def _slipped(self, price: float, side: Side) -> Decimal:
        factor = 1 + self._slip if side is Side.BUY else 1 - self._slip
        return (Decimal(str(price)) * factor).quantize(_TICK, rounding=ROUND_HALF_UP)

    def _fill(self, order: SimOrder, price: float) -> None:
        remaining = order.qty - order.filled_qty
        qty = remaining
        for split in (self.fill_split, self.partial_fills):
            if split is not None:
                qty = max(1, min(qty, split.fill_qty(order)))
        self._ledger.apply_fill(order.symbol, order.side, qty, price, self._now)
        done = order.filled_qty + qty
        average = price
        if order.filled_avg_price is not None and order.filled_qty:
            paid = Decimal(str(order.filled_avg_price)) * order.filled_qty
            average = float(((paid + Decimal(str(price)) * qty) / done).quantize(_TICK))
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
        if done == order.qty:
            self._finish(filled)
        else:
            self._orders[order.id] = replace(filled, updated_at=self._now)

    def _finish(self, order: SimOrder) -> None:
        self._orders[order.id] = replace(order, updated_at=self._now)
        self._open.pop(order.id, None)

    def cancel(self, order_id: str) -> SimOrder:
        """Cancel an open order; 404 if unknown, 422 if it is already final."""
        order = self.order(order_id)
        if not order.status.is_open:
            raise ExchangeError(
                422, CODE_UNPROCESSABLE, f'order is already in "{order.status}" state'
            )
        self._finish(replace(order, status=OrderStatus.CANCELED, canceled_at=self._now))
        return self._orders[order_id]

    def cancel_all(self) -> list[SimOrder]:
        """Cancel every open order; return them as cancelled."""
        return [self.cancel(order_id) for order_id in list(self._open)]

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
        side = Side.SELL if signed > 0 else Side.BUY
        return self.submit(OrderRequest(symbol, shares, side, OrderType.MARKET, TimeInForce.DAY))

    # ---------------------------------------------------------------- queries

    def order(self, order_id: str) -> SimOrder:
        """The order with ``order_id``; 404 if unknown."""
        found = self._orders.get(order_id)
        if found is None:
            raise not_found("order not found")
        return found

    def order_by_client_id(self, client_order_id: str) -> SimOrder:
        """The order with ``client_order_id``; 404 if unknown."""
        order_id = self._by_client.get(client_order_id)
        if order_id is None:
            raise not_found("order not found")
        return self._orders[order_id]

    @property
    def order_count(self) -> int:
        """How many orders were accepted so far."""
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


def _crosses(side: Side, limit: float, low: float, high: float) -> bool:
    """True when prices between ``low`` and ``high`` reach a ``side`` limit order's price."""
    return low <= limit if side is Side.BUY else high >= limit


def _previous_close(calendar: MarketCalendar, at: datetime) -> datetime | None:
    """The close of the last session that ended at or before ``at``."""
    current = calendar.next_session(at)
    earlier = calendar.sessions(current.day - timedelta(days=15), current.day - timedelta(days=1))
    return earlier[-1].close if earlier else None
