"""Sweeps over any declared parameter of any strategy: ``--param NAME=V1,V2``, typed, bounded by
the strategy, named generically in every table."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from sweep_helpers import SYMBOLS, tiny_market, user_strategy_config

from fleece.config import TradingConfig
from fleece.errors import ConfigError
from fleece.sweep.axes import build_axes
from fleece.sweep.executor import SerialExecutor
from fleece.sweep.grid import Grid, build_grid
from fleece.sweep.report import heatmap_axes, render_report
from fleece.sweep.results import runs_frame, runs_table, write_tables
from fleece.sweep.sweep import SweepResult, SweepSpec, plan_sweep, run_sweep


def donchian() -> TradingConfig:
    return TradingConfig.model_validate(
        {"symbols": {"list": list(SYMBOLS)}, "strategy": {"name": "donchian_breakout", "exit": 7}}
    )


def _grid(trading: TradingConfig, *params: str) -> Grid:
    return build_grid(build_axes(trading, params=params), trading, cash=100_000.0, slippage_bps=0.0)


# ---------------------------------------------------------------- the axes


def test_any_declared_parameter_is_an_axis_and_the_others_keep_the_configs_value() -> None:
    axes = build_axes(donchian(), params=["entry=10,20,40"])

    assert axes.strategy == (("entry", (10, 20, 40)), ("exit", (7,)))
    assert axes.varying() == ("entry",)


def test_values_are_parsed_by_the_parameters_declared_type(tmp_path: Path) -> None:
    trading = user_strategy_config(tmp_path)

    axes = build_axes(trading, params=["threshold=0, 0.002", "window=3"])

    assert dict(axes.strategy) == {"window": (3,), "threshold": (0.0, 0.002)}
    assert all(isinstance(v, float) for v in dict(axes.strategy)["threshold"])


@pytest.mark.parametrize(
    ("option", "key", "reason"),
    [
        ("entri=10", "--param entri", "unknown parameter of donchian_breakout; did you mean"),
        (
            "entry=10,ten",
            "--param entry",
            "should be a valid integer, unable to parse string as an integer (got 'ten')",
        ),
        ("entry=2.5", "--param entry", "(got '2.5')"),
        ("entry", "--param", "expected NAME=V1,V2"),
        ("entry=", "--param entry", "comma-separated list"),
    ],
)
def test_a_bad_param_option_is_one_line_naming_it(option: str, key: str, reason: str) -> None:
    with pytest.raises(ConfigError) as refused:
        build_axes(donchian(), params=[option])

    assert refused.value.key == key
    assert reason in refused.value.reason


def test_a_parameter_given_twice_is_refused() -> None:
    with pytest.raises(ConfigError, match="given twice"):
        build_axes(donchian(), params=["entry=10", "entry=20"])


def test_the_sma_shorthands_are_refused_for_another_strategy_in_one_line() -> None:
    with pytest.raises(ConfigError) as refused:
        build_axes(donchian(), shorthands={"fast": "5,10"})

    assert refused.value.key == "--fast"
    assert "donchian_breakout: use --param NAME=V1,V2 (its parameters: entry, exit)" in str(
        refused.value
    )


def test_the_sma_shorthands_are_the_sma_crossovers_parameters() -> None:
    sma = TradingConfig.model_validate({"symbols": {"list": list(SYMBOLS)}})

    axes = build_axes(sma, params=["slow=60,90"], shorthands={"fast": "5,10", "medium": None})

    assert axes.strategy == (("fast", (5, 10)), ("medium", (30,)), ("slow", (60, 90)))
    with pytest.raises(ConfigError, match=r"given twice \(--fast and --param\)"):
        build_axes(sma, params=["fast=3"], shorthands={"fast": "5"})


# ---------------------------------------------------------------- the grid


def test_a_value_the_strategy_refuses_is_skipped_with_its_reason() -> None:
    grid = _grid(donchian(), "entry=0,20,100000")

    assert [p.params.value("entry") for p in grid.points] == [20]
    reasons = [s.reason for s in grid.skipped]
    assert reasons[0] == "entry: input should be greater than 0 (got 0)"
    assert "a week of regular-session minutes" in reasons[1]


def test_a_grid_point_runs_the_strategy_with_its_parameters() -> None:
    grid = _grid(donchian(), "entry=15")

    (point,) = grid.points
    assert point.config.strategy.name == "donchian_breakout"
    assert point.config.strategy.params.model_dump() == {"entry": 15, "exit": 7}


# ---------------------------------------------------------------- the tables


def _momentum_sweep(folder: Path) -> SweepResult:
    trading = user_strategy_config(folder)
    market = tiny_market()
    axes = build_axes(trading, params=["window=3,6", "threshold=0,0.001"])
    plan = plan_sweep(market, SweepSpec(axes=axes, trading=trading))
    return run_sweep(plan, SerialExecutor(market))


def test_the_tables_name_the_strategys_own_parameters(tmp_path: Path) -> None:
    result = _momentum_sweep(tmp_path)

    write_tables(result, tmp_path / "out")

    with (tmp_path / "out" / "runs.csv").open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0])[:7] == [
        "run", "phase", "window", "strategy", "param_window", "threshold", "max_position_pct",
    ]  # fmt: skip
    assert {r["strategy"] for r in rows} == {"momentum.py:Momentum"}
    assert [(r["param_window"], r["threshold"]) for r in rows] == [
        ("3", "0.0"), ("3", "0.001"), ("6", "0.0"), ("6", "0.001"),
    ]  # fmt: skip
    assert {r["status"] for r in rows} == {"ok"}
    assert sum(int(r["trades"]) for r in rows) > 0  # the strategy really traded
    assert runs_frame(result)["param_window"].dtype == "Int64"


def test_the_terminal_table_and_the_heatmap_use_the_swept_parameters(tmp_path: Path) -> None:
    result = _momentum_sweep(tmp_path)

    table = runs_table(result)
    page = render_report(result)

    headers = [str(c.header) for c in table.columns]
    assert headers[:3] == ["#", "param_window", "threshold"]
    assert "momentum.py:Momentum" in str(table.title)
    assert "Best sharpe by param_window and threshold" in page
    axes = result.plan.spec.axes
    assert heatmap_axes(axes, ["threshold", "symbols"]) == ("threshold", "symbols")
    with pytest.raises(ValueError, match="param_window, threshold, max_position_pct, symbols"):
        heatmap_axes(axes, ["window", "threshold"])
