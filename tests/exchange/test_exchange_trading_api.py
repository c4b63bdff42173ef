"""The Trading API through the official alpaca-py client, over real HTTP on 127.0.0.1.

The ``served`` exchange holds SPY and IBM (2013-10-04..11) and stands at 2013-10-07 09:30 New
York until advanced.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import exchange_calendars as xcals
import httpx
import pytest
from alpaca.common.exceptions import APIError
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import OrderSide, OrderStatus, QueryOrderStatus, TimeInForce
from alpaca.trading.requests import (
    ClosePositionRequest,
    GetCalendarRequest,
    GetOrdersRequest,
    LimitOrderRequest,
    MarketOrderRequest,
)
from exchange_helpers import KEY, Served, fixture_bars

from fleece.exchange.schemas import ORDER_REQUEST_BODY
from fleece.models import MAX_CLIENT_ORDER_ID, MAX_ORDERS_LISTED

UNKNOWN_ID = "00000000-0000-4000-8000-000000000000"


def buy(symbol: str, qty: float, **kw: Any) -> MarketOrderRequest:
    return MarketOrderRequest(
        symbol=symbol, qty=qty, side=OrderSide.BUY, time_in_force=TimeInForce.DAY, **kw
    )


def sell(symbol: str, qty: float, **kw: Any) -> MarketOrderRequest:
    return MarketOrderRequest(
        symbol=symbol, qty=qty, side=OrderSide.SELL, time_in_force=TimeInForce.DAY, **kw
    )


def far_limit(symbol: str, qty: float, **kw: Any) -> LimitOrderRequest:
    """A limit buy far below the market: it stays open."""
    return LimitOrderRequest(
        symbol=symbol,
        qty=qty,
        side=OrderSide.BUY,
        time_in_force=TimeInForce.DAY,
        limit_price=1.0,
        **kw,
    )


def api_error(call: Callable[[], object]) -> APIError:
    with pytest.raises(APIError) as caught:
        call()
    return caught.value


def first_open(symbol: str) -> float:
    """The open of the 2013-10-07 09:30 New York bar."""
    return next(
        b.open
        for b in fixture_bars()[symbol]
        if b.timestamp.isoformat().startswith("2013-10-07T13:30")
    )


# ---------------------------------------------------------------- auth and error shapes


def test_the_account_is_a_margin_account_whose_equity_is_cash_plus_market_value(
    served: Served,
) -> None:
    served.trading.submit_order(buy("SPY", 10))

    account = served.trading.get_account()

    assert Decimal(account.equity) == Decimal(account.cash) + Decimal(account.long_market_value)
    assert account.last_equity == "100000.00"
    assert (account.multiplier, account.shorting_enabled) == ("2", True)
    assert Decimal(account.buying_power) == 2 * Decimal(account.equity) - Decimal(
        account.long_market_value
    )


def test_wrong_keys_get_401_in_alpacas_shape_without_echoing_the_keys(served: Served) -> None:
    intruder = TradingClient(KEY, "not-the-secret-4242", paper=True, url_override=served.url)

    error = api_error(intruder.get_account)

    assert (error.status_code, error.code, error.message) == (
        401,
        40110000,
        "request is not authorized",
    )
    assert "4242" not in str(error) and KEY not in str(error)


@pytest.mark.parametrize("path", ["/v2/stocks/bars?symbols=SPY&timeframe=1Min", "/v1/sim/state"])
def test_data_and_admin_routes_need_the_keys_too(served: Served, path: str) -> None:
    answer = httpx.get(served.url + path, timeout=30)

    assert (answer.status_code, answer.json()["code"]) == (401, 40110000)


def test_validation_errors_and_unknown_routes_answer_in_alpacas_shape(served: Served) -> None:
    bad_advance = served.http.post("/v1/sim/advance", json={"minutes": -1})
    not_json = served.http.post(
        "/v2/orders", content=b"{", headers={"content-type": "application/json"}
    )
    no_route = served.http.get("/v2/nowhere")

    assert (bad_advance.status_code, bad_advance.json()["code"]) == (422, 40010001)
    assert (not_json.status_code, not_json.json()["code"]) == (422, 40010001)
    assert (no_route.status_code, no_route.json()["code"]) == (404, 40410000)
    assert all(isinstance(r.json()["message"], str) for r in (bad_advance, not_json, no_route))


# ---------------------------------------------------------------- orders


def test_a_market_order_fills_at_the_current_bars_open_and_is_found_by_both_ids(
    served: Served,
) -> None:
    order = served.trading.submit_order(buy("SPY", 10, client_order_id="spy-1"))

    by_id = served.trading.get_order_by_id(order.id)
    by_client_id = served.trading.get_order_by_client_id("spy-1")

    assert by_id == by_client_id
    assert (by_id.status, by_id.filled_qty, Decimal(by_id.filled_avg_price)) == (
        OrderStatus.FILLED,
        "10",
        Decimal(str(first_open("SPY"))),
    )


def test_a_client_order_id_is_generated_when_absent(served: Served) -> None:
    order = served.trading.submit_order(buy("SPY", 1))

    assert len(order.client_order_id) == 36


def test_order_listing_filters_by_status_symbols_limit_and_direction(served: Served) -> None:
    filled = served.trading.submit_order(buy("SPY", 1))
    open_ibm = served.trading.submit_order(far_limit("IBM", 1))
    open_spy = served.trading.submit_order(far_limit("SPY", 1))

    default = served.trading.get_orders()
    closed = served.trading.get_orders(GetOrdersRequest(status=QueryOrderStatus.CLOSED))
    ibm = served.trading.get_orders(GetOrdersRequest(status=QueryOrderStatus.ALL, symbols=["IBM"]))
    oldest = served.trading.get_orders(
        GetOrdersRequest(status=QueryOrderStatus.ALL, limit=2, direction="asc")
    )

    assert [o.id for o in default] == [open_spy.id, open_ibm.id]  # open, newest first
    assert [o.id for o in closed] == [filled.id]
    assert [o.id for o in ibm] == [open_ibm.id]
    assert [o.id for o in oldest] == [filled.id, open_ibm.id]


def test_order_listing_filters_on_submission_time_with_after_and_until(served: Served) -> None:
    early = served.trading.submit_order(far_limit("SPY", 1))
    served.advance(10)
    late = served.trading.submit_order(far_limit("SPY", 1))
    cut = served.now() - timedelta(minutes=5)

    after = served.trading.get_orders(GetOrdersRequest(after=cut))
    until = served.trading.get_orders(GetOrdersRequest(until=cut))

    assert [o.id for o in after] == [late.id]
    assert [o.id for o in until] == [early.id]


def test_the_page_the_bot_asks_for_is_the_largest_the_listing_answers(served: Served) -> None:
    # Alpaca's ceiling (500), which Broker.orders asks for: one more is refused.
    largest = served.http.get("/v2/orders", params={"limit": MAX_ORDERS_LISTED})
    beyond = served.http.get("/v2/orders", params={"limit": MAX_ORDERS_LISTED + 1})

    assert (MAX_ORDERS_LISTED, largest.status_code) == (500, 200)
    assert (beyond.status_code, beyond.json()["code"]) == (422, 40010001)


def test_cancelling_an_order_answers_204_and_the_order_reads_cancelled(served: Served) -> None:
    order = served.trading.submit_order(far_limit("SPY", 1))

    answer = served.http.delete(f"/v2/orders/{order.id}")

    assert answer.status_code == 204
    assert served.trading.get_order_by_id(order.id).status == OrderStatus.CANCELED


def test_cancelling_all_orders_answers_207_with_one_entry_per_order(served: Served) -> None:
    orders = [served.trading.submit_order(far_limit(s, 1)) for s in ("SPY", "IBM")]

    answers = served.trading.cancel_orders()

    assert {(a.id, a.status) for a in answers} == {(o.id, 200) for o in orders}
    assert all(a.body and a.body["status"] == "canceled" for a in answers)


def test_cancelling_a_filled_order_is_422_and_an_unknown_order_404(served: Served) -> None:
    filled = served.trading.submit_order(buy("SPY", 1))

    final = api_error(lambda: served.trading.cancel_order_by_id(filled.id))
    unknown = api_error(lambda: served.trading.cancel_order_by_id(UNKNOWN_ID))

    assert (final.status_code, final.code) == (422, 42210000)
    assert (unknown.status_code, unknown.code) == (404, 40410000)


def test_unknown_orders_are_404_by_id_and_by_client_order_id(served: Served) -> None:
    by_id = api_error(lambda: served.trading.get_order_by_id(UNKNOWN_ID))
    by_client_id = api_error(lambda: served.trading.get_order_by_client_id("nobody"))

    assert (by_id.status_code, by_id.code) == (404, 40410000)
    assert (by_client_id.status_code, by_client_id.code) == (404, 40410000)


def test_a_duplicate_client_order_id_is_refused_with_alpacas_message(served: Served) -> None:
    served.trading.submit_order(buy("SPY", 1, client_order_id="once"))

    error = api_error(lambda: served.trading.submit_order(buy("SPY", 1, client_order_id="once")))

    assert (error.status_code, error.code, error.message) == (
        422,
        40010001,
        "client_order_id must be unique",
    )


def test_a_buy_beyond_buying_power_is_403(served: Served) -> None:
    error = api_error(lambda: served.trading.submit_order(buy("SPY", 1_200)))  # ~$200k > 2x

    assert (error.status_code, error.code, error.message) == (
        403,
        40310000,
        "insufficient buying power",
    )


def test_selling_more_than_held_is_403(served: Served) -> None:
    served.trading.submit_order(buy("SPY", 5))

    error = api_error(lambda: served.trading.submit_order(sell("SPY", 6)))

    assert (error.status_code, error.code, error.message) == (
        403,
        40310000,
        "insufficient qty available for order (requested: 6, available: 5)",
    )


@pytest.mark.parametrize(
    "request_",
    [
        buy("NOPE", 1),
        buy("SPY", 1.5),
        MarketOrderRequest(symbol="SPY", notional=100, side=OrderSide.BUY, time_in_force="day"),
        MarketOrderRequest(symbol="SPY", qty=1, side=OrderSide.BUY, time_in_force="ioc"),
        LimitOrderRequest(
            symbol="SPY", qty=1, side="buy", time_in_force="day", limit_price=1, extended_hours=True
        ),
        LimitOrderRequest(symbol="SPY", qty=1, side="buy", time_in_force="day", limit_price=1.001),
        buy("SPY", 1, client_order_id="x" * 129),
    ],
    ids=["unknown-symbol", "fractional", "notional", "ioc", "extended", "sub-penny", "long-id"],
)
def test_orders_the_exchange_cannot_fill_are_422(served: Served, request_: Any) -> None:
    error = api_error(lambda: served.trading.submit_order(request_))

    assert (error.status_code, error.code) == (422, 40010001)


def test_the_longest_client_order_id_the_order_schema_allows_is_accepted(served: Served) -> None:
    body = ORDER_REQUEST_BODY["content"]["application/json"]["schema"]["properties"]
    longest = body["client_order_id"]["maxLength"]

    order = served.trading.submit_order(buy("SPY", 1, client_order_id="x" * longest))

    assert longest == MAX_CLIENT_ORDER_ID == 128  # one more is refused (long-id above)
    assert order.client_order_id == "x" * longest


# ---------------------------------------------------------------- positions


def test_a_position_reads_back_and_an_unknown_one_is_404(served: Served) -> None:
    served.trading.submit_order(buy("SPY", 10))

    position = served.trading.get_open_position("SPY")
    error = api_error(lambda: served.trading.get_open_position("IBM"))

    assert (position.qty, position.qty_available, position.side) == ("10", "10", "long")
    assert Decimal(position.avg_entry_price) == Decimal(str(first_open("SPY")))
    assert (error.status_code, error.code) == (404, 40410000)


def test_closing_a_position_by_qty_or_percentage_sells_that_many_shares(served: Served) -> None:
    served.trading.submit_order(buy("SPY", 10))

    by_qty = served.trading.close_position("SPY", ClosePositionRequest(qty="4"))
    by_pct = served.trading.close_position("SPY", ClosePositionRequest(percentage="50"))

    assert (by_qty.qty, by_qty.side, by_qty.status) == (
        "4",
        OrderSide.SELL,
        OrderStatus.PENDING_NEW,
    )
    assert by_pct.qty == "3"
    assert served.trading.get_open_position("SPY").qty == "3"


def test_closing_all_positions_cancels_open_orders_first_and_sells_everything(
    served: Served,
) -> None:
    served.trading.submit_order(buy("SPY", 5))
    served.trading.submit_order(buy("IBM", 5))
    pending = served.trading.submit_order(
        LimitOrderRequest(symbol="SPY", qty=5, side="sell", time_in_force="day", limit_price=999)
    )

    answers = served.trading.close_all_positions(cancel_orders=True)

    assert sorted((a.symbol, a.status) for a in answers) == [("IBM", 200), ("SPY", 200)]
    assert served.trading.get_order_by_id(pending.id).status == OrderStatus.CANCELED
    assert served.trading.get_all_positions() == []


# ---------------------------------------------------------------- clock, calendar, assets


def test_the_clock_tells_the_simulated_time_and_the_next_open_and_close(served: Served) -> None:
    clock = served.trading.get_clock()

    assert clock.is_open
    assert clock.timestamp.isoformat() == "2013-10-07T09:30:00-04:00"
    assert clock.next_close.isoformat() == "2013-10-07T16:00:00-04:00"
    assert clock.next_open.isoformat() == "2013-10-08T09:30:00-04:00"


def test_the_calendar_agrees_with_exchange_calendars(served: Served) -> None:
    days = served.trading.get_calendar(
        GetCalendarRequest(start=date(2024, 7, 1), end=date(2024, 12, 31))
    )
    xnys = xcals.get_calendar("XNYS")
    expected = xnys.sessions_in_range("2024-07-01", "2024-12-31")

    by_day = {d.date: d for d in days}
    assert list(by_day) == [s.date() for s in expected]
    assert date(2024, 7, 4) not in by_day
    assert by_day[date(2024, 11, 29)].close.strftime("%H:%M") == "13:00"
    for session in expected:
        close = xnys.session_close(session).tz_convert("America/New_York")
        assert by_day[session.date()].close.strftime("%H:%M") == close.strftime("%H:%M")


def test_assets_are_the_exchanges_symbols_and_an_unknown_one_is_404(served: Served) -> None:
    assets = served.trading.get_all_assets()
    spy = served.trading.get_asset("SPY")
    error = api_error(lambda: served.trading.get_asset("NOPE"))

    assert sorted(a.symbol for a in assets) == ["IBM", "SPY"]
    assert (spy.tradable, spy.shortable, spy.asset_class, spy.exchange) == (
        True,
        True,
        "us_equity",
        "ARCA",
    )
    assert served.trading.get_asset(spy.id) == spy
    assert (error.status_code, error.code) == (404, 40410000)
