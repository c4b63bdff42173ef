"""The parameter grid: every combination once, in a fixed order; invalid ones skipped with why."""

from __future__ import annotations

import pytest
from sweep_helpers import axes, sma_point, trading

from fleece.errors import ConfigError
from fleece.sweep.axes import parse_floats, parse_symbol_sets
from fleece.sweep.grid import backtest_config, build_grid, with_params


def _grid(**kwargs: object) -> object:
    return build_grid(axes(**kwargs), trading(), cash=100_000.0, slippage_bps=0.0)  # type: ignore[arg-type]


def test_grid_crosses_every_axis_in_a_fixed_order() -> None:
    grid = _grid(fast=(3, 5), medium=(8,), slow=(20, 30), pct=(0.1, 0.2))

    windows = [
        (p.params.value("fast"), p.params.value("slow"), p.params.max_position_pct)
        for p in grid.points
    ]

    assert windows == [
        (3, 20, 0.1), (3, 20, 0.2), (3, 30, 0.1), (3, 30, 0.2),
        (5, 20, 0.1), (5, 20, 0.2), (5, 30, 0.1), (5, 30, 0.2),
    ]  # fmt: skip


def test_symbol_sets_are_the_outermost_axis() -> None:
    grid = _grid(fast=(3,), medium=(8,), slow=(20, 30), sets=(("SPY",), ("IBM", "SPY")))

    assert [p.params.symbols for p in grid.points] == [
        ("SPY",), ("SPY",), ("IBM", "SPY"), ("IBM", "SPY"),
    ]  # fmt: skip


def test_windows_out_of_order_are_skipped_with_the_runners_reason() -> None:
    grid = _grid(fast=(5, 10), medium=(10, 20), slow=(15,))

    assert [(p.params.value("fast"), p.params.value("medium")) for p in grid.points] == [(5, 10)]
    reasons = {(s.params.value("fast"), s.params.value("medium")): s.reason for s in grid.skipped}
    assert set(reasons) == {(5, 20), (10, 10), (10, 20)}
    assert "fast < medium < slow" in reasons[(10, 10)]


def test_a_window_longer_than_a_week_of_minutes_is_skipped_not_run() -> None:
    # trading.yaml refuses such a window; on the command line it was run (and ran out of memory).
    grid = _grid(fast=(3,), medium=(8,), slow=(1950, 100_000_000_000))

    assert [p.params.value("slow") for p in grid.points] == [1950]
    assert "a week of regular-session minutes" in grid.skipped[0].reason


def test_a_position_size_the_risk_manager_refuses_is_skipped() -> None:
    grid = _grid(fast=(3,), medium=(8,), slow=(20,), pct=(0.1, 1.5))

    assert [p.params.max_position_pct for p in grid.points] == [0.1]
    assert "max_position_pct" in grid.skipped[0].reason


def test_skipped_combinations_keep_their_place_in_grid_order() -> None:
    grid = _grid(fast=(3, 9), medium=(8,), slow=(20,))

    assert grid.order == {
        sma_point(3, 8, 20): 0,
        sma_point(9, 8, 20): 1,
    }


def test_a_value_listed_twice_runs_once() -> None:
    grid = _grid(fast=(3, 3), medium=(8,), slow=(20,), sets=(("SPY", "IBM"), ("IBM", "SPY")))

    assert len(grid.points) == 1


def test_a_grid_point_varies_the_trading_config_and_keeps_its_other_settings() -> None:
    base = trading(max_daily_loss_pct=0.02, max_trades_per_day=7)
    params = sma_point(4, 9, 33, 0.25, ("SPY",))

    varied = with_params(base, params)
    config = backtest_config(varied, cash=5_000.0, slippage_bps=2.0)

    assert config.strategy.params.model_dump() == {"fast": 4, "medium": 9, "slow": 33}
    assert config.limits.max_position_pct == 0.25
    assert config.limits.max_daily_loss_pct == 0.02
    assert config.limits.max_trades_per_day == 7
    assert (config.cash, config.slippage_bps) == (5_000.0, 2.0)
    assert varied.tickers == ("SPY",)
    assert base.strategy.spec.params.model_dump()["fast"] == 10  # the base is untouched


def test_lists_on_the_command_line_parse_in_the_order_given() -> None:
    assert parse_floats("0.05,0.1", "--max-position-pct") == (0.05, 0.1)
    assert parse_symbol_sets(["spy,IBM", "SPY"]) == (("IBM", "SPY"), ("SPY",))


@pytest.mark.parametrize("text", ["", "0.1,x", " , "])
def test_a_bad_size_list_is_a_config_error_naming_the_option(text: str) -> None:
    with pytest.raises(ConfigError, match="--max-position-pct"):
        parse_floats(text, "--max-position-pct")
