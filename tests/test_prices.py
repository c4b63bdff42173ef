"""Specification of Alpaca's price grid, one rule for the bot, the exchange and generated bars."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from fleece.exchange.order_body import price
from fleece.exchange.orders import ExchangeError
from fleece.prices import average_price, on_price_grid, price_step, round_price, round_prices
from fleece.protection import Protection, stop_level, take_profit_level

prices = st.decimals(min_value=Decimal("0.0001"), max_value=Decimal(100_000), places=6)


def test_prices_move_in_cents_from_one_dollar_and_in_ten_thousandths_below() -> None:
    assert price_step(Decimal("1.00")) == Decimal("0.01")
    assert price_step(Decimal("0.9999")) == Decimal("0.0001")


@given(value=prices)
def test_the_exchange_accepts_exactly_the_prices_on_the_grid(value: Decimal) -> None:
    # Arrange: a limit price as a client would send it.
    on_grid = round_price(value) == value

    # Act
    try:
        accepted = price(str(value), "limit_price") == float(value)
    except ExchangeError as refused:
        assert "sub-penny" in refused.message
        accepted = False

    # Assert
    assert accepted is on_grid is on_price_grid(value)


@given(
    entry=st.floats(min_value=0.01, max_value=5_000),
    pct=st.floats(min_value=0.001, max_value=0.5),
)
def test_the_bots_protective_prices_are_always_on_the_exchanges_grid(
    entry: float, pct: float
) -> None:
    protection = Protection(stop_loss_pct=pct, take_profit_pct=pct)

    for level in (stop_level(protection, entry), take_profit_level(protection, entry)):
        assert level is not None
        assert price(repr(level), "stop_price") == level


@given(values=st.lists(st.floats(min_value=0.0001, max_value=10_000), min_size=1, max_size=50))
def test_generated_prices_are_rounded_to_the_nearest_step_of_the_grid(values: list[float]) -> None:
    rounded = round_prices(np.array(values, dtype=np.float64))

    for before, after in zip(values, rounded.tolist(), strict=True):
        step = float(price_step(Decimal(repr(before))))
        assert on_price_grid(Decimal(repr(after)))
        assert abs(after - before) <= step / 2 + 1e-9


def test_an_average_fill_price_is_weighted_by_shares_and_rounded_half_to_even_to_the_tick() -> None:
    assert average_price([(3, 10.01), (2, 10.02)]) == 10.014
    assert average_price([(1, 1.0000), (1, 1.0001)]) == 1.0  # 1.00005: the even tick
    assert average_price([(1, 1.0001), (1, 1.0002)]) == 1.0002  # 1.00015: the even tick
