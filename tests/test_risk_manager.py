"""Specification of the risk manager: the gate every signal passes, with a reason for each no."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fleece.backtest.loss_scan import loss_threshold_cents
from fleece.models import Refusal, Side, Signal, TradingState
from fleece.risk_limits import RiskLimits, daily_loss_limit
from fleece.risk_manager import (
    REFUSAL_REASONS,
    Approval,
    RiskContext,
    RiskManager,
    position_size,
)

NOW = datetime(2024, 3, 4, 15, 0, tzinfo=UTC)


def limits(**overrides: Any) -> RiskLimits:
    base = RiskLimits(
        max_position_pct=0.10,
        max_daily_loss_pct=0.05,
        max_trades_per_day=20,
        max_concurrent_positions=10,
    )
    return replace(base, **overrides)


def context(**overrides: Any) -> RiskContext:
    base = RiskContext(
        now=NOW,
        market_open=True,
        signal_on_last_bar=False,
        equity=100_000.0,
        last_equity=100_000.0,
        buying_power=200_000.0,
        positions={},
        pending_symbols=frozenset(),
        trades_today=0,
        kill_switch=False,
        breaker_tripped=False,
        reducing_latched=False,
        dry_run=False,
    )
    return replace(base, **overrides)


def signal(side: Side, symbol: str = "SPY", price: float = 100.0) -> Signal:
    return Signal("sma_crossover", symbol, side, NOW, price, "test")


def buy(symbol: str = "SPY") -> Signal:
    return signal(Side.BUY, symbol)


def sell(symbol: str = "SPY") -> Signal:
    return signal(Side.SELL, symbol)


def reason(result: Approval | Refusal) -> str:
    assert isinstance(result, Refusal), f"expected a refusal, got {result}"
    assert result.reason in REFUSAL_REASONS
    return result.reason


def holding(*symbols: str, qty: int = 10) -> dict[str, int]:
    return dict.fromkeys(symbols, qty)


LOSS_HIT = {"equity": 95_000.0, "last_equity": 100_000.0}  # exactly 5% down


# --- trading states ----------------------------------------------------------------------------


def test_state_is_active_with_no_flags_and_no_loss() -> None:
    assert RiskManager(limits()).trading_state(context()) == (TradingState.ACTIVE, "")


def test_kill_switch_halts() -> None:
    state = RiskManager(limits()).trading_state(context(kill_switch=True, breaker_tripped=True))

    assert state == (TradingState.HALTED, "kill_switch")


def test_tripped_breaker_halts() -> None:
    state = RiskManager(limits()).trading_state(context(breaker_tripped=True))

    assert state == (TradingState.HALTED, "circuit_breaker")


def test_daily_loss_at_exactly_the_limit_reduces() -> None:
    state = RiskManager(limits()).trading_state(context(**LOSS_HIT))

    assert state == (TradingState.REDUCING, "daily_loss_limit")


def test_daily_loss_a_cent_short_of_the_limit_stays_active() -> None:
    state = RiskManager(limits()).trading_state(context(equity=95_000.01, last_equity=100_000.0))

    assert state == (TradingState.ACTIVE, "")


_CENTS = st.integers(min_value=9_400_000, max_value=10_100_000).map(lambda c: c / 100)


@given(st.lists(st.tuples(_CENTS, st.sampled_from([100_000.0, 99_000.0])), max_size=30))
def test_one_manager_asked_many_times_answers_as_a_fresh_one_would(
    asks: list[tuple[float, float]],
) -> None:
    # The manager keeps its last daily-loss answer; a new equity must never get a stale one.
    kept = RiskManager(limits())
    for equity, last_equity in asks:
        fresh = RiskManager(limits()).daily_loss_hit(equity, last_equity)
        assert kept.daily_loss_hit(equity, last_equity) is fresh


@given(
    st.integers(min_value=1_000, max_value=10_000_000_000),  # the day's start, in cents
    st.integers(min_value=1, max_value=9_999).map(lambda bp: bp / 10_000),
)
def test_the_loss_line_is_one_rule_for_the_manager_the_backtest_scan_and_the_viewers(
    start_cents: int, pct: float
) -> None:
    risk, start = RiskManager(limits(max_daily_loss_pct=pct)), start_cents / 100
    line = loss_threshold_cents(start_cents, pct)  # the backtest's skipped-minute scan
    shown = daily_loss_limit(start, pct)  # status, the dashboard, /status
    assert shown is not None
    shown_line = start_cents - round(shown * 100)

    assert risk.daily_loss_hit(line / 100, start)
    assert not risk.daily_loss_hit((line + 1) / 100, start)
    # Shown to the cent: a cent more loss than shown always reduces, a cent less never does.
    assert risk.daily_loss_hit((shown_line - 1) / 100, start)
    assert not risk.daily_loss_hit((shown_line + 1) / 100, start)


def test_no_starting_equity_is_no_daily_loss() -> None:
    # An all-zero account (not read yet) must not latch REDUCING for the whole session.
    state = RiskManager(limits()).trading_state(context(equity=0.0, last_equity=0.0))

    assert state == (TradingState.ACTIVE, "")


def test_latched_reducing_stays_reducing_after_equity_recovers() -> None:
    state = RiskManager(limits()).trading_state(context(reducing_latched=True))

    assert state == (TradingState.REDUCING, "daily_loss_limit")


# --- HALTED, market hours, pending -------------------------------------------------------------


def test_kill_switch_blocks_exits_too() -> None:
    ctx = context(kill_switch=True, positions=holding("SPY"))

    assert reason(RiskManager(limits()).evaluate(sell(), ctx, 100.0)) == "kill_switch"


def test_circuit_breaker_blocks_entries_and_exits() -> None:
    ctx = context(breaker_tripped=True, positions=holding("SPY"))
    risk = RiskManager(limits())

    assert reason(risk.evaluate(sell(), ctx, 100.0)) == "circuit_breaker"
    assert reason(risk.evaluate(buy("IBM"), ctx, 100.0)) == "circuit_breaker"


def test_closed_market_refuses() -> None:
    ctx = context(market_open=False, positions=holding("SPY"))

    assert reason(RiskManager(limits()).evaluate(sell(), ctx, 100.0)) == "market_closed"


def test_signal_on_the_sessions_last_bar_is_not_acted_on() -> None:
    ctx = context(signal_on_last_bar=True)

    assert reason(RiskManager(limits()).evaluate(buy(), ctx, 100.0)) == "last_bar_of_session"


def test_pending_order_for_the_symbol_refuses_another() -> None:
    ctx = context(positions=holding("SPY"), pending_symbols=frozenset({"SPY"}))

    assert reason(RiskManager(limits()).evaluate(sell(), ctx, 100.0)) == "order_pending"


def test_refusal_carries_symbol_side_time_and_a_detail() -> None:
    result = RiskManager(limits()).evaluate(buy(), context(market_open=False), 100.0)

    assert isinstance(result, Refusal)
    assert (result.symbol, result.side, result.timestamp) == ("SPY", Side.BUY, NOW)
    assert result.detail


# --- exits -------------------------------------------------------------------------------------


def test_exit_sells_the_whole_position() -> None:
    ctx = context(positions={"SPY": 37})

    assert RiskManager(limits()).evaluate(sell(), ctx, 100.0) == Approval("SPY", Side.SELL, 37)


def test_exit_without_a_position_is_refused() -> None:
    assert reason(RiskManager(limits()).evaluate(sell(), context(), 100.0)) == "no_position"


def test_daily_loss_limit_blocks_entries_but_allows_exits() -> None:
    ctx = context(positions=holding("SPY"), **LOSS_HIT)
    risk = RiskManager(limits())

    assert reason(risk.evaluate(buy("IBM"), ctx, 100.0)) == "daily_loss_limit"
    assert risk.evaluate(sell("SPY"), ctx, 100.0) == Approval("SPY", Side.SELL, 10)


def test_a_daily_loss_pct_of_one_means_no_daily_loss_stop() -> None:
    # 1.0 is accepted by trading.yaml; it means "no stop", even with everything lost.
    ctx = context(equity=0.01, last_equity=100_000.0)
    risk = RiskManager(limits(max_daily_loss_pct=1.0))

    assert risk.trading_state(ctx) == (TradingState.ACTIVE, "")
    assert isinstance(risk.evaluate(buy("IBM"), context(**LOSS_HIT), 100.0), Approval)


def test_exits_ignore_the_trade_and_position_limits() -> None:
    ctx = context(positions=holding("SPY", "IBM"), trades_today=20)
    risk = RiskManager(limits(max_concurrent_positions=2))

    assert risk.evaluate(sell(), ctx, 100.0) == Approval("SPY", Side.SELL, 10)


# --- entries: limits at their boundaries -------------------------------------------------------


def test_one_trade_below_the_daily_limit_is_allowed() -> None:
    result = RiskManager(limits()).evaluate(buy(), context(trades_today=19), 100.0)

    assert isinstance(result, Approval)


def test_the_daily_trade_limit_blocks_entries() -> None:
    result = RiskManager(limits()).evaluate(buy(), context(trades_today=20), 100.0)

    assert reason(result) == "max_trades_per_day"


def test_entry_while_holding_the_symbol_is_refused() -> None:
    ctx = context(positions=holding("SPY"))

    assert reason(RiskManager(limits()).evaluate(buy(), ctx, 100.0)) == "already_in_position"


def test_one_position_below_the_concurrency_limit_is_allowed() -> None:
    ctx = context(positions=holding("A", "B"))
    risk = RiskManager(limits(max_concurrent_positions=3))

    assert isinstance(risk.evaluate(buy(), ctx, 100.0), Approval)


def test_the_concurrency_limit_blocks_entries() -> None:
    ctx = context(positions=holding("A", "B", "C"))
    risk = RiskManager(limits(max_concurrent_positions=3))

    assert reason(risk.evaluate(buy(), ctx, 100.0)) == "max_concurrent_positions"


def test_pending_entries_count_towards_the_concurrency_limit() -> None:
    ctx = context(positions=holding("A", "B"), pending_symbols=frozenset({"C"}))
    risk = RiskManager(limits(max_concurrent_positions=3))

    assert reason(risk.evaluate(buy(), ctx, 100.0)) == "max_concurrent_positions"


def test_a_pending_exit_on_a_held_symbol_counts_once() -> None:
    ctx = context(positions=holding("A", "B"), pending_symbols=frozenset({"A"}))
    risk = RiskManager(limits(max_concurrent_positions=3))

    assert isinstance(risk.evaluate(buy(), ctx, 100.0), Approval)


def test_zero_quantity_positions_do_not_count_as_held() -> None:
    ctx = context(positions={"SPY": 0, "A": 0})
    risk = RiskManager(limits(max_concurrent_positions=1))

    assert risk.evaluate(buy(), ctx, 100.0) == Approval("SPY", Side.BUY, 100)


# --- entries: sizing ---------------------------------------------------------------------------


def test_position_size_is_floor_of_equity_fraction_over_price() -> None:
    result = RiskManager(limits()).evaluate(buy(), context(equity=100_000.0), 333.0)

    assert result == Approval("SPY", Side.BUY, 30)  # 10,000 / 333 = 30.03


def test_sizing_exact_where_floats_fall_short() -> None:
    # In floats 10,000 * 0.35 / 1.12 is 3124.9999999999995: a float floor would buy 3124.
    assert math.floor(10_000.0 * 0.35 / 1.12) == 3124

    assert position_size(10_000.0, 0.35, 1.12) == 3125


def test_ten_percent_of_100k_at_100_is_exactly_100_shares() -> None:
    assert position_size(100_000.0, 0.10, 100.00) == 100


@given(
    equity=st.decimals("0", "10000000", places=2),
    pct=st.decimals("0.01", "1", places=2),
    price=st.decimals("0.01", "5000", places=4),
)
def test_exact_sizing_at_boundaries(equity: Decimal, pct: Decimal, price: Decimal) -> None:
    qty = position_size(float(equity), float(pct), float(price))

    assert qty * price <= equity * pct < (qty + 1) * price


def test_entry_too_small_for_one_share_is_refused() -> None:
    # 10% of 999.99 is 99.999, less than one share at 100.
    ctx = context(equity=999.99, last_equity=999.99)

    result = RiskManager(limits()).evaluate(buy(), ctx, 100.0)

    assert reason(result) == "position_size_zero"


def test_entry_is_sized_down_to_what_buying_power_holds_at_the_exchanges_market_value() -> None:
    # 100 shares at 100 cost 10,000.00, but a market buy holds 104.00 a share (4% above the
    # price, as the exchange reserves it): 10,000.00 holds 96 of them. The old rule (cost at
    # the last price) approved 100, which the exchange refused with 403.
    ctx = context(buying_power=10_000.0)

    assert RiskManager(limits()).evaluate(buy(), ctx, 100.0) == Approval("SPY", Side.BUY, 96)


def test_entry_whose_market_value_fits_the_buying_power_exactly_is_not_sized_down() -> None:
    ctx = context(buying_power=10_400.0)  # 100 x 104.00

    assert RiskManager(limits()).evaluate(buy(), ctx, 100.0) == Approval("SPY", Side.BUY, 100)


def test_entry_is_refused_when_buying_power_holds_not_one_share() -> None:
    ctx = context(buying_power=103.99)  # one share is valued at 104.00

    result = RiskManager(limits()).evaluate(buy(), ctx, 100.0)

    assert reason(result) == "insufficient_buying_power"
    assert isinstance(result, Refusal) and "104" in result.detail


def test_entry_beyond_equity_times_max_leverage_is_refused_whatever_buying_power_says() -> None:
    # 90,000.01 held or pending + 10,000.00 > 100,000.00 x 1.0; margin lends 200,000.00.
    ctx = context(exposure=90_000.01, buying_power=200_000.0)

    result = RiskManager(limits()).evaluate(buy(), ctx, 100.0)

    assert reason(result) == "max_leverage"
    assert isinstance(result, Refusal) and "max_leverage 1.0" in result.detail


def test_entry_up_to_exactly_equity_times_max_leverage_is_allowed() -> None:
    exact = context(exposure=90_000.0)
    levered = context(exposure=150_000.0)

    assert RiskManager(limits()).evaluate(buy(), exact, 100.0) == Approval("SPY", Side.BUY, 100)
    assert RiskManager(limits(max_leverage=2.0)).evaluate(buy(), levered, 100.0) == Approval(
        "SPY", Side.BUY, 100
    )


@pytest.mark.parametrize("leverage", [0.0, -1.0, 4.01])
def test_max_leverage_must_be_above_zero_and_at_most_four(leverage: float) -> None:
    with pytest.raises(ValueError, match="max_leverage"):
        limits(max_leverage=leverage)


def test_exits_sell_what_the_bot_owns_and_no_more() -> None:
    ctx = context(positions={"SPY": 7})

    assert RiskManager(limits()).evaluate(sell(), ctx, 100.0) == Approval("SPY", Side.SELL, 7)


@pytest.mark.parametrize("price", [0.0, -1.0, math.nan, math.inf])
def test_entry_with_an_unusable_price_is_refused(price: float) -> None:
    assert reason(RiskManager(limits()).evaluate(buy(), context(), price)) == "invalid_price"


def test_dry_run_decides_exactly_like_a_real_run() -> None:
    risk = RiskManager(limits())

    assert risk.evaluate(buy(), context(dry_run=True), 100.0) == risk.evaluate(
        buy(), context(), 100.0
    )


# --- inputs ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "overrides",
    [
        {"max_position_pct": 0.0},
        {"max_position_pct": 1.5},
        {"max_daily_loss_pct": 0.0},
        {"max_daily_loss_pct": 1.01},
        {"max_trades_per_day": -1},
        {"max_concurrent_positions": -1},
        {"circuit_breaker_failures": 0},
    ],
)
def test_out_of_range_limits_are_refused(overrides: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=next(iter(overrides))):
        limits(**overrides)


def test_context_requires_an_aware_time() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        context(now=datetime(2024, 3, 4, 15, 0))


def test_context_requires_finite_equity() -> None:
    with pytest.raises(ValueError, match="equity"):
        context(equity=math.nan)
