"""Specification of the backtest runner: the live decision core, fills by the exchange's engine.

The fast path (vectorised candidates, cycles only where something can happen) must give exactly
what the exact path gives (every bar through SmaCrossover and the trader, a cycle every
minute): same fills, intents, refusals and equity, whatever the limits and the data.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from backtest_helpers import (
    both_modes,
    config,
    limits,
    outcome,
    real,
    sparse,
    synthetic,
    without_rows,
)

from fleece.backtest.data import MarketData
from fleece.backtest.memory_store import MemoryStore
from fleece.backtest.runner import BacktestConfig, Run, run_backtest
from fleece.backtest.signals import find_candidates
from fleece.errors import ConfigError, DataError
from fleece.models import Side
from fleece.state_store import IntentStatus
from fleece.strategy import SmaCrossover
from fleece.strategy.registry import resolve


def test_fast_path_equals_exact_path_with_the_seeds_limits() -> None:
    fast, exact = both_modes(synthetic(days=4), config())

    assert outcome(fast) == outcome(exact)
    assert len(fast.fills) > 20


LOSSY = {"max_daily_loss_pct": 0.002, "max_position_pct": 0.3}


def test_fast_path_equals_exact_path_when_the_daily_loss_limit_latches() -> None:
    fast, exact = both_modes(synthetic(days=4), config(limits=limits(**LOSSY)))

    assert outcome(fast) == outcome(exact)
    assert any(r.reason == "daily_loss_limit" for r in fast.refusals)


def test_a_daily_loss_pct_of_one_never_latches_reducing_on_either_path() -> None:
    # On the same lossy market where 0.2% latches, 1.0 means no daily loss stop at all.
    no_stop = config(limits=limits(**{**LOSSY, "max_daily_loss_pct": 1.0}))
    store = MemoryStore()

    fast, exact = both_modes(synthetic(days=4), no_stop)
    run_backtest(synthetic(days=4), no_stop, store=store)

    assert outcome(fast) == outcome(exact)
    assert not any(r.reason == "daily_loss_limit" for r in fast.refusals)
    assert not [why for _, _, why in store.trading_states if why == "daily_loss_limit"]


def test_the_fast_path_latches_the_loss_limit_at_a_minute_it_made_no_decision() -> None:
    # The bot checks its state every minute; the fast path finds the skipped minute where
    # equity crossed the line and latches REDUCING there, as the bot's heartbeat would.
    store = MemoryStore()

    result = run_backtest(synthetic(days=4), config(limits=limits(**LOSSY)), store=store)

    decided = {i.signal_timestamp + timedelta(minutes=1) for i in result.intents}
    decided |= {r.timestamp for r in result.refusals}
    latched = [t for t, state, why in store.trading_states if why == "daily_loss_limit"]
    assert latched and latched[0] not in decided


def test_fast_path_equals_exact_path_with_slippage_and_tight_position_limits() -> None:
    cfg = config(
        slippage_bps=7.5,
        limits=limits(max_position_pct=0.4, max_concurrent_positions=2, max_trades_per_day=6),
    )

    fast, exact = both_modes(synthetic(days=3), cfg)

    assert outcome(fast) == outcome(exact)
    reasons = {r.reason for r in fast.refusals}
    assert {"max_concurrent_positions", "max_trades_per_day"} <= reasons


def test_fast_path_equals_exact_path_when_the_exchange_refuses_orders() -> None:
    # All-in sizing plus slippage on a cash account (under the $2,000 of a margin account):
    # the exchange's buying-power check refuses some entries, the order manager marks them
    # rejected and the circuit breaker counts the failures.
    cfg = config(
        cash=1_900.0,
        slippage_bps=3_000,
        limits=limits(max_position_pct=1.0, circuit_breaker_failures=3),
    )

    fast, exact = both_modes(synthetic(days=3), cfg)

    assert outcome(fast) == outcome(exact)
    assert any(i.status is IntentStatus.REJECTED for i in fast.intents)


def test_fast_path_equals_exact_path_on_real_bars_with_extended_hours_and_gaps() -> None:
    market = real()
    for cfg in (config(), config(limits=limits(max_position_pct=0.5, max_daily_loss_pct=0.001))):
        fast, exact = both_modes(market, cfg)

        assert outcome(fast) == outcome(exact)


def gappy_market() -> MarketData:
    """Synthetic bars where the bars after SPY's first entry candidates are missing."""
    market = synthetic(("SPY", "AAPL"), days=3)
    cands = find_candidates(market, Run(market, config()).minute_grid, SmaCrossover(10, 30, 90))
    rows = [
        int(cands.row[j]) + 1
        for j in range(len(cands))
        if cands.symbols[int(cands.symbol[j])] == "SPY" and cands.up[j]
    ]
    # Remove a run of bars after each candidate, so its order waits for a later bar.
    gone = [r + k for r in rows[:6] for k in range(3)]
    return without_rows(market, "SPY", gone)


def test_an_order_whose_next_bar_is_missing_fills_at_the_next_bar_of_its_symbol() -> None:
    fast, exact = both_modes(gappy_market(), config())

    assert outcome(fast) == outcome(exact)
    spy_buys = [f for f in fast.fills if f.symbol == "SPY" and f.side is Side.BUY]
    signal_at = {i.client_order_id: i.signal_timestamp for i in fast.intents}
    late = [
        f for f in spy_buys if f.timestamp - signal_at[f.client_order_id] > timedelta(minutes=1)
    ]
    assert late  # filled later than the bar after the signal: the next bar was missing


def test_fast_path_equals_exact_path_on_sparse_minutes_with_binding_limits() -> None:
    # Orders wait for a symbol's next real bar across carried minutes while other symbols
    # signal: the fast path must see a fill that lands in a minute it would otherwise skip.
    market = sparse(synthetic(("SPY", "AAPL", "TSLA", "AMD", "META", "NVDA"), days=3, seed=7))
    cfg = config(
        strategy=resolve("sma_crossover", {"fast": 2, "medium": 4, "slow": 8}),
        limits=limits(max_position_pct=0.3, max_trades_per_day=16, max_concurrent_positions=2),
    )

    fast, exact = both_modes(market, cfg)

    assert len(exact.fills) > 40
    assert outcome(fast) == outcome(exact)


def test_orders_left_open_are_cancelled_after_the_stale_age() -> None:
    fast, exact = both_modes(gappy_market(), config(stale_order_minutes=1))

    assert outcome(fast) == outcome(exact)
    assert any(i.status is IntentStatus.CANCELED for i in fast.intents)


def test_a_market_order_fills_at_the_open_of_the_next_bar() -> None:
    market = synthetic(("SPY",), days=2)
    result = run_backtest(market, config())
    bars = market.bars["SPY"]

    for fill in result.fills:
        row = int(bars.ts.searchsorted(int(fill.timestamp.timestamp())))
        intent = next(i for i in result.intents if i.client_order_id == fill.client_order_id)
        assert fill.timestamp == intent.signal_timestamp + timedelta(minutes=1)
        assert fill.price == bars.open[row] / 10_000


def test_slippage_makes_buys_dearer_and_sells_cheaper() -> None:
    market = synthetic(("SPY",), days=2)
    plain = run_backtest(market, config())
    slipped = run_backtest(market, config(slippage_bps=10))

    first_buy = plain.fills[0]
    slipped_buy = slipped.fills[0]
    assert slipped_buy.client_order_id == first_buy.client_order_id
    assert slipped_buy.price == round(first_buy.price * 1.001, 4)
    first_sell = next(f for f in slipped.fills if f.side is Side.SELL)
    plain_sell = next(f for f in plain.fills if f.client_order_id == first_sell.client_order_id)
    assert first_sell.price < plain_sell.price


def test_the_same_inputs_give_the_same_run() -> None:
    market = synthetic(days=3)

    first = run_backtest(market, config())
    second = run_backtest(market, config())

    assert outcome(first) == outcome(second)


def test_decisions_start_after_start_at_and_earlier_bars_only_warm_up() -> None:
    market = synthetic(("SPY", "AAPL"), days=3)
    second_open = datetime(2024, 1, 3, 14, 30, tzinfo=UTC)

    late = run_backtest(market, config(), start_at=second_open)
    late_exact = run_backtest(market, config(mode="exact"), start_at=second_open)

    assert outcome(late) == outcome(late_exact)
    assert late.intents and all(i.signal_timestamp >= second_open for i in late.intents)
    assert late.fills[0].timestamp > second_open


def test_starting_holdings_are_held_when_decisions_start() -> None:
    market = synthetic(("SPY", "AAPL"), days=3)
    second_open = datetime(2024, 1, 3, 14, 30, tzinfo=UTC)

    store = MemoryStore()
    run = Run(market, config(cash=50_000), store=store, start_at=second_open, holdings={"SPY": 10})

    asyncio.run(run.run_fast())
    first_spy = next((i for i in store.all_intents() if i.symbol == "SPY"), None)

    assert run.seed_fills[0].symbol == "SPY" and run.seed_fills[0].qty == 10
    # The first SPY decision after the start is an exit of the 10 shares held.
    assert first_spy is not None and first_spy.side is Side.SELL and first_spy.qty == 10


def test_starting_cash_is_what_is_left_after_buying_the_starting_holdings() -> None:
    market = synthetic(("SPY",), days=2)
    second_open = datetime(2024, 1, 3, 14, 30, tzinfo=UTC)

    run = Run(market, config(cash=50_000), start_at=second_open, holdings={"SPY": 10})

    asyncio.run(run._seed())

    assert run.engine.account().cash_cents == 5_000_000
    assert run.trader.portfolio.qty == {"SPY": 10}


def test_a_config_with_bad_windows_is_refused() -> None:
    with pytest.raises(ConfigError, match="fast < medium < slow"):
        BacktestConfig(
            limits=limits(), strategy=resolve("sma_crossover", {"fast": 30, "medium": 10})
        )


def test_no_bars_at_all_is_a_data_error() -> None:
    with pytest.raises(DataError, match="no bars"):
        run_backtest(MarketData({}), config())
