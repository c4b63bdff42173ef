"""Walk-forward windows: rolling, complete, and never letting test data into the choice."""

from __future__ import annotations

import itertools
from datetime import date, timedelta

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sweep_helpers import sma_point, spec, tiny_market, with_prices_scaled_from

from fleece.backtest.equity import EquityCurve
from fleece.backtest.stats import Stats
from fleece.calendar import MarketCalendar
from fleece.errors import ConfigError
from fleece.sweep.executor import SerialExecutor, SweepError
from fleece.sweep.sweep import plan_sweep, run_sweep
from fleece.sweep.tasks import Outcome, TaskSpec, market_for
from fleece.sweep.walkforward import (
    WalkForward,
    Window,
    WindowResult,
    best_outcome,
    chain_test_windows,
    make_windows,
    ranked,
    trading_days,
)

DAYS = [date(2024, 1, 1) + timedelta(days=n) for n in range(40)]


def test_windows_roll_by_the_test_length() -> None:
    windows = make_windows(DAYS[:10], WalkForward(4, 2))

    days = [(w.train_start.day, w.train_end.day, w.test_start.day, w.test_end.day) for w in windows]
    assert days == [(1, 4, 5, 6), (3, 6, 7, 8), (5, 8, 9, 10)]


def test_sessions_left_over_after_the_last_complete_window_are_unused() -> None:
    windows = make_windows(DAYS[:9], WalkForward(4, 2))

    assert windows[-1].test_end == DAYS[7]


def test_too_few_sessions_give_no_window() -> None:
    assert make_windows(DAYS[:5], WalkForward(4, 2)) == []


@settings(deadline=None)  # a loaded machine must not fail a property of pure date arithmetic
@given(
    n=st.integers(min_value=0, max_value=40),
    train=st.integers(min_value=1, max_value=12),
    test=st.integers(min_value=1, max_value=6),
)
def test_every_train_window_ends_before_its_test_window_and_tests_tile(
    n: int, train: int, test: int
) -> None:
    windows = make_windows(DAYS[:n], WalkForward(train, test))

    for w in windows:
        assert w.train_start <= w.train_end < w.test_start <= w.test_end
        assert DAYS.index(w.train_end) - DAYS.index(w.train_start) + 1 == train
        assert DAYS.index(w.test_end) - DAYS.index(w.test_start) + 1 == test
    for a, b in itertools.pairwise(windows):
        assert DAYS.index(b.test_start) == DAYS.index(a.test_end) + 1


def test_a_train_task_gets_no_bar_from_its_test_window() -> None:
    market = tiny_market()
    plan = plan_sweep(market, spec(walk_forward="2:1"))

    for task in plan.first_round:
        if task.phase != "train":
            continue
        window = plan.windows[task.window or 0]
        test_task = TaskSpec(
            0, "test", task.params, task.config, window.test_start, window.test_end
        )
        test_bars = market_for(market, test_task)
        first_test_bar = min(int(b.ts[0]) for b in test_bars.bars.values())
        train_bars = market_for(market, task)
        assert max(int(b.ts[-1]) for b in train_bars.bars.values()) < first_test_bar


def test_the_choice_on_a_train_window_ignores_everything_after_it() -> None:
    market = tiny_market()
    plan = plan_sweep(market, spec(walk_forward="2:1"))
    window = plan.windows[1]
    # Everything from window 1's test session on is made very different.
    altered = with_prices_scaled_from(market, window.test_start, 1.7)

    before = run_sweep(plan, SerialExecutor(market))
    after = run_sweep(plan_sweep(altered, spec(walk_forward="2:1")), SerialExecutor(altered))

    for k in (0, 1):
        assert after.windows[k].chosen is not None and before.windows[k].chosen is not None
        assert after.windows[k].chosen.spec == before.windows[k].chosen.spec
        assert after.windows[k].chosen.stats == before.windows[k].chosen.stats
    assert after.windows[1].test.stats != before.windows[1].test.stats  # type: ignore[union-attr]


def test_sessions_are_the_days_with_regular_bars() -> None:
    assert len(trading_days(tiny_market())) == 4


def test_walk_forward_needs_enough_sessions_for_one_window() -> None:
    with pytest.raises(SweepError, match="at least 7 sessions of bars, the data has 4"):
        plan_sweep(tiny_market(), spec(walk_forward="5:2"))


@pytest.mark.parametrize("text", ["20", "0:5", "a:b", "20:5:1"])
def test_a_bad_walk_forward_spec_is_a_config_error(text: str) -> None:
    with pytest.raises(ConfigError, match="--walk-forward"):
        WalkForward.parse(text)


def _stats(**figures: float | None) -> Stats:
    values: dict[str, object] = {f: None for f in Stats.__dataclass_fields__}
    values.update(start=None, end=None, sessions=1, initial_equity=100.0, final_equity=100.0,
                  total_return=0.0, max_drawdown=0.0, max_drawdown_duration_days=0.0, trades=0,
                  open_trades=0, fills=0, exposure=0.0)  # fmt: skip
    values.update(figures)
    return Stats(**values)  # type: ignore[arg-type]


def _outcome(task_id: int, sharpe: float | None, error: str | None = None) -> Outcome:
    task = TaskSpec(task_id, "train", sma_point(3, 8, 20, 0.1, ("SPY",)), None)  # type: ignore[arg-type]
    if error:
        return Outcome.failed(task, error)
    return Outcome(task, _stats(sharpe=sharpe))


def test_the_best_run_wins_and_ties_go_to_the_earliest_task() -> None:
    runs = [_outcome(0, 1.0), _outcome(1, 2.5), _outcome(2, 2.5), _outcome(3, None)]

    assert best_outcome(runs, "sharpe") is runs[1]


def test_the_run_chosen_is_the_first_of_the_ranking_every_table_shows() -> None:
    runs = [_outcome(0, None), _outcome(1, 0.5), _outcome(2, None, error="x"), _outcome(3, 0.5)]

    order = ranked(runs, "sharpe")

    assert order == [runs[1], runs[3], runs[0]]  # undefined last, failed left out
    assert best_outcome(runs, "sharpe") is order[0]


def test_failed_runs_and_undefined_metrics_are_never_chosen() -> None:
    runs = [_outcome(0, None), _outcome(1, None, error="RuntimeError: x")]

    assert best_outcome(runs, "sharpe") is None


def _test_window(index: int, equity_cents: list[int]) -> WindowResult:
    n = len(equity_cents)
    curve = EquityCurve(
        ts=np.arange(n, dtype=np.int64) * 60 + index * 86_400,
        equity=np.array(equity_cents, dtype=np.int64),
        cash=np.array(equity_cents, dtype=np.int64),
        positions=np.zeros(n, dtype=np.int64),
        session_end=np.array([False] * (n - 1) + [True]),
    )
    day = date(2024, 1, 1)
    window = Window(index, day, day, day, day)
    test = Outcome(
        TaskSpec(index, "test", sma_point(3, 8, 20, 0.1, ("SPY",)), None),  # type: ignore[arg-type]
        _stats(initial_equity=100.0, final_equity=equity_cents[-1] / 100),
        equity=curve,
    )
    return WindowResult(window, test, test, 1)


def test_test_windows_chain_as_if_the_account_carried_over() -> None:
    # +10% in the first window, then -50%: the second starts at $110 and ends at $55.
    results = [_test_window(0, [10_000, 11_000]), _test_window(1, [10_000, 5_000])]

    oos = chain_test_windows(results, cash=100.0)

    assert oos is not None
    assert oos.equity.tolist() == pytest.approx([100.0, 110.0, 110.0, 55.0])
    assert oos.total_return == pytest.approx(-0.45)
    assert oos.max_drawdown == pytest.approx(-0.5)
    assert oos.window.tolist() == [0, 0, 1, 1]
    assert oos.sessions == 2


def test_a_test_window_is_warmed_on_the_past_and_judged_on_its_own_sessions() -> None:
    market = tiny_market()
    plan = plan_sweep(market, spec(walk_forward="2:1"))

    result = run_sweep(plan, SerialExecutor(market))

    calendar = MarketCalendar()
    for w in result.windows:
        assert w.test is not None and w.test.equity is not None and w.test.stats is not None
        assert w.test.spec.warmup_from == w.window.train_start
        session = calendar.session(w.window.test_start)
        assert session is not None
        assert int(w.test.equity.ts[0]) == int(session.open.timestamp())
        assert w.test.stats.sessions == 1
        assert w.test.stats.initial_equity == plan.spec.cash
