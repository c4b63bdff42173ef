"""A whole simulated day on real SPY and IBM bars (2013-10-07), stepped through the admin route.

Expected prices come from the bar files themselves, by the fill rules (a market order fills at
the open of the first regular bar starting at or after its submission minute; a limit buy at
``min(limit, open)`` of the first bar that reaches it). After every step the books balance to
the cent and no bar from the future has been served.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from alpaca.common.exceptions import APIError
from alpaca.data.requests import StockBarsRequest
from alpaca.data.timeframe import TimeFrame
from alpaca.trading.enums import OrderSide, OrderStatus, TimeInForce
from alpaca.trading.requests import ClosePositionRequest, LimitOrderRequest, MarketOrderRequest
from exchange_helpers import Served, fixture_bars, ny

from fleece.calendar import MarketCalendar
from fleece.models import Bar

DAY = date(2013, 10, 7)
SESSION = MarketCalendar().session(DAY)


def regular_bar_from(symbol: str, ts: datetime) -> Bar:
    assert SESSION is not None
    return next(
        b
        for b in fixture_bars()[symbol]
        if b.timestamp >= ts.replace(second=0, microsecond=0) and SESSION.contains(b.timestamp)
    )


def limit_buy_fill(symbol: str, since: datetime, limit: float) -> tuple[float, datetime]:
    """(price, time) of a limit buy submitted at ``since``, by the documented rule."""
    bar = regular_bar_from(symbol, since)
    while True:
        if bar.open <= limit:
            return bar.open, bar.timestamp
        if bar.low <= limit:
            return limit, bar.timestamp + timedelta(minutes=1)
        bar = regular_bar_from(symbol, bar.timestamp + timedelta(minutes=1))


def assert_books_balance(served: Served) -> None:
    equity, cash, values = served.account_balances()
    assert equity == cash + values, (equity, cash, values)


def assert_no_future_bars(served: Served) -> None:
    now = served.now()
    request = StockBarsRequest(
        symbol_or_symbols=["SPY", "IBM"],
        timeframe=TimeFrame.Minute,
        start=ny("04:00", DAY),
        end=now + timedelta(days=3),
    )
    served_bars = served.data.get_stock_bars(request).data
    for symbol in ("SPY", "IBM"):
        closed = [b for b in fixture_bars()[symbol] if b.timestamp + timedelta(minutes=1) <= now]
        closed = [b for b in closed if b.timestamp >= ny("04:00", DAY)]
        assert [b.timestamp for b in served_bars.get(symbol, [])] == [b.timestamp for b in closed]


def step(served: Served, minutes: float) -> None:
    served.advance(minutes)
    assert_books_balance(served)
    assert_no_future_bars(served)


def test_a_whole_simulated_day_with_the_stepped_clock(served: Served) -> None:
    trading = served.trading
    assert_books_balance(served)
    assert_no_future_bars(served)

    # 10:00: a market buy is answered pending_new, then fills at the 10:00 bar's open, exactly.
    step(served, 30)
    answer = trading.submit_order(
        MarketOrderRequest(
            symbol="SPY", qty=100, side=OrderSide.BUY, time_in_force="day", client_order_id="b-1"
        )
    )
    spy_buy = trading.get_order_by_id(answer.id)
    expected = regular_bar_from("SPY", ny("10:00", DAY)).open
    assert (answer.status, answer.filled_qty, answer.filled_at) == (
        OrderStatus.PENDING_NEW,
        "0",
        None,
    )
    assert (spy_buy.status, Decimal(spy_buy.filled_avg_price)) == (
        OrderStatus.FILLED,
        Decimal(str(expected)),
    )
    position = trading.get_open_position("SPY")
    assert (position.qty, Decimal(position.avg_entry_price)) == ("100", Decimal(str(expected)))
    assert_books_balance(served)

    # The same client_order_id is never accepted twice.
    with pytest.raises(APIError) as duplicate:
        trading.submit_order(
            MarketOrderRequest(
                symbol="SPY", qty=1, side=OrderSide.BUY, time_in_force="day", client_order_id="b-1"
            )
        )
    assert (duplicate.value.status_code, duplicate.value.message) == (
        422,
        "client_order_id must be unique",
    )

    # A limit buy below the market fills later at the limit or better.
    submitted = served.now()
    ibm_limit = trading.submit_order(
        LimitOrderRequest(
            symbol="IBM", qty=50, side=OrderSide.BUY, time_in_force="day", limit_price=182.30
        )
    )
    assert ibm_limit.status == OrderStatus.PENDING_NEW
    for _ in range(3):
        step(served, 10)
    price, at = limit_buy_fill("IBM", submitted, 182.30)
    filled = trading.get_order_by_id(ibm_limit.id)
    assert (filled.status, Decimal(filled.filled_avg_price), filled.filled_at) == (
        OrderStatus.FILLED,
        Decimal(str(price)),
        at,
    )
    assert price <= 182.30

    # A buy beyond buying power is refused.
    buying_power = Decimal(trading.get_account().buying_power)
    too_many = int(buying_power / Decimal(str(expected))) + 10
    with pytest.raises(APIError) as refused:
        trading.submit_order(
            MarketOrderRequest(symbol="SPY", qty=too_many, side=OrderSide.BUY, time_in_force="day")
        )
    assert (refused.value.status_code, refused.value.code) == (403, 40310000)

    # 12:00: a partial close sells 40 at the open of the 12:00 bar.
    step(served, 90)
    partial = trading.close_position("SPY", ClosePositionRequest(qty="40"))
    partial = trading.get_order_by_id(partial.id)
    assert Decimal(partial.filled_avg_price) == Decimal(
        str(regular_bar_from("SPY", ny("12:00", DAY)).open)
    )
    assert trading.get_open_position("SPY").qty == "60"
    assert_books_balance(served)

    # 15:30: close everything.
    step(served, 210)
    trading.close_all_positions()
    assert trading.get_all_positions() == []
    assert_books_balance(served)

    # A day order that never reaches its limit...
    far = trading.submit_order(
        LimitOrderRequest(
            symbol="IBM", qty=1, side=OrderSide.BUY, time_in_force=TimeInForce.DAY, limit_price=1
        )
    )

    # ...expires at the close; last_equity is then the equity at that close.
    step(served, 35)
    expired = trading.get_order_by_id(far.id)
    assert (expired.status, expired.expired_at) == (OrderStatus.EXPIRED, ny("16:00", DAY))
    account = trading.get_account()
    assert account.last_equity == account.equity == account.cash
    assert Decimal(account.buying_power) == 2 * Decimal(account.cash)  # margin, nothing held
