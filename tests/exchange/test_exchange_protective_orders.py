"""Stop, stop-limit and trailing-stop orders, and the bracket, OCO and OTO classes, as Alpaca
documents them, through the official alpaca-py client over real HTTP on 127.0.0.1.

Each specification scripts SPY's minute bars from 09:30 New York on 2024-01-03 (an ordinary
session) and steps the simulated clock minute by minute. A bar's open is judged when the bar
starts, its range (high and low) when it closes: a stop whose bar trades through it fills at the
stop one minute later, one whose bar opens through it fills at the open (see
fleece.exchange.matching and fleece.exchange.order_classes for the rules).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

import pytest
from alpaca.common.exceptions import APIError
from alpaca.trading.enums import OrderClass, OrderSide, OrderStatus, OrderType, TimeInForce
from alpaca.trading.models import Order
from alpaca.trading.requests import (
    GetOrdersRequest,
    LimitOrderRequest,
    MarketOrderRequest,
    ReplaceOrderRequest,
    StopLimitOrderRequest,
    StopLossRequest,
    StopOrderRequest,
    TakeProfitRequest,
    TrailingStopOrderRequest,
)
from exchange_helpers import Served, ny, scripted, serve, stepped

Row = tuple[float, float, float, float]
QUIET: Row = (100.0, 100.5, 99.5, 100.0)  # the 09:30 bar of every script


@contextmanager
def market(*rows: Row, start: str = "09:30", at: str = "09:30") -> Iterator[Served]:
    """SPY's bars from ``start`` as scripted (open, high, low, close), served from ``at``."""
    with serve(stepped({"SPY": scripted("SPY", start, rows)}, ny(at))) as served:
        yield served


def buy(qty: int, **kw: Any) -> MarketOrderRequest:
    return MarketOrderRequest(
        symbol="SPY", qty=qty, side=OrderSide.BUY, time_in_force=TimeInForce.DAY, **kw
    )


def long_position(served: Served, qty: int = 10) -> Order:
    """Buy ``qty`` SPY at the 09:30 open (100) and return the filled order."""
    order = served.trading.submit_order(buy(qty))
    filled = served.trading.get_order_by_id(order.id)
    assert filled.status is OrderStatus.FILLED
    return filled


def stop(price: float, qty: int = 10, **kw: Any) -> StopOrderRequest:
    return StopOrderRequest(
        symbol="SPY",
        qty=qty,
        side=OrderSide.SELL,
        time_in_force=TimeInForce.GTC,
        stop_price=price,
        **kw,
    )


def read(served: Served, order: Order) -> Order:
    return served.trading.get_order_by_id(order.id)


def api_error(call: Callable[[], object]) -> APIError:
    with pytest.raises(APIError) as caught:
        call()
    return caught.value


def price(value: str | None) -> Decimal | None:
    return Decimal(value) if value is not None else None


# ---------------------------------------------------------------- stop orders


def test_a_stop_triggers_on_the_bars_low_and_fills_at_the_stop() -> None:
    with market(QUIET, (100.0, 100.2, 98.9, 99.2), QUIET) as served:
        long_position(served)
        placed = served.trading.submit_order(stop(99.0))

        served.advance(1)  # the 09:30 bar closed above the stop
        waiting = read(served, placed)
        served.advance(1)  # the 09:31 bar traded down to 98.90
        done = read(served, placed)

    assert (placed.type, placed.order_class, price(placed.stop_price)) == (
        OrderType.STOP,
        OrderClass.SIMPLE,
        Decimal(99),
    )
    assert waiting.status is OrderStatus.NEW
    assert done.status is OrderStatus.FILLED
    assert price(done.filled_avg_price) == Decimal(99)
    assert done.filled_at == ny("09:32")


def test_a_bar_that_gaps_through_the_stop_fills_at_its_open() -> None:
    with market(QUIET, (98.5, 98.8, 98.0, 98.6)) as served:
        long_position(served)
        placed = served.trading.submit_order(stop(99.0))

        served.advance(1)
        done = read(served, placed)

    assert done.status is OrderStatus.FILLED
    assert price(done.filled_avg_price) == Decimal("98.5")
    assert done.filled_at == ny("09:31")


def test_a_stop_limit_triggered_within_a_bar_fills_at_the_stop_when_its_limit_allows() -> None:
    with market(QUIET, (100.0, 100.2, 98.9, 99.2)) as served:
        long_position(served)
        placed = served.trading.submit_order(
            StopLimitOrderRequest(
                symbol="SPY",
                qty=10,
                side=OrderSide.SELL,
                time_in_force=TimeInForce.GTC,
                stop_price=99.0,
                limit_price=98.8,
            )
        )

        served.advance(2)
        done = read(served, placed)

    assert done.status is OrderStatus.FILLED
    assert price(done.filled_avg_price) == Decimal(99)


def test_a_stop_limit_that_gaps_below_its_limit_waits_for_the_price_to_come_back() -> None:
    with market(QUIET, (98.5, 98.7, 98.0, 98.6), (98.6, 98.9, 98.5, 98.8)) as served:
        long_position(served)
        placed = served.trading.submit_order(
            StopLimitOrderRequest(
                symbol="SPY",
                qty=10,
                side=OrderSide.SELL,
                time_in_force=TimeInForce.GTC,
                stop_price=99.0,
                limit_price=98.8,
            )
        )

        served.advance(2)  # triggered at 98.50, never back at 98.80 in that bar
        triggered = read(served, placed)
        served.advance(1)  # the 09:32 bar reached 98.90
        done = read(served, placed)

    assert triggered.status is OrderStatus.NEW
    assert done.status is OrderStatus.FILLED
    assert price(done.filled_avg_price) == Decimal("98.8")


# ---------------------------------------------------------------- trailing stops


def trailing(**kw: Any) -> TrailingStopOrderRequest:
    return TrailingStopOrderRequest(
        symbol="SPY", qty=10, side=OrderSide.SELL, time_in_force=TimeInForce.GTC, **kw
    )


RISING_THEN_FALLING: Sequence[Row] = (
    (100.0, 101.0, 99.8, 100.8),
    (100.8, 102.0, 100.5, 101.5),
    (101.5, 101.6, 100.9, 101.0),
)


def test_a_trailing_stop_follows_the_high_water_mark_bar_by_bar_then_triggers() -> None:
    with market(*RISING_THEN_FALLING) as served:
        long_position(served)  # at 100.00: the mark the trail starts from
        placed = served.trading.submit_order(trailing(trail_percent=1))

        served.advance(2)  # highs of 101 and 102 raised the mark
        trailed = read(served, placed)
        served.advance(1)  # the 09:32 bar fell to 100.90, through 102 x 0.99
        done = read(served, placed)

    assert (price(placed.hwm), price(placed.stop_price)) == (Decimal(100), Decimal(99))
    assert (price(trailed.hwm), price(trailed.stop_price)) == (Decimal(102), Decimal("100.98"))
    assert trailed.status is OrderStatus.NEW
    assert done.status is OrderStatus.FILLED
    assert price(done.filled_avg_price) == Decimal("100.98")
    assert price(done.trail_percent) == Decimal(1)


def test_a_trailing_stop_in_dollars_keeps_that_distance_below_the_mark() -> None:
    with market(*RISING_THEN_FALLING) as served:
        long_position(served)
        placed = served.trading.submit_order(trailing(trail_price=0.75))

        served.advance(2)
        trailed = read(served, placed)
        served.advance(1)
        done = read(served, placed)

    assert price(trailed.stop_price) == Decimal("101.25")
    assert done.status is OrderStatus.FILLED
    assert price(done.filled_avg_price) == Decimal("101.25")


def test_a_trailing_stop_neither_trails_nor_triggers_outside_regular_hours() -> None:
    pre_market = [(100.0, 100.0, 100.0, 100.0), (100.0, 105.0, 90.0, 100.0)]
    rows = [*pre_market, *[(100.0, 100.0, 100.0, 100.0)] * 28, QUIET]  # 09:00 .. 09:30
    with market(*rows, start="09:00", at="09:01") as served:
        placed = served.trading.submit_order(trailing(trail_percent=1))  # a short sale's stop

        served.advance(28)  # to 09:29: the 09:01 bar fell to 90 and rose to 105
        before_open = read(served, placed)

    assert before_open.status is OrderStatus.ACCEPTED
    assert (price(before_open.hwm), price(before_open.stop_price)) == (Decimal(100), Decimal(99))
    assert before_open.filled_qty == "0"


# ---------------------------------------------------------------- bracket and OTO


def bracket(take_profit: float = 102.0, stop_loss: float = 98.0, **kw: Any) -> MarketOrderRequest:
    return buy(
        10,
        order_class=OrderClass.BRACKET,
        take_profit=TakeProfitRequest(limit_price=take_profit),
        stop_loss=StopLossRequest(stop_price=stop_loss),
        **kw,
    )


def test_bracket_legs_are_held_until_the_entry_fills_then_work() -> None:
    with market(QUIET, (100.0, 100.5, 99.5, 100.0)) as served:
        answer = served.trading.submit_order(bracket())
        after_fill = read(served, answer)

    assert answer.order_class is OrderClass.BRACKET
    assert answer.status is OrderStatus.PENDING_NEW
    assert answer.legs is not None
    assert [(leg.type, leg.side, leg.status) for leg in answer.legs] == [
        (OrderType.LIMIT, OrderSide.SELL, OrderStatus.HELD),
        (OrderType.STOP, OrderSide.SELL, OrderStatus.HELD),
    ]
    assert [price(leg.limit_price or leg.stop_price) for leg in answer.legs] == [102, 98]
    assert after_fill.status is OrderStatus.FILLED
    assert after_fill.legs is not None
    assert [leg.status for leg in after_fill.legs] == [OrderStatus.NEW, OrderStatus.NEW]


def test_the_take_profit_fills_and_cancels_the_stop_loss() -> None:
    with market(QUIET, (100.0, 102.5, 99.8, 102.0)) as served:
        answer = served.trading.submit_order(bracket())
        served.advance(2)
        legs = read(served, answer).legs
        positions = served.trading.get_all_positions()

    assert legs is not None
    take_profit, stop_loss = legs
    assert (take_profit.status, price(take_profit.filled_avg_price)) == (
        OrderStatus.FILLED,
        Decimal(102),
    )
    assert stop_loss.status is OrderStatus.CANCELED
    assert positions == []


def test_a_bar_that_reaches_both_legs_fills_the_stop_loss() -> None:
    with market(QUIET, (100.0, 102.5, 97.5, 100.0)) as served:
        answer = served.trading.submit_order(bracket())
        served.advance(2)
        legs = read(served, answer).legs

    assert legs is not None
    take_profit, stop_loss = legs
    assert (stop_loss.status, price(stop_loss.filled_avg_price)) == (
        OrderStatus.FILLED,
        Decimal(98),
    )
    assert take_profit.status is OrderStatus.CANCELED


def test_an_oto_order_carries_one_exit_leg() -> None:
    request = buy(10, order_class=OrderClass.OTO, stop_loss=StopLossRequest(stop_price=98.0))
    with market(QUIET, (100.0, 100.2, 97.0, 97.5)) as served:
        answer = served.trading.submit_order(request)
        served.advance(2)
        legs = read(served, answer).legs

    assert answer.order_class is OrderClass.OTO
    assert legs is not None and len(legs) == 1
    assert (legs[0].type, legs[0].status, price(legs[0].filled_avg_price)) == (
        OrderType.STOP,
        OrderStatus.FILLED,
        Decimal(98),
    )


def test_a_bracket_whose_exits_lie_on_the_wrong_side_of_the_price_is_refused() -> None:
    with market(QUIET) as served:
        error = api_error(lambda: served.trading.submit_order(bracket(take_profit=99.0)))

    assert (error.status_code, error.code) == (422, 42210000)
    assert error.message == "take_profit.limit_price must be >= base_price + 0.01"


def test_a_bracket_that_would_reduce_a_position_is_refused_as_no_entry() -> None:
    exit_bracket = MarketOrderRequest(
        symbol="SPY",
        qty=5,
        side=OrderSide.SELL,
        time_in_force=TimeInForce.DAY,
        order_class=OrderClass.BRACKET,
        take_profit=TakeProfitRequest(limit_price=95),
        stop_loss=StopLossRequest(stop_price=105),
    )
    with market(QUIET) as served:
        long_position(served)
        error = api_error(lambda: served.trading.submit_order(exit_bracket))

    assert (error.status_code, error.code, error.message) == (
        422,
        42210000,
        "bracket orders must be entry orders",
    )


# ---------------------------------------------------------------- OCO


def oco(qty: int = 10) -> LimitOrderRequest:
    return LimitOrderRequest(
        symbol="SPY",
        qty=qty,
        side=OrderSide.SELL,
        time_in_force=TimeInForce.GTC,
        order_class=OrderClass.OCO,
        take_profit=TakeProfitRequest(limit_price=102),
        stop_loss=StopLossRequest(stop_price=98),
    )


def test_an_oco_exit_works_both_orders_at_once_and_the_stop_cancels_the_take_profit() -> None:
    with market(QUIET, (100.0, 100.2, 97.9, 98.5)) as served:
        long_position(served)
        answer = served.trading.submit_order(oco())
        working = read(served, answer)
        served.advance(2)
        done = read(served, answer)

    assert (answer.type, answer.order_class, price(answer.limit_price)) == (
        OrderType.LIMIT,
        OrderClass.OCO,
        Decimal(102),
    )
    assert working.legs is not None
    assert [working.status, working.legs[0].status] == [OrderStatus.NEW, OrderStatus.NEW]
    assert done.status is OrderStatus.CANCELED
    assert done.legs is not None
    assert (done.legs[0].status, price(done.legs[0].filled_avg_price)) == (
        OrderStatus.FILLED,
        Decimal(98),
    )


def test_cancelling_one_order_of_an_oco_cancels_the_other() -> None:
    with market(QUIET, QUIET) as served:
        long_position(served)
        answer = served.trading.submit_order(oco())
        assert answer.legs is not None

        served.trading.cancel_order_by_id(answer.legs[0].id)
        done = read(served, answer)
        available = served.trading.get_open_position("SPY").qty_available

    assert done.status is OrderStatus.CANCELED
    assert available == "10"


def test_an_oco_holds_the_position_once_for_both_of_its_orders() -> None:
    with market(QUIET) as served:
        long_position(served)
        served.trading.submit_order(oco())

        position = served.trading.get_open_position("SPY")

    assert (position.qty, position.qty_available) == ("10", "0")


def test_an_oco_without_a_position_to_exit_is_refused() -> None:
    with market(QUIET) as served:
        error = api_error(lambda: served.trading.submit_order(oco()))

    assert (error.status_code, error.code, error.message) == (
        422,
        42210000,
        "oco orders must be exit orders",
    )


# ---------------------------------------------------------------- the wash-trade rule


def test_a_standalone_order_against_held_legs_is_a_wash_trade_but_a_brackets_own_legs_are_not() -> (
    None
):
    resting = LimitOrderRequest(
        symbol="SPY",
        qty=10,
        side=OrderSide.BUY,
        time_in_force=TimeInForce.DAY,
        limit_price=90,
        order_class=OrderClass.BRACKET,
        take_profit=TakeProfitRequest(limit_price=95),
        stop_loss=StopLossRequest(stop_price=85),
    )
    with market(QUIET) as served:
        entry = served.trading.submit_order(resting)  # a buy and two sells, one class
        against_legs = api_error(lambda: served.trading.submit_order(buy(1)))
        listed = served.trading.get_orders(GetOrdersRequest(status="open", nested=True))

    assert entry.legs is not None
    assert [leg.status for leg in entry.legs] == [OrderStatus.HELD, OrderStatus.HELD]
    assert (against_legs.status_code, against_legs.code) == (403, 40310000)
    assert against_legs.message == "potential wash trade detected. use complex orders"
    assert [o.id for o in listed] == [entry.id]  # the legs are rolled up under the entry


def test_a_working_stop_refuses_an_opposite_order_until_it_is_cancelled() -> None:
    with market(QUIET, QUIET) as served:
        long_position(served)
        placed = served.trading.submit_order(stop(98.0))
        refused = api_error(lambda: served.trading.submit_order(buy(1)))
        served.trading.cancel_order_by_id(placed.id)
        accepted = served.trading.submit_order(buy(1))

    assert (refused.status_code, refused.code) == (403, 40310000)
    assert accepted.status is OrderStatus.PENDING_NEW


# ---------------------------------------------------------------- replacing


def test_replacing_a_stop_moves_it_and_links_the_old_and_new_orders() -> None:
    with market(QUIET, (100.0, 100.2, 99.4, 99.8)) as served:
        long_position(served)
        old = served.trading.submit_order(stop(98.0))
        read(served, old)  # routed: only a working order can be replaced

        new = served.trading.replace_order_by_id(old.id, ReplaceOrderRequest(stop_price=99.5))
        replaced = read(served, old)
        served.advance(2)
        done = read(served, new)

    assert new.id != old.id
    assert (replaced.status, replaced.replaced_by, replaced.replaced_at is not None) == (
        OrderStatus.REPLACED,
        new.id,
        True,
    )
    assert (new.replaces, price(new.stop_price), new.qty) == (old.id, Decimal("99.5"), "10")
    assert (done.status, price(done.filled_avg_price)) == (OrderStatus.FILLED, Decimal("99.5"))


def test_replacing_a_trailing_stops_trail_moves_its_stop_from_the_same_mark() -> None:
    with market(*RISING_THEN_FALLING) as served:
        long_position(served)
        old = served.trading.submit_order(trailing(trail_percent=1))
        served.advance(2)  # the mark is 102 now

        new = served.trading.replace_order_by_id(old.id, ReplaceOrderRequest(trail=2))

    assert (price(new.hwm), price(new.trail_percent), price(new.stop_price)) == (
        Decimal(102),
        Decimal(2),
        Decimal("99.96"),
    )


def test_replacing_a_field_the_order_type_does_not_have_is_refused() -> None:
    with market(QUIET) as served:
        long_position(served)
        placed = served.trading.submit_order(stop(98.0))
        read(served, placed)
        error = api_error(
            lambda: served.trading.replace_order_by_id(
                placed.id, ReplaceOrderRequest(limit_price=97)
            )
        )

    assert (error.status_code, error.code) == (422, 40010001)
    assert error.message == "limit_price is not allowed for stop orders"


def test_a_bracket_leg_can_be_moved_while_it_is_held() -> None:
    resting = LimitOrderRequest(
        symbol="SPY",
        qty=10,
        side=OrderSide.BUY,
        time_in_force=TimeInForce.GTC,
        limit_price=99.8,
        order_class=OrderClass.BRACKET,
        take_profit=TakeProfitRequest(limit_price=103),
        stop_loss=StopLossRequest(stop_price=97),
    )
    with market((100.0, 100.2, 99.9, 100.0), (99.8, 100.0, 99.0, 99.5)) as served:
        entry = served.trading.submit_order(resting)
        assert entry.legs is not None
        moved = served.trading.replace_order_by_id(
            entry.legs[1].id, ReplaceOrderRequest(stop_price=99.1)
        )
        served.advance(2)  # the entry fills at 99.80, the bar falls to 99.00
        legs = read(served, entry).legs

    assert moved.status is OrderStatus.HELD
    assert legs is not None
    assert legs[1].id == moved.id
    assert (legs[1].status, price(legs[1].filled_avg_price)) == (
        OrderStatus.FILLED,
        Decimal("99.1"),
    )
    assert legs[0].status is OrderStatus.CANCELED
