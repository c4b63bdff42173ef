"""The backtest's broker: the built-in exchange's matching engine, in process, without HTTP.

:class:`SimBroker` has the asynchronous interface of :class:`fleece.broker.Broker` that the
order manager and the trader use, and answers what the exchange's REST API would answer over
the same engine (the same :class:`~fleece.exchange.engine.Engine`, so fills, expiries, cash and
marks are the exchange's by construction): refusals become :class:`~fleece.errors.BrokerError`
with Alpaca's status and code, orders come back as :class:`~fleece.broker.BrokerOrder`, the
account's figures are whole cents as the exchange serves them. Like the exchange, every call
first brings the engine up to its current instant (what was due, such as the fill of an order
answered a moment ago, happens then), and a submission is answered before it fills. Nothing here
ever suspends, so a backtest awaits it without yielding to an event loop.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import Counter
from collections.abc import Sequence
from datetime import datetime

from fleece.errors import BrokerError
from fleece.exchange.engine import Engine
from fleece.exchange.ledger import PositionView
from fleece.exchange.order_body import order_request
from fleece.exchange.order_classes import LISTINGS, listed
from fleece.exchange.orders import (
    ExchangeError,
    OrderRequest,
    OrderType,
    SimOrder,
    TimeInForce,
)
from fleece.exchange.schemas import price
from fleece.models import (
    MAX_ORDERS_LISTED,
    AccountSnapshot,
    BrokerOrder,
    ExitOrder,
    Position,
    Side,
)


def broker_order(order: SimOrder, legs: Sequence[SimOrder] = ()) -> BrokerOrder:
    """The :class:`BrokerOrder` the REST adapter would parse from the exchange's JSON."""
    # Positional and spelled out, not fleece.derive's by-name copy: a backtest builds one for
    # every order event, and this is the cheapest way Python builds a record.
    return BrokerOrder(
        order.id,
        order.client_order_id,
        order.symbol,
        order.side,
        order.qty,
        order.filled_qty,
        order.filled_avg_price,
        order.status.value,
        order.submitted_at,
        order.updated_at,
        order.filled_at,
        tuple(broker_order(leg) for leg in legs),
    )


def _refused(exc: ExchangeError, prefix: str) -> BrokerError:
    return BrokerError(f"{prefix}: {exc.message}", exc.status, exc.code)


class SimBroker:
    """An in-process broker over a matching engine.

    Args:
        engine: the exchange's engine; the broker's "now" is the engine's time, moved forward
            with :meth:`advance_to`.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.requests: Counter[str] = Counter()
        # Orders in submission order, with their submission times, so that ``orders(after=)``
        # is a bisection rather than a scan of every order of the run.
        self._ids: list[str] = []
        self._submitted: list[datetime] = []

    @property
    def now(self) -> datetime:
        """The engine's current time."""
        return self.engine.now

    def advance_to(self, target: datetime) -> None:
        """Process every fill, expiry and session close due at or before ``target``."""
        self.engine.advance_to(target)

    def _sync(self) -> None:
        # The exchange's per-request step: what is due at the engine's now happens first.
        self.engine.advance_to(self.engine.now)

    # ---- orders --------------------------------------------------------------------------------
    async def submit_market(
        self, client_order_id: str, symbol: str, side: Side, qty: int, time_in_force: str
    ) -> BrokerOrder:
        """Submit a market order now; ``BrokerError`` when the exchange refuses it.

        The answer is the order as accepted (``pending_new``); it fills at a later call.
        """
        self.requests["submit_order"] += 1
        self._sync()
        request = OrderRequest(
            symbol=symbol,
            qty=qty,
            side=side,
            type=OrderType.MARKET,
            time_in_force=TimeInForce(time_in_force),
            client_order_id=client_order_id,
        )
        return self._submit(request)

    async def submit_exit(
        self, client_order_id: str, symbol: str, side: Side, qty: int, shape: ExitOrder
    ) -> BrokerOrder:
        """Submit a protective order (stop, limit, trailing stop or OCO), good till cancelled:
        the body Alpaca is sent (:meth:`ExitOrder.order_body`), read as the exchange reads it."""
        self.requests["submit_order"] += 1
        self._sync()
        try:
            request = order_request(shape.order_body(client_order_id, symbol, side, qty))
        except ExchangeError as exc:
            raise _refused(exc, "order refused") from None
        return self._submit(request)

    def _submit(self, request: OrderRequest) -> BrokerOrder:
        try:
            order = self.engine.submit(request)
        except ExchangeError as exc:
            raise _refused(exc, "order refused") from None
        self._ids.append(order.id)
        self._submitted.append(order.submitted_at)
        return self._answer(order)

    def _answer(self, order: SimOrder) -> BrokerOrder:
        return broker_order(order, self.engine.legs_of(order))

    async def orders(
        self, status: str = "open", after: datetime | None = None
    ) -> list[BrokerOrder]:
        """Orders by status ("open", "closed", "all") submitted after ``after``, oldest first."""
        self.requests["get_orders"] += 1
        self._sync()
        if status not in LISTINGS:
            raise BrokerError(f"get_orders failed: unknown status {status!r}", 422)
        first = 0 if after is None else bisect_right(self._submitted, after)
        found: list[BrokerOrder] = []
        for order_id in self._ids[first:]:
            order = self.engine.order(order_id)
            legs = self.engine.legs_of(order)  # nested, as the exchange answers
            if not listed(status, order, legs):
                continue
            found.append(broker_order(order, legs))
            if len(found) == MAX_ORDERS_LISTED:
                break
        return found

    async def order_by_client_id(self, client_order_id: str) -> BrokerOrder | None:
        """The order with ``client_order_id``, or None when the exchange never saw it."""
        self.requests["get_order_by_client_id"] += 1
        self._sync()
        try:
            return self._answer(self.engine.order_by_client_id(client_order_id))
        except ExchangeError as exc:
            if exc.status == 404:
                return None
            raise _refused(exc, "get_order_by_client_id failed") from None

    async def cancel_order(self, order_id: str) -> None:
        """Cancel one open order; ``BrokerError`` (422) when it is already final."""
        self.requests["cancel_order"] += 1
        self._sync()
        try:
            self.engine.cancel(order_id)
        except ExchangeError as exc:
            raise _refused(exc, "cancel_order failed") from None

    async def cancel_all_orders(self) -> int:
        """Cancel every open order; returns how many."""
        self.requests["cancel_orders"] += 1
        self._sync()
        return len(self.engine.cancel_all())

    # ---- account ------------------------------------------------------------------------------
    def account_now(self) -> AccountSnapshot:
        """The account as ``GET /v2/account`` reports it now (synchronous form)."""
        self._sync()
        view = self.engine.account()
        return AccountSnapshot(
            equity=view.equity_cents / 100,
            cash=view.cash_cents / 100,
            buying_power=view.buying_power_cents / 100,
            last_equity=view.last_equity_cents / 100,
            long_market_value=view.long_market_value_cents / 100,
            short_market_value=view.short_market_value_cents / 100,
        )

    async def account(self) -> AccountSnapshot:
        """The account's equity, cash, buying power and last equity, in dollars to the cent."""
        self.requests["get_account"] += 1
        return self.account_now()

    async def positions(self) -> dict[str, Position]:
        """Every open position, keyed by symbol."""
        self.requests["get_all_positions"] += 1
        self._sync()
        return {view.symbol: _position(view) for view in self.engine.positions()}

    async def position(self, symbol: str) -> Position | None:
        """The position in ``symbol`` now (None when there is none)."""
        self.requests["get_open_position"] += 1
        self._sync()
        try:
            return _position(self.engine.position(symbol))
        except ExchangeError:
            return None


def _position(view: PositionView) -> Position:
    return Position(
        symbol=view.symbol,
        qty=view.qty,
        avg_entry_price=float(price(view.avg_entry_price)),
        market_value=view.market_value_cents / 100,
        unrealized_pl=view.unrealized_pl_cents / 100,
    )
