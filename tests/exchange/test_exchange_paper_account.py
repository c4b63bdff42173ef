"""Specification of the paper account's rules through alpaca-py: the order lifecycle, partial
fills, the wash-trade rule, and a margin account that shorts.

SPY and IBM (2013-10-04..11, real bars) served from 2013-10-07 10:00 New York, the clock standing
still until advanced.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from alpaca.common.exceptions import APIError
from alpaca.trading.enums import OrderSide, OrderStatus, TimeInForce
from alpaca.trading.requests import LimitOrderRequest, MarketOrderRequest
from exchange_helpers import Served, fixture_bars, ny, serve, stepped

MONDAY = date(2013, 10, 7)


@contextmanager
def account(at: str = "10:00", **options: Any) -> Iterator[Served]:
    """The fixture's bars served from ``at`` on 2013-10-07."""
    with serve(stepped(fixture_bars(), ny(at, MONDAY), **options)) as served:
        yield served


def market(symbol: str, qty: int, side: OrderSide = OrderSide.BUY) -> MarketOrderRequest:
    return MarketOrderRequest(symbol=symbol, qty=qty, side=side, time_in_force=TimeInForce.DAY)


def resting_buy(symbol: str, qty: int) -> LimitOrderRequest:
    """A limit buy far below the market: it stays open."""
    return LimitOrderRequest(
        symbol=symbol, qty=qty, side=OrderSide.BUY, time_in_force=TimeInForce.DAY, limit_price=1
    )


# ---------------------------------------------------------------- the lifecycle


def test_an_order_is_answered_pending_new_with_nothing_filled_then_reads_filled() -> None:
    with account() as served:
        answer = served.trading.submit_order(market("SPY", 10))
        later = served.trading.get_order_by_id(answer.id)

    assert (answer.status, answer.filled_qty, answer.filled_at) == (
        OrderStatus.PENDING_NEW,
        "0",
        None,
    )
    assert (later.status, later.filled_qty) == (OrderStatus.FILLED, "10")
    assert later.filled_at is not None


def test_an_order_sent_while_the_market_is_closed_is_accepted_until_the_open() -> None:
    with account(at="08:00") as served:
        answer = served.trading.submit_order(market("SPY", 10))
        served.advance(60)  # 09:00: still closed
        waiting = served.trading.get_order_by_id(answer.id)
        served.advance(31)  # 09:31
        done = served.trading.get_order_by_id(answer.id)

    assert answer.status == OrderStatus.ACCEPTED
    assert (waiting.status, waiting.filled_qty) == (OrderStatus.ACCEPTED, "0")
    assert (done.status, done.filled_at) == (OrderStatus.FILLED, ny("09:30", MONDAY))


def test_with_partial_fills_an_order_fills_in_parts_and_filled_at_waits_for_the_last() -> None:
    with account(partial_fills=1.0) as served:
        answer = served.trading.submit_order(market("SPY", 100))
        first = served.trading.get_order_by_id(answer.id)
        served.advance(1)
        second = served.trading.get_order_by_id(answer.id)
        served.advance(10)
        last = served.trading.get_order_by_id(answer.id)

    assert first.status == OrderStatus.PARTIALLY_FILLED and first.filled_at is None
    assert 0 < int(first.filled_qty) < int(second.filled_qty) <= 100
    assert (last.status, last.filled_qty) == (OrderStatus.FILLED, "100")
    assert last.filled_at is not None
    assert served.exchange.engine.position("SPY").qty == 100


def test_partial_fills_split_about_the_fraction_asked_for_and_the_same_way_every_run() -> None:
    def splits() -> list[str]:
        with account(partial_fills=0.3) as served:
            orders = [served.trading.submit_order(market("SPY", 10)) for _ in range(40)]
            return [served.trading.get_order_by_id(o.id).filled_qty for o in orders]

    first = splits()

    assert 4 <= sum(qty != "10" for qty in first) <= 20
    assert splits() == first


# ---------------------------------------------------------------- the wash-trade rule


def test_an_order_against_an_open_opposite_order_is_refused_as_a_wash_trade() -> None:
    with account() as served:
        served.trading.submit_order(market("SPY", 10))
        served.trading.submit_order(resting_buy("SPY", 5))
        with pytest.raises(APIError) as refused:
            served.trading.submit_order(market("SPY", 10, OrderSide.SELL))
        orders = served.http.get("/v1/sim/state").json()["orders_submitted"]

    assert (refused.value.status_code, refused.value.code, refused.value.message) == (
        403,
        40310000,
        "potential wash trade detected. use complex orders",
    )
    assert orders == 2  # the refused order does not exist


def test_an_order_on_the_same_side_as_an_open_order_is_no_wash_trade() -> None:
    with account() as served:
        served.trading.submit_order(resting_buy("SPY", 5))
        second = served.trading.submit_order(market("SPY", 10))

    assert second.status == OrderStatus.PENDING_NEW


# ---------------------------------------------------------------- a margin account that shorts


def test_selling_shares_not_held_opens_a_short_position() -> None:
    with account() as served:
        served.trading.submit_order(market("IBM", 10, OrderSide.SELL))
        position = served.trading.get_open_position("IBM")
        state = served.trading.get_account()

    assert (position.side, position.qty) == ("short", "-10")
    assert Decimal(position.market_value) < 0 and Decimal(position.cost_basis) < 0
    assert Decimal(state.short_market_value) == Decimal(position.market_value)
    assert Decimal(state.equity) == Decimal(state.cash) + Decimal(state.short_market_value)


def test_one_order_never_turns_a_long_position_short() -> None:
    with account() as served:
        served.trading.submit_order(market("SPY", 10))
        with pytest.raises(APIError) as refused:
            served.trading.submit_order(market("SPY", 15, OrderSide.SELL))

    assert (refused.value.status_code, refused.value.message) == (
        403,
        "insufficient qty available for order (requested: 15, available: 10)",
    )


def test_buying_back_a_short_closes_it_and_the_books_balance_to_the_cent() -> None:
    with account() as served:
        served.trading.submit_order(market("IBM", 10, OrderSide.SELL))
        served.advance(5)
        served.trading.submit_order(market("IBM", 10))
        served.advance(1)
        equity, cash, values = served.account_balances()
        positions = served.trading.get_all_positions()

    assert positions == []
    assert equity == cash + values
