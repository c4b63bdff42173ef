"""The broker adapter: alpaca-py's blocking clients behind an asyncio interface that owns retries.

Every call runs in a worker thread (``asyncio.to_thread``) so the event loop never blocks, with the
request timeout set where the clients are built (:mod:`fleece.paper_lock`). alpaca-py's own retry
loop is switched off: its ``RESTClient`` retries 429 and 504 three times, 3 s apart, asleep in the
calling thread, and for a POST too, so a 504 (which may have reached Alpaca) would re-send an
order blindly. This module decides instead:

- Every request first asks the API's :class:`~fleece.rate_budget.RateBudget` (fed by the
  ``X-RateLimit-*`` headers of every answer) whether to wait for the window's reset.
- Reads retry on 5xx, 429 and network errors, with capped exponential backoff (after a 429 that
  says when the window renews: no backoff, the budget waits for the reset; ``Retry-After`` is
  honoured when present), then raise :class:`~fleece.errors.BrokerError`.
- An order submission is never blindly re-sent. A 429 is Alpaca's rate limiter refusing the request
  before it is processed: the adapter waits for the reset, looks the order up by
  ``client_order_id``, and only if the broker does not have it sends it again, with the same
  client_order_id (which Alpaca would refuse as a duplicate). Any other definite refusal (4xx)
  raises ``BrokerError`` at once; anything ambiguous (timeout, dropped connection, 5xx) raises
  :class:`~fleece.errors.AmbiguousSubmitError`, and the order manager looks the order up by
  ``client_order_id`` before it decides anything else.

Answers are read as raw JSON and parsed defensively here: an unknown status, a missing field or an
HTML body becomes a ``BrokerError`` (or a skipped bar), never a crash of the runtime.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, TypeVar

from alpaca.common.enums import Sort
from alpaca.data.enums import DataFeed
from alpaca.data.requests import StockBarsRequest
from alpaca.data.timeframe import TimeFrame
from alpaca.trading.enums import OrderSide, QueryOrderStatus, TimeInForce
from alpaca.trading.requests import (
    ClosePositionRequest,
    GetCalendarRequest,
    GetOrdersRequest,
    MarketOrderRequest,
    OrderRequest,
)

from fleece.backoff import backoff_delay
from fleece.broker_answers import (
    Failure,
    classify,
    parse_account,
    parse_calendar_day,
    parse_clock,
    parse_order,
    parse_position,
)
from fleece.broker_requests import exit_request
from fleece.data.parsing import parse_bar
from fleece.errors import AmbiguousSubmitError, BrokerError

# The broker's facts are plain data in fleece.models, so that the decision core and the backtest
# use them without importing alpaca-py; they are re-exported here for the adapter's callers.
from fleece.models import (
    MAX_ORDERS_LISTED,
    AccountSnapshot,
    Bar,
    BrokerOrder,
    CalendarDay,
    ExitOrder,
    MarketClock,
    Position,
    Side,
)
from fleece.rate_budget import RateBudget

log = logging.getLogger(__name__)
T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How reads are retried: ``attempts`` tries, backoff doubling from ``base`` to ``cap``."""

    attempts: int = 5
    base_seconds: float = 0.25
    cap_seconds: float = 8.0
    max_retry_after: float = 60.0


class Broker:
    """Async facade over alpaca-py's ``TradingClient`` and ``StockHistoricalDataClient``.

    Args:
        trading: an alpaca-py TradingClient built by :func:`fleece.paper_lock.make_trading_client`
            with ``raw_data=True``.
        data: an alpaca-py StockHistoricalDataClient built likewise.
        feed: the market-data feed ("iex" for free accounts, or "sip").
        policy: how reads are retried.
        sleep: injected so tests and simulated time can shorten backoff.
        now: the bot's clock, which the rate-limit budgets wait by (the wall clock by default).
        wait_until: waits until an instant of that clock (real sleeping by default).
    """

    def __init__(
        self,
        trading: Any,
        data: Any,
        *,
        feed: str = "iex",
        policy: RetryPolicy | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        now: Callable[[], datetime] | None = None,
        wait_until: Callable[[datetime], Awaitable[None]] | None = None,
    ) -> None:
        timing: dict[str, Any] = {"now": now} if now is not None else {}
        if wait_until is not None:
            timing["wait_until"] = wait_until
        self.budgets = {
            "trading": RateBudget("trading", **timing),
            "data": RateBudget("data", **timing),
        }
        for client, budget in ((trading, self.budgets["trading"]), (data, self.budgets["data"])):
            # alpaca-py would otherwise sleep 3 s in our worker thread on 429/504 and re-send
            # (a POST too); we own retries. Its session hands us every answer's headers.
            client._retry = 0
            client._retry_codes = []
            session = getattr(client, "_session", None)
            if session is not None:
                session.hooks["response"].append(budget.observe)
        self._trading = trading
        self._data = data
        self._feed = DataFeed(feed)
        self._policy = policy or RetryPolicy()
        self._sleep = sleep
        self.requests: Counter[str] = Counter()
        self.errors: Counter[str] = Counter()

    @property
    def waiting_for_reset(self) -> bool:
        """True while a request waits for a rate-limit window to renew."""
        return any(budget.waiting for budget in self.budgets.values())

    async def _lookup(
        self, name: str, fn: Callable[[str], Any], key: str, parse: Callable[[Any], R]
    ) -> R | None:
        """Read one thing by ``key`` and parse it; None when the broker has no such thing (404)."""
        try:
            raw = await self._call(name, fn, key)
        except BrokerError as exc:
            if exc.status == 404:
                return None
            raise
        return parse(raw)

    async def _call(
        self,
        name: str,
        fn: Callable[..., T],
        *args: Any,
        retry: bool = True,
        api: str = "trading",
        gated: bool = True,
    ) -> T:
        budget = self.budgets[api]
        attempt = 0
        while True:
            if gated:
                await budget.turn()
            self.requests[name] += 1
            try:
                return await asyncio.to_thread(fn, *args)
            except Exception as exc:  # every failure is classified; none escapes unlabelled
                failure = classify(exc)
                self.errors[f"{name}:{failure.status or 'net'}"] += 1
                attempt += 1
                if not retry or not failure.retryable or attempt >= self._policy.attempts:
                    raise BrokerError(
                        f"{name} failed: {failure.message}", failure.status, failure.code
                    ) from None
                delay = backoff_delay(attempt, self._policy.base_seconds, self._policy.cap_seconds)
                if failure.status == 429 and budget.knows_reset and gated:
                    delay = 0.0  # the budget waits for the window's reset before the retry
                if failure.retry_after is not None:
                    delay = max(delay, min(failure.retry_after, self._policy.max_retry_after))
                log.warning(
                    "broker retry call=%s attempt=%d status=%s delay=%.2fs reason=%s",
                    name,
                    attempt,
                    failure.status,
                    delay,
                    failure.message,
                )
                await self._sleep(delay)

    # ---- account and positions -------------------------------------------------------------
    async def account(self) -> AccountSnapshot:
        """The account's equity, cash, buying power and last (previous close) equity."""
        return parse_account(await self._call("get_account", self._trading.get_account))

    async def position(self, symbol: str) -> Position | None:
        """The account's position in ``symbol`` now (None when there is none)."""
        get = self._trading.get_open_position
        return await self._lookup("get_open_position", get, symbol, parse_position)

    async def positions(self) -> dict[str, Position]:
        """Every open position, keyed by symbol."""
        raw = await self._call("get_all_positions", self._trading.get_all_positions)
        if not isinstance(raw, list):
            raise BrokerError("bad broker answer: positions is not a list")
        return {p.symbol: p for p in map(parse_position, raw)}

    # ---- orders ----------------------------------------------------------------------------
    async def orders(
        self, status: str = "open", after: datetime | None = None
    ) -> list[BrokerOrder]:
        """Orders by status ("open", "closed", "all"), oldest first, up to Alpaca's page of 500.

        Nested: a bracket's or an OCO's legs come under their primary order (a leg has no
        client_order_id of ours, so listed alone it would read as someone else's order).
        """
        request = GetOrdersRequest(
            status=QueryOrderStatus(status),
            after=after,
            limit=MAX_ORDERS_LISTED,
            direction=Sort.ASC,
            nested=True,
        )
        raw = await self._call("get_orders", self._trading.get_orders, request)
        if not isinstance(raw, list):
            raise BrokerError("bad broker answer: orders is not a list")
        parsed: list[BrokerOrder] = []
        for item in raw:
            try:
                parsed.append(parse_order(item))
            except BrokerError as exc:
                log.warning("skipped unreadable order in list: %s", exc)
        return parsed

    async def order_by_client_id(self, client_order_id: str) -> BrokerOrder | None:
        """Look an order up by our client_order_id; None when the broker has never seen it."""
        get = self._trading.get_order_by_client_id
        return await self._lookup("get_order_by_client_id", get, client_order_id, parse_order)

    async def submit_market(
        self, client_order_id: str, symbol: str, side: Side, qty: int, time_in_force: str
    ) -> BrokerOrder:
        """Submit a market order once; ``AmbiguousSubmitError`` when the outcome is unknown."""
        request = MarketOrderRequest(
            symbol=symbol,
            qty=qty,
            side=OrderSide(side.value),
            time_in_force=TimeInForce(time_in_force),
            client_order_id=client_order_id,
        )
        return await self._submit(client_order_id, request)

    async def submit_exit(
        self, client_order_id: str, symbol: str, side: Side, qty: int, shape: ExitOrder
    ) -> BrokerOrder:
        """Submit a protective order (stop, limit, trailing stop or OCO), good till cancelled,
        once; ``AmbiguousSubmitError`` when the outcome is unknown."""
        return await self._submit(
            client_order_id, exit_request(client_order_id, symbol, side, qty, shape)
        )

    async def _submit(self, client_order_id: str, request: OrderRequest) -> BrokerOrder:
        budget = self.budgets["trading"]
        failure: Failure | None = None
        for _ in range(self._policy.attempts):
            await budget.turn(urgent=True)
            self.requests["submit_order"] += 1
            try:
                raw = await asyncio.to_thread(self._trading.submit_order, request)
            except Exception as exc:
                failure = classify(exc)
                self.errors[f"submit_order:{failure.status or 'net'}"] += 1
                if failure.status == 429:
                    found = await self._after_rate_limit(client_order_id, failure)
                    if found is not None:
                        return found
                    continue  # certainly not at the broker: the same order, after the reset
                if failure.definite:
                    raise BrokerError(
                        f"order refused: {failure.message}", failure.status, failure.code
                    ) from None
                raise AmbiguousSubmitError(
                    f"order outcome unknown: {failure.message}", failure.status, failure.code
                ) from None
            try:
                return parse_order(raw)
            except BrokerError as exc:
                # The broker took the order but its answer is unreadable: look it up, don't resend.
                raise AmbiguousSubmitError(str(exc)) from None
        assert failure is not None
        raise BrokerError(
            f"order refused: {failure.message} ({self._policy.attempts} times)",
            failure.status,
            failure.code,
        )

    async def _after_rate_limit(self, client_order_id: str, failure: Failure) -> BrokerOrder | None:
        """After a 429 on an order: wait for the reset, then look the order up (never blind)."""
        if failure.retry_after is not None:
            await self._sleep(min(failure.retry_after, self._policy.max_retry_after))
        log.warning(
            "order rate-limited cid=%s: waiting for the reset, then looking it up", client_order_id
        )
        return await self.order_by_client_id(client_order_id)

    async def cancel_order(self, order_id: str) -> None:
        """Cancel one order; an order that is already final is not an error worth retrying."""
        await self._call("cancel_order", self._trading.cancel_order_by_id, order_id)

    async def cancel_all_orders(self) -> int:
        """Cancel every open order; returns how many the broker reported."""
        raw = await self._call("cancel_orders", self._trading.cancel_orders)
        return len(raw) if isinstance(raw, list) else 0

    async def close_all_positions(self) -> int:
        """Close every position with market orders (cancelling open orders first)."""
        raw = await self._call("close_all_positions", self._trading.close_all_positions, True)
        return len(raw) if isinstance(raw, list) else 0

    async def close_position(self, symbol: str, qty: int | None = None) -> None:
        """Close one position, wholly or ``qty`` shares."""
        options = ClosePositionRequest(qty=str(qty)) if qty else None
        await self._call("close_position", self._trading.close_position, symbol, options)

    async def asset(self, symbol: str) -> Mapping[str, Any] | None:
        """The asset ``symbol`` as the broker describes it (status, tradable); None if unknown."""
        return await self._lookup("get_asset", self._trading.get_asset, symbol, _asset)

    # ---- clock, calendar, bars -------------------------------------------------------------
    async def clock(self) -> MarketClock:
        """The broker's market clock."""
        # Ungated: only a loopback exchange's clock is read (by the runtime), and waiting for a
        # rate-limit reset needs that very clock.
        return parse_clock(await self._call("get_clock", self._trading.get_clock, gated=False))

    async def calendar(self, start: date, end: date) -> list[CalendarDay]:
        """Trading days between ``start`` and ``end`` from the broker's calendar."""
        raw = await self._call(
            "get_calendar", self._trading.get_calendar, GetCalendarRequest(start=start, end=end)
        )
        days: list[CalendarDay] = []
        for item in raw if isinstance(raw, list) else []:
            day = parse_calendar_day(item)
            if day is None:
                log.warning("skipped unreadable calendar day: %r", item)
            else:
                days.append(day)
        return days

    async def bars(
        self, symbols: Sequence[str], start: datetime, end: datetime | None = None
    ) -> tuple[dict[str, list[Bar]], list[tuple[str, str]]]:
        """1-minute bars for all ``symbols`` in ONE multi-symbol request (alpaca-py follows pages).

        Returns the parsed bars per symbol and the (symbol, reason) of every raw bar skipped.
        """
        request = StockBarsRequest(
            symbol_or_symbols=list(symbols),
            timeframe=TimeFrame.Minute,
            start=start,
            end=end,
            feed=self._feed,
            sort=Sort.ASC,
        )
        raw = await self._call("get_stock_bars", self._data.get_stock_bars, request, api="data")
        if not isinstance(raw, Mapping):
            raise BrokerError("bad broker answer: bars is not an object")
        out: dict[str, list[Bar]] = {}
        skipped: list[tuple[str, str]] = []
        for symbol, items in raw.items():
            if not isinstance(items, list):
                skipped.append((str(symbol), "not_a_list"))
                continue
            for item in items:
                parsed = parse_bar(str(symbol), item) if isinstance(item, Mapping) else "wrong_type"
                if isinstance(parsed, Bar):
                    out.setdefault(str(symbol), []).append(parsed)
                else:
                    skipped.append((str(symbol), parsed))
        return out, skipped


def _asset(raw: Any) -> Mapping[str, Any]:
    if not isinstance(raw, Mapping):
        raise BrokerError("bad broker answer: asset is not an object")
    return raw
