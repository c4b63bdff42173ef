"""The matching engine's fill rules and the cash account, without HTTP.

Bars are hand-built on 2024-01-03 (09:30-16:00 New York); times below are New York wall time.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

import pytest
from exchange_helpers import bar, engine_over, filled, flat_bars, limit, market, ny, settle
from hypothesis import given, settings
from hypothesis import strategies as st

from fleece.backtest.sim_broker import broker_order
from fleece.exchange import ExchangeError, OrderStatus
from fleece.exchange.orders import SimOrder, TimeInForce
from fleece.models import Bar, Side
from fleece.prices import average_price
from fleece.protection import as_one

NEXT_DAY = date(2024, 1, 4)


def refusal(excinfo: pytest.ExceptionInfo[ExchangeError]) -> tuple[int, int, str]:
    return excinfo.value.status, excinfo.value.code, excinfo.value.message


# ---------------------------------------------------------------- market orders


def test_market_order_fills_at_the_open_of_the_next_bar_when_that_bar_starts() -> None:
    bars = {"SPY": [bar("SPY", "10:00", 100.0, c=100.5), bar("SPY", "10:01", 101.0)]}
    engine = engine_over(bars, ny("09:59:30"))

    order = engine.submit(market("SPY", 10))
    settle(engine)
    assert engine.order(order.id).status is OrderStatus.NEW
    engine.advance_to(ny("10:00"))

    done = engine.order(order.id)
    assert (done.status, done.filled_avg_price, done.filled_at) == (
        OrderStatus.FILLED,
        100.0,
        ny("10:00"),
    )


def test_a_submission_is_answered_pending_new_and_fills_after_the_answer_at_the_same_price() -> (
    None
):
    bars = {"SPY": [bar("SPY", "10:00", 100.0, c=100.5), bar("SPY", "10:01", 101.0)]}
    engine = engine_over(bars, ny("10:00:30"))

    answer = engine.submit(market("SPY", 10))
    settle(engine)  # the exchange's next request, at the same simulated instant

    done = engine.order(answer.id)
    assert (answer.status, answer.filled_qty, answer.filled_at) == (
        OrderStatus.PENDING_NEW,
        0,
        None,
    )
    assert (done.status, done.filled_avg_price, done.filled_at) == (
        OrderStatus.FILLED,
        100.0,
        ny("10:00:30"),
    )


def test_slippage_makes_buys_pay_more_and_sells_receive_less_rounded_to_4_decimals() -> None:
    bars = {"SPY": [bar("SPY", "10:00", 123.45), bar("SPY", "10:01", 123.45)]}
    engine = engine_over(bars, ny("10:00"), slippage_bps=10)

    bought = filled(engine, market("SPY", 10))
    engine.advance_to(ny("10:01"))
    sold = filled(engine, market("SPY", 10, Side.SELL))

    assert bought.filled_avg_price == 123.5735  # 123.45 * 1.001 = 123.57345, half up
    assert sold.filled_avg_price == 123.3266  # 123.45 * 0.999 = 123.32655, half up


# ---------------------------------------------------------------- limit orders


def test_limit_buy_fills_at_the_open_when_the_open_is_already_through_the_limit() -> None:
    engine = engine_over({"SPY": [bar("SPY", "10:00", 100.5, c=102)]}, ny("09:59"))

    order = engine.submit(limit("SPY", 10, 101.0))
    engine.advance_to(ny("10:00"))

    assert engine.order(order.id).filled_avg_price == 100.5


def test_limit_buy_fills_at_the_limit_once_a_bar_that_traded_through_it_has_closed() -> None:
    bars = {"SPY": [bar("SPY", "10:00", 100.0, h=100.2, l=99.2, c=99.8)]}
    engine = engine_over(bars, ny("09:59"))
    order = engine.submit(limit("SPY", 10, 99.5))

    engine.advance_to(ny("10:00:59"))
    assert engine.order(order.id).status is OrderStatus.NEW
    engine.advance_to(ny("10:01"))

    filled = engine.order(order.id)
    assert (filled.filled_avg_price, filled.filled_at) == (99.5, ny("10:01"))


def test_limit_sell_fills_at_the_limit_or_better() -> None:
    bars = {
        "SPY": [
            bar("SPY", "10:00", 100.0),
            bar("SPY", "10:01", 100.0, h=101.3, l=99.9, c=100.1),
            bar("SPY", "10:02", 100.0),
        ]
    }
    engine = engine_over(bars, ny("10:00"))
    filled(engine, market("SPY", 20))

    at_limit = engine.submit(limit("SPY", 10, 101.0, Side.SELL))
    better = engine.submit(limit("SPY", 10, 99.0, Side.SELL))
    engine.advance_to(ny("10:02"))

    assert engine.order(at_limit.id).filled_avg_price == 101.0  # traded through: at the limit
    assert engine.order(better.id).filled_avg_price == 100.0  # open above the limit: the open


def test_a_gtc_limit_order_survives_the_close_and_fills_next_session() -> None:
    bars = {
        "SPY": [
            bar("SPY", "15:00", 100.0),
            bar("SPY", "10:00", 98.0, day=NEXT_DAY),
        ]
    }
    engine = engine_over(bars, ny("14:59"))
    order = engine.submit(limit("SPY", 5, 99.0, tif=TimeInForce.GTC))

    engine.advance_to(ny("10:00", NEXT_DAY))

    assert engine.order(order.id).filled_avg_price == 98.0


# ---------------------------------------------------------------- sessions


def test_a_day_order_still_open_at_the_close_expires() -> None:
    engine = engine_over({"SPY": flat_bars("SPY", "15:50", 10, 100.0)}, ny("15:50"))
    order = engine.submit(limit("SPY", 5, 50.0))

    engine.advance_to(ny("16:00"))

    expired = engine.order(order.id)
    assert (expired.status, expired.expired_at) == (OrderStatus.EXPIRED, ny("16:00"))


def test_a_day_order_with_no_later_bar_in_the_session_expires_unfilled() -> None:
    # Minutes without trades have no bar: nothing after 15:58 today, plenty tomorrow.
    bars = {"SPY": [bar("SPY", "15:58", 100.0), bar("SPY", "09:30", 101.0, day=NEXT_DAY)]}
    engine = engine_over(bars, ny("15:59:30"))
    order = engine.submit(market("SPY", 5))

    engine.advance_to(ny("09:31", NEXT_DAY))

    assert engine.order(order.id).status is OrderStatus.EXPIRED
    assert engine.order(order.id).filled_qty == 0


def test_an_order_placed_while_closed_waits_for_the_next_regular_bar_not_extended_hours() -> None:
    bars = {
        "SPY": [
            bar("SPY", "16:30", 50.0),  # after hours today
            bar("SPY", "08:00", 60.0, day=NEXT_DAY),  # pre-market tomorrow
            bar("SPY", "09:30", 102.0, day=NEXT_DAY),
        ]
    }
    engine = engine_over(bars, ny("16:10"))
    order = engine.submit(market("SPY", 5))

    engine.advance_to(ny("09:29", NEXT_DAY))
    assert order.status is OrderStatus.ACCEPTED  # Alpaca's answer while the market is closed
    assert engine.order(order.id).status is OrderStatus.ACCEPTED  # not routed before the open
    engine.advance_to(ny("09:30", NEXT_DAY))

    filled = engine.order(order.id)
    assert (filled.filled_avg_price, filled.expires_at) == (102.0, ny("16:00", NEXT_DAY))


# ---------------------------------------------------------------- the margin account


def test_a_buy_beyond_buying_power_is_refused_and_open_buys_reserve_it() -> None:
    engine = engine_over({"SPY": flat_bars("SPY", "10:00", 5, 100.0)}, ny("09:59"), cash=10_000)

    engine.submit(limit("SPY", 200, 100.0))  # margin: twice the equity, all of it reserved
    assert engine.account().buying_power_cents == 0
    with pytest.raises(ExchangeError) as refused:
        engine.submit(limit("SPY", 1, 1.0))

    assert refusal(refused) == (403, 40310000, "insufficient buying power")


def test_a_market_buy_holds_four_percent_above_the_price_as_alpaca_reserves_it() -> None:
    # A $1,500 cash account, SPY at 100: a market buy is valued at 104.00 a share.
    engine = engine_over({"SPY": flat_bars("SPY", "10:00", 5, 100.0)}, ny("09:59"), cash=1_500)

    engine.submit(market("SPY", 14))  # 14 x 104.00 = 1,456.00
    held = 150_000 - engine.account().buying_power_cents
    with pytest.raises(ExchangeError) as refused:
        engine.submit(market("SPY", 1))  # 104.00 > the 44.00 left

    assert held == 145_600
    assert refusal(refused) == (403, 40310000, "insufficient buying power")


def test_a_market_buy_that_costs_the_whole_buying_power_at_the_price_is_refused() -> None:
    # 15 x 100.00 is the whole 1,500.00, but the exchange (as Alpaca) values it at 1,560.00.
    engine = engine_over({"SPY": flat_bars("SPY", "10:00", 5, 100.0)}, ny("09:59"), cash=1_500)

    with pytest.raises(ExchangeError) as refused:
        engine.submit(market("SPY", 15))

    assert refusal(refused) == (403, 40310000, "insufficient buying power")


def test_a_slippage_above_alpacas_collar_makes_a_market_buy_hold_the_slipped_price() -> None:
    engine = engine_over(
        {"SPY": flat_bars("SPY", "10:00", 5, 100.0)}, ny("09:59"), cash=10_000, slippage_bps=1_000
    )

    engine.submit(market("SPY", 10))  # 10 x 110.00

    assert engine.account().buying_power_cents == 2_000_000 - 110_000


def test_cancelling_an_open_buy_releases_its_buying_power() -> None:
    engine = engine_over({"SPY": flat_bars("SPY", "10:00", 5, 100.0)}, ny("09:59"), cash=10_000)
    order = engine.submit(limit("SPY", 100, 50.0))

    engine.cancel(order.id)

    assert engine.account().buying_power_cents == 2_000_000


def test_a_margin_account_has_multiplier_2_and_buying_power_twice_equity_less_exposure() -> None:
    engine = engine_over({"SPY": flat_bars("SPY", "10:00", 5, 100.0)}, ny("10:00"), cash=10_000)

    filled(engine, market("SPY", 50))  # 5,000.00 long
    account = engine.account()

    assert (account.multiplier, account.shorting_enabled) == (2, True)
    assert account.equity_cents == 1_000_000
    assert account.buying_power_cents == 2 * 1_000_000 - 500_000


def test_below_2000_dollars_the_account_is_a_cash_account_that_cannot_short() -> None:
    engine = engine_over({"SPY": flat_bars("SPY", "10:00", 5, 100.0)}, ny("10:00"), cash=1_500)

    with pytest.raises(ExchangeError) as short:
        engine.submit(market("SPY", 1, Side.SELL))

    assert (engine.account().multiplier, engine.account().buying_power_cents) == (1, 150_000)
    assert refusal(short) == (403, 40310000, "account is not allowed to short")


def test_selling_more_than_a_long_positions_free_shares_is_refused_not_turned_short() -> None:
    engine = engine_over({"SPY": flat_bars("SPY", "10:00", 5, 100.0)}, ny("10:00"))
    filled(engine, market("SPY", 10))
    engine.submit(limit("SPY", 6, 500.0, Side.SELL))  # holds 6 of the 10

    with pytest.raises(ExchangeError) as too_many:
        engine.submit(market("SPY", 5, Side.SELL))

    assert refusal(too_many) == (
        403,
        40310000,
        "insufficient qty available for order (requested: 5, available: 4)",
    )


def test_selling_shares_not_held_opens_a_short_with_negative_quantity_and_value() -> None:
    engine = engine_over({"IBM": flat_bars("IBM", "10:00", 5, 50.0)}, ny("10:00"), cash=10_000)

    filled(engine, market("IBM", 10, Side.SELL))

    short, account = engine.position("IBM"), engine.account()
    assert (short.qty, short.side, short.market_value_cents) == (-10, "short", -50_000)
    assert account.cash_cents == 1_050_000  # the proceeds
    assert account.short_market_value_cents == -50_000
    assert account.equity_cents == 1_000_000


def test_an_order_while_an_opposite_order_of_the_symbol_is_open_is_a_wash_trade() -> None:
    engine = engine_over({"SPY": flat_bars("SPY", "10:00", 5, 100.0)}, ny("10:00"))
    filled(engine, market("SPY", 10))
    engine.submit(limit("SPY", 5, 50.0))  # a resting buy

    with pytest.raises(ExchangeError) as wash:
        engine.submit(market("SPY", 10, Side.SELL))

    assert refusal(wash) == (403, 40310000, "potential wash trade detected. use complex orders")


def test_a_client_order_id_is_accepted_only_once() -> None:
    engine = engine_over({"SPY": flat_bars("SPY", "10:00", 5, 100.0)}, ny("10:00"))
    engine.submit(market("SPY", 1, client_order_id="abc"))

    with pytest.raises(ExchangeError) as duplicate:
        engine.submit(market("SPY", 1, client_order_id="abc"))
    with pytest.raises(ExchangeError) as too_long:
        engine.submit(market("SPY", 1, client_order_id="x" * 129))

    assert refusal(duplicate) == (422, 40010001, "client_order_id must be unique")
    assert too_long.value.status == 422


def test_the_mark_is_the_fill_price_until_a_later_bar_closes() -> None:
    bars = {"SPY": [bar("SPY", "09:59", 99.0), bar("SPY", "10:00", 100.0, c=100.5)]}
    engine = engine_over(bars, ny("10:00:30"))
    filled(engine, market("SPY", 10))

    assert engine.position("SPY").current_price == 100.0
    engine.advance_to(ny("10:01"))
    assert engine.position("SPY").current_price == 100.5


def test_last_equity_is_the_equity_at_the_previous_close() -> None:
    bars = {"SPY": [*flat_bars("SPY", "15:50", 10, 100.0), bar("SPY", "09:30", 90.0, day=NEXT_DAY)]}
    engine = engine_over(bars, ny("15:50"), cash=10_000)
    filled(engine, market("SPY", 10))  # at 100.00
    before_close = engine.account().last_equity_cents

    engine.advance_to(ny("10:00", NEXT_DAY))

    last_close = 100.09 + 0.01  # the 15:59 bar's close
    assert before_close == 1_000_000
    assert engine.account().last_equity_cents == 1_000_000 - 100_000 + round(last_close * 1000)
    assert engine.position("SPY").lastday_price == pytest.approx(last_close)


def test_closing_a_percentage_of_a_position_sells_whole_shares_rounded_down() -> None:
    engine = engine_over({"SPY": flat_bars("SPY", "10:00", 5, 100.0)}, ny("10:00"))
    filled(engine, market("SPY", 15))

    order = engine.close_position("SPY", percentage=Decimal(50))
    settle(engine)

    assert order.qty == 7
    assert engine.position("SPY").qty == 8


def test_cancelling_a_filled_order_is_refused_and_an_unknown_order_is_not_found() -> None:
    engine = engine_over({"SPY": flat_bars("SPY", "10:00", 5, 100.0)}, ny("10:00"))
    order = filled(engine, market("SPY", 1))

    with pytest.raises(ExchangeError) as final:
        engine.cancel(order.id)
    with pytest.raises(ExchangeError) as unknown:
        engine.cancel("00000000-0000-4000-8000-000000000000")

    assert refusal(final)[:2] == (422, 42210000)
    assert refusal(unknown) == (404, 40410000, "order not found")


def test_order_ids_and_generated_client_order_ids_are_deterministic_per_seed() -> None:
    def ids(seed: int) -> list[tuple[str, str]]:
        engine = engine_over({"SPY": flat_bars("SPY", "10:00", 5, 100.0)}, ny("10:00"), seed=seed)
        orders = [engine.submit(market("SPY", 1)) for _ in range(3)]
        return [(o.id, o.client_order_id) for o in orders]

    assert ids(7) == ids(7)
    assert ids(7) != ids(8)


_trades = st.lists(
    st.tuples(
        st.integers(min_value=1_0000, max_value=900_0000),  # price in 1/10,000 dollar
        st.integers(min_value=1, max_value=40),
        st.booleans(),  # sell half of what is held (when something is)
    ),
    min_size=1,
    max_size=25,
)


@settings(max_examples=40, deadline=None)
@given(_trades)
def test_equity_is_cash_plus_market_values_to_the_cent_after_any_fills(
    trades: list[tuple[int, int, bool]],
) -> None:
    first = ny("10:00")
    bars = [
        Bar("SPY", first + timedelta(minutes=i), p / 10_000, p / 10_000, p / 10_000, p / 10_000, 1)
        for i, (p, _, _) in enumerate(trades)
    ]
    engine = engine_over({"SPY": bars}, first, cash=10_000_000)
    cash, held = Decimal("10000000.00"), 0
    for i, (ticks, qty, sell) in enumerate(trades):
        engine.advance_to(first + timedelta(minutes=i))
        price = Decimal(ticks) / 10_000
        side, shares = (Side.SELL, held // 2) if sell and held > 1 else (Side.BUY, qty)
        filled(engine, market("SPY", shares, side))
        amount = (price * shares).quantize(Decimal("0.01"), ROUND_HALF_UP)
        cash, held = (
            (cash + amount, held - shares) if side is Side.SELL else (cash - amount, held + shares)
        )

        account = engine.account()
        values = sum(p.market_value_cents for p in engine.positions())
        assert Decimal(account.cash_cents) / 100 == cash
        assert account.equity_cents == account.cash_cents + values
        expected_value = (price * held).quantize(Decimal("0.01"), ROUND_HALF_UP)
        assert Decimal(values) / 100 == expected_value


def test_the_exchange_and_the_bot_average_two_executions_alike() -> None:
    # The exchange's filled_avg_price of a split fill, and an OCO's two orders read as one.
    engine = engine_over({"SPY": flat_bars("SPY", "09:30", 2, 100.01)}, ny("09:30"))
    engine.partial_fills = _Split()
    order = engine.submit(market("SPY", 3))
    engine.advance_to(ny("09:32"))  # 1 share at 100.01, then 2 at 100.02
    filled = engine.order(order.id)
    leg = replace(broker_order(filled), id="sl", filled_qty=2, filled_avg_price=100.02)
    oco = replace(broker_order(filled), filled_qty=1, filled_avg_price=100.01, legs=(leg,))

    assert filled.filled_avg_price == average_price([(1, 100.01), (2, 100.02)]) == 100.0167
    assert as_one(oco).filled_avg_price == filled.filled_avg_price


class _Split:
    """Fills one share of an order the first time it is asked, the rest after."""

    def fill_qty(self, order: SimOrder) -> int:
        return 1 if order.filled_qty == 0 else order.remaining
