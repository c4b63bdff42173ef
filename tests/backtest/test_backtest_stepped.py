"""Specification of the bar-by-bar fast path: a strategy without a vectorised path backtests fast
and exactly as the reference does.

``fleece backtest`` steps such a strategy (``donchian_breakout``, ``opening_range``, a user's)
through every grid minute but polls (exchange, orders, account, risk) only at minutes where it
signalled or an order is open. It must give what the exact path gives (a full poll at every
minute): the same fills, intents, refusals and equity, on every case the vectorised path is held
to and on random sparse data; and the strategy must be asked the same questions: the same bars
with the same context (position, pending orders, time, session, last prices) in the same order,
including at a poll where an open order fills or expires before the decisions.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import pytest
from backtest_helpers import config, limits, outcome, real, sparse, synthetic
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fleece.backtest import path_stepped
from fleece.backtest.data import MarketData
from fleece.backtest.runner import BacktestConfig, Run, run_backtest
from fleece.minute_grid import carried_bar
from fleece.models import Bar, Signal
from fleece.strategy.api import MinuteContext
from fleece.strategy.donchian import DonchianBreakout, DonchianParams
from fleece.strategy.opening_range import OpeningRange, OpeningRangeParams
from fleece.strategy.registry import StrategySpec, resolve

SECOND_OPEN = datetime(2024, 1, 3, 14, 30, tzinfo=UTC)
LOSSY = {"max_daily_loss_pct": 0.002, "max_position_pct": 0.3}
TIGHT = {"max_position_pct": 0.4, "max_concurrent_positions": 2, "max_trades_per_day": 6}
SIX = ("SPY", "AAPL", "TSLA", "AMD", "META", "NVDA")


class Seen:
    """What a strategy was asked: every bar with its whole context, in order."""

    #: Every Seen made, newest last: a run builds its own strategy from the spec.
    made: ClassVar[list[Seen]] = []

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []
        Seen.made.append(self)

    def record(self, bar: Bar, ctx: MinuteContext, signal: Signal | None) -> None:
        self.calls.append(
            (
                bar,
                ctx.now,
                ctx.position,
                ctx.buying,
                ctx.selling,
                ctx.session_open,
                ctx.session_close,
                tuple(sorted(ctx.last_prices.items())),
                signal,
            )
        )


class Seeing:
    """Mixed in before a strategy's class: keeps every question the strategy was asked."""

    def __init__(self, params: Any = None) -> None:
        super().__init__(params)  # type: ignore[call-arg]
        self.seen = Seen()

    def on_minute(self, bar: Bar, ctx: MinuteContext) -> Signal | None:
        signal: Signal | None = super().on_minute(bar, ctx)  # type: ignore[misc]
        self.seen.record(bar, ctx, signal)
        return signal


class SeenDonchian(Seeing, DonchianBreakout):
    """``donchian_breakout`` that keeps every question it was asked."""


class SeenOpeningRange(Seeing, OpeningRange):
    """``opening_range`` that keeps every question it was asked."""


def donchian(entry: int = 20, exit_: int = 10) -> StrategySpec:
    return StrategySpec(
        "donchian_breakout", SeenDonchian, DonchianParams(entry=entry, exit=exit_), "test"
    )


def opening_range(range_minutes: int = 30, before_close: int = 15) -> StrategySpec:
    params = OpeningRangeParams(range_minutes=range_minutes, exit_before_close=before_close)
    return StrategySpec("opening_range", SeenOpeningRange, params, "test")


STRATEGIES = {
    "donchian 20/10": donchian,
    "donchian 5/3": lambda: donchian(5, 3),
    "opening range 30/15": opening_range,
    "opening range 5/60": lambda: opening_range(5, 60),
}


@pytest.fixture(params=sorted(STRATEGIES))
def spec(request: pytest.FixtureRequest) -> StrategySpec:
    return STRATEGIES[request.param]()


def stepped_and_exact(
    market: MarketData, cfg: BacktestConfig, **options: Any
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Both paths' outcomes, with what the strategy was asked on each and the polls run."""
    done = []
    for mode in ("fast", "exact"):
        result = run_backtest(market, replace(cfg, mode=mode), **options)
        done.append({**outcome(result), "asked": Seen.made[-1].calls, "steps": result.steps})
    Seen.made.clear()
    return done[0], done[1]


def assert_same(stepped: dict[str, Any], exact: dict[str, Any]) -> None:
    steps = stepped.pop("steps"), exact.pop("steps")
    assert stepped["asked"] == exact["asked"]
    assert stepped == exact
    assert steps[0] < steps[1]  # it did skip polls


CASES: dict[str, tuple[Any, dict[str, Any]]] = {
    "seed limits": (lambda: synthetic(days=4), {}),
    "daily loss latch": (lambda: synthetic(days=4), {"limits": limits(**LOSSY)}),
    "no daily stop": (
        lambda: synthetic(days=3),
        {"limits": limits(**{**LOSSY, "max_daily_loss_pct": 1.0})},
    ),
    "slippage, tight limits": (
        lambda: synthetic(days=3),
        {"slippage_bps": 7.5, "limits": limits(**TIGHT)},
    ),
    "exchange refuses": (
        lambda: synthetic(days=3),
        {"slippage_bps": 50, "limits": limits(max_position_pct=1.0, circuit_breaker_failures=3)},
    ),
    "real bars": (real, {}),
    "real bars, lossy": (real, {"limits": limits(max_position_pct=0.5, max_daily_loss_pct=0.001)}),
    "sparse, binding limits": (
        lambda: sparse(synthetic(SIX, days=3, seed=7)),
        {"limits": limits(max_position_pct=0.3, max_trades_per_day=16, max_concurrent_positions=2)},
    ),
    "sparse, stale orders": (
        lambda: sparse(synthetic(SIX, days=3, seed=3), most=0.6),
        {"stale_order_minutes": 1},
    ),
    "sparse, poll offset": (
        lambda: sparse(synthetic(days=3, seed=2)),
        {"poll_offset_seconds": 5.0},
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_bar_by_bar_fast_path_equals_the_exact_path(case: str, spec: StrategySpec) -> None:
    build, overrides = CASES[case]

    stepped, exact = stepped_and_exact(build(), config(strategy=spec, **overrides))

    assert exact["intents"]  # it decided something
    assert_same(stepped, exact)


def test_both_paths_agree_when_decisions_start_late_with_positions_held(spec: StrategySpec) -> None:
    market = synthetic(("SPY", "AAPL"), days=3)
    options = {"start_at": SECOND_OPEN, "holdings": {"SPY": 10}}

    stepped, exact = stepped_and_exact(market, config(cash=50_000, strategy=spec), **options)

    assert_same(stepped, exact)
    # The warm-up asked the strategy as if flat, the run after it with the 10 shares held.
    held = [a for a in exact["asked"] if a[0].symbol == "SPY" and a[1] > SECOND_OPEN]
    assert held and held[0][2] == 10


def orders_finished_in_the_poll(asked: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """The questions asked at a poll that began with an order of the bar's symbol open (the
    previous minute's question already showed it pending) and that the order's fill, expiry or
    cancellation in this poll's refresh changed: nothing pending any more."""
    previous: dict[str, tuple[Any, ...]] = {}
    out = []
    for call in asked:
        symbol = call[0].symbol
        before = previous.get(symbol)
        if before is not None and (before[3] or before[4]) and not (call[3] or call[4]):
            out.append(call)
        previous[symbol] = call
    return out


def test_a_poll_where_an_open_order_finishes_decides_on_the_holding_after_it() -> None:
    # Sparse bars make orders wait over minutes without a bar, and stale ones are cancelled:
    # at the poll where such an order fills or is cancelled, the strategy must see the holding
    # after the refresh, as the exact path (and the bot) show it.
    market = sparse(synthetic(SIX, days=3, seed=3), most=0.6)
    cfg = config(strategy=donchian(5, 3), stale_order_minutes=1)

    stepped, exact = stepped_and_exact(market, cfg)

    assert_same(stepped, exact)
    finished = orders_finished_in_the_poll(exact["asked"])
    assert any(call[2] > 0 for call in finished)  # a buy filled: now held
    assert any(call[2] == 0 for call in finished)  # a sell filled, or a buy cancelled: now flat


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10_000),
    share=st.floats(0.0, 0.7),
    which=st.sampled_from(["donchian", "opening_range"]),
    a=st.integers(1, 30),
    b=st.integers(1, 30),
    position=st.sampled_from([0.1, 0.3, 1.0]),
    loss=st.sampled_from([0.001, 0.01, 1.0]),
    stale=st.integers(1, 15),
)
def test_on_random_sparse_bars_both_paths_agree(
    seed: int, share: float, which: str, a: int, b: int, position: float, loss: float, stale: int
) -> None:
    market = synthetic(("SPY", "AAPL", "TSLA"), days=2, seed=seed)
    if share > 0:
        market = sparse(market, seed=seed, most=share + 0.02)
    spec = donchian(a, b) if which == "donchian" else opening_range(a, 2 * b)
    cfg = config(
        strategy=spec,
        limits=limits(max_position_pct=position, max_daily_loss_pct=loss, max_trades_per_day=8),
        stale_order_minutes=stale,
    )

    stepped, exact = stepped_and_exact(market, cfg)

    stepped.pop("steps"), exact.pop("steps")
    assert stepped == exact


def test_a_strategy_without_a_vectorised_path_runs_the_stepped_path_by_default() -> None:
    cfg = config(strategy=resolve("donchian_breakout", {}))
    run = Run(synthetic(("SPY",), days=1), cfg)

    assert cfg.mode == "fast" and not run.vectorised


@pytest.mark.parametrize("by_slots", [True, False], ids=["slots", "constructor"])
def test_grid_bars_are_the_bars_the_grid_hands_on(
    by_slots: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The stepped path builds its bars a column at a time; they must be the real bars and the
    # carried bars (the last close repeated) of the minute grid, field for field.
    monkeypatch.setattr(path_stepped, "_SLOTS_MATCH", by_slots and path_stepped._SLOTS_MATCH)
    stamps = [SECOND_OPEN + timedelta(minutes=i) for i in range(3)]
    carried = [10.5, 10.5]  # on the grid a carried minute's open, high and low are its close
    ohlcv = ([10.0, *carried], [11.0, *carried], [9.5, *carried], [10.5, *carried], [7, 0, 0])

    bars = path_stepped.grid_bars("SPY", stamps, ohlcv, [True, False, False])

    assert bars == [
        Bar("SPY", stamps[0], 10.0, 11.0, 9.5, 10.5, 7),
        carried_bar("SPY", stamps[1], 10.5),
        carried_bar("SPY", stamps[2], 10.5),
    ]
