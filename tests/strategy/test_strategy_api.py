"""Specification of the strategy API: parameters, finding strategies, the vectorised promise."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import replace
from datetime import date
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings

from fleece.backtest.data import synthetic_market
from fleece.backtest.result import BacktestConfig
from fleece.backtest.runner import run_backtest
from fleece.config import RiskConfig
from fleece.errors import ConfigError
from fleece.kernel import risk_limits
from fleece.models import Side
from fleece.strategy import GridSeries, SmaCrossover, Strategy
from fleece.strategy.donchian import DonchianParams
from fleece.strategy.registry import BUILTINS, available, describe_params, find, resolve
from fleece.strategy.sma_crossover import SmaParams
from fleece.strategy.testing import (
    check_vectorised,
    grid_bar,
    minute_context,
    series_of,
    sparse_series,
)

# ---------------------------------------------------------------- parameters


def test_parameters_take_their_defaults_and_keep_the_given_ones() -> None:
    spec = resolve("sma_crossover", {"fast": 5})

    assert spec.params.model_dump() == {"fast": 5, "medium": 30, "slow": 90}
    assert spec.build().warmup_minutes == 90


def test_an_unknown_parameter_is_refused_with_a_did_you_mean() -> None:
    with pytest.raises(ConfigError) as refused:
        resolve("donchian_breakout", {"entri": 30})

    assert refused.value.key == "strategy.entri"
    assert "did you mean 'entry'?" in refused.value.reason


def test_a_parameter_out_of_bounds_is_refused_naming_it_and_the_bound() -> None:
    with pytest.raises(ConfigError) as refused:
        resolve("sma_crossover", {"slow": 100_000})

    assert refused.value.key == "strategy.slow"
    assert "at most 1,950" in refused.value.reason


def test_parameters_checked_together_are_refused_on_the_section() -> None:
    with pytest.raises(ConfigError) as refused:
        resolve("sma_crossover", {"fast": 40})

    assert refused.value.key == "strategy"
    assert "fast < medium < slow" in refused.value.reason


def test_strategy_list_shows_every_built_in_with_its_parameters_and_bounds() -> None:
    names = [found.cls.name for found in available()]
    params = {p.name: p for p in describe_params(find("donchian_breakout").cls)}

    assert names[:3] == ["sma_crossover", "donchian_breakout", "opening_range"]
    assert params["entry"].default == "20"
    assert params["entry"].bounds == "> 0, <= 1950"
    assert "highest high" in params["entry"].description


# ---------------------------------------------------------------- finding strategies

USER_STRATEGY = textwrap.dedent(
    """
    from fleece.strategy import Strategy, StrategyParams, Side, nan_series


    class AlwaysIn(Strategy):
        name = "always_in"
        summary = "buy when flat, never sell"

        class Params(StrategyParams):
            wait: int = 3

        @property
        def warmup_minutes(self):
            return self.params.wait

        def on_minute(self, bar, ctx):
            return None if ctx.holding else self.signal(bar, Side.BUY, "flat")

        def indicators(self, series):
            return {"nothing": nan_series(len(series))}
    """
)


@pytest.fixture
def user_file(tmp_path: Path) -> Path:
    path = tmp_path / "strategies" / "mine.py"
    path.parent.mkdir()
    path.write_text(USER_STRATEGY)
    return path


def test_a_users_file_is_found_by_path_and_class(user_file: Path) -> None:
    spec = resolve("strategies/mine.py:AlwaysIn", {"wait": 5}, base=user_file.parent.parent)

    assert spec.cls.name == "always_in"
    assert spec.build().warmup_minutes == 5
    assert spec.origin == str(user_file)


def test_a_module_is_found_by_its_dotted_name(user_file: Path) -> None:
    sys.path.insert(0, str(user_file.parent))
    try:
        spec = resolve("mine:AlwaysIn", {})
    finally:
        sys.path.remove(str(user_file.parent))
        sys.modules.pop("mine", None)

    assert spec.cls.name == "always_in"


@pytest.fixture
def installed_entry_point(tmp_path: Path) -> Iterator[str]:
    """A package installed on sys.path with an entry point in the group fleece.strategies."""
    site = tmp_path / "site"
    (site / "fleece_extra").mkdir(parents=True)
    (site / "fleece_extra" / "__init__.py").write_text(USER_STRATEGY)
    info = site / "fleece_extra-1.2.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: fleece-extra\nVersion: 1.2\n")
    (info / "entry_points.txt").write_text(
        "[fleece.strategies]\nalways_in = fleece_extra:AlwaysIn\n"
    )
    sys.path.insert(0, str(site))
    yield "always_in"
    sys.path.remove(str(site))
    sys.modules.pop("fleece_extra", None)


def test_an_installed_package_is_found_by_its_entry_point(installed_entry_point: str) -> None:
    found = find(installed_entry_point)

    assert found.cls.name == "always_in"
    assert found.origin == "entry point (fleece-extra 1.2)"
    assert installed_entry_point in [f.cls.name for f in available()]


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("sma_crosover", "did you mean 'sma_crossover'?"),
        ("nowhere/strategy.py:Thing", "no such file"),
        ("strategies/mine.py:Missing", "has no class 'Missing'"),
        ("json:JSONDecoder", "is not a subclass of fleece.strategy.Strategy"),
        ("no_such_module_here:Thing", "cannot import module"),
    ],
)
def test_a_bad_name_is_one_line_naming_strategy_name(
    user_file: Path, name: str, reason: str
) -> None:
    with pytest.raises(ConfigError) as refused:
        resolve(name, {}, base=user_file.parent.parent)

    assert refused.value.key == "strategy.name"
    assert reason in refused.value.reason
    assert "\n" not in str(refused.value)


def test_a_file_that_fails_to_import_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "broken.py").write_text("raise RuntimeError('boom')\n")

    with pytest.raises(ConfigError) as refused:
        resolve("broken.py:Thing", {}, base=tmp_path)

    assert "failed to import: RuntimeError: boom" in refused.value.reason


# ---------------------------------------------------------------- typed parameters

#: One plug-in in both shapes: ``Flip`` names its parameters as the type argument and reads
#: ``self.params.wait`` as is; ``OldFlip`` is written as before the base took one (``Params =``,
#: an assert for mypy). Both buy when flat and sell when holding, once warmed up.
PLUGINS = textwrap.dedent(
    """
    from __future__ import annotations

    from typing import Annotated

    import numpy as np
    from pydantic import Field

    from fleece.strategy import Bar, GridSeries, MinuteContext, Side, Signal, Strategy
    from fleece.strategy import StrategyParams


    class FlipParams(StrategyParams):
        wait: Annotated[int, Field(ge=1, le=390)] = Field(3, description="minutes to wait")


    class Flip(Strategy[FlipParams]):
        name = "flip"
        summary = "buy when flat, sell when holding"

        @property
        def warmup_minutes(self) -> int:
            return self.params.wait

        def on_minute(self, bar: Bar, ctx: MinuteContext) -> Signal | None:
            return self.signal(bar, Side.SELL if ctx.holding else Side.BUY, "flip")

        def indicators(self, series: GridSeries) -> dict[str, np.ndarray]:
            return {}


    class OldFlip(Strategy):
        name = "old_flip"
        summary = "buy when flat, sell when holding"
        Params = FlipParams

        def __init__(self, params: StrategyParams | None = None) -> None:
            super().__init__(params)
            assert isinstance(self.params, FlipParams)
            self.wait = self.params.wait

        @property
        def warmup_minutes(self) -> int:
            return self.wait

        def on_minute(self, bar: Bar, ctx: MinuteContext) -> Signal | None:
            return self.signal(bar, Side.SELL if ctx.holding else Side.BUY, "flip")

        def indicators(self, series: GridSeries) -> dict[str, np.ndarray]:
            return {}
    """
)
BOTH_SHAPES = pytest.mark.parametrize("plugin", ["plugins.py:Flip", "plugins.py:OldFlip"])


@pytest.fixture
def plugins(tmp_path: Path) -> Path:
    """The folder of a trading.yaml with ``plugins.py`` beside it."""
    (tmp_path / "plugins.py").write_text(PLUGINS, encoding="utf-8")
    return tmp_path


def test_a_strategys_type_argument_is_its_params(plugins: Path) -> None:
    spec = resolve("plugins.py:Flip", {"wait": 5}, base=plugins)

    assert spec.cls.Params.__name__ == "FlipParams"
    assert [(p.name, p.default, p.bounds) for p in describe_params(spec.cls)] == [
        ("wait", "3", ">= 1, <= 390")
    ]
    assert spec.build().warmup_minutes == 5
    assert spec.cls().params.model_dump() == {"wait": 3}  # no params: the defaults


@BOTH_SHAPES
def test_a_bad_parameter_is_the_same_one_line_error_in_either_shape(
    plugins: Path, plugin: str
) -> None:
    with pytest.raises(ConfigError) as refused:
        resolve(plugin, {"wait": 0}, base=plugins)

    assert refused.value.key == "strategy.wait"
    assert refused.value.reason == "input should be greater than or equal to 1 (got 0)"


@BOTH_SHAPES
def test_a_plugin_in_either_shape_backtests(plugins: Path, plugin: str) -> None:
    spec = resolve(plugin, {"wait": 2}, base=plugins)
    market = synthetic_market(["SPY"], date(2024, 1, 2), 1, seed=4)

    result = run_backtest(market, BacktestConfig(limits=risk_limits(RiskConfig()), strategy=spec))

    assert spec.build().warmup_minutes == 2
    assert result.signals > 0
    assert result.fills


def test_mypy_strict_accepts_either_shape_without_a_cast(plugins: Path) -> None:
    checked = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "plugins.py"],
        cwd=plugins,
        check=False,
        capture_output=True,
        text=True,
        timeout=600,  # a guard against hangs, not a measured expectation
    )

    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_params_that_disagree_with_the_type_argument_are_refused_at_definition() -> None:
    with pytest.raises(TypeError, match=r"^Muddled: Params = SmaParams disagrees with its type"):

        class Muddled(Strategy[DonchianParams]):
            Params = SmaParams


def test_params_may_be_set_to_the_type_argument_itself() -> None:
    class Explicit(Strategy[DonchianParams]):
        Params = DonchianParams

    class Inheriting(Explicit):
        pass

    assert Explicit.Params is Inheriting.Params is DonchianParams


# ---------------------------------------------------------------- the vectorised promise


@settings(max_examples=150, deadline=None, derandomize=True)
@given(sparse_series())
def test_the_sma_crossovers_vectorised_path_equals_its_bar_by_bar_path(
    series: GridSeries,
) -> None:
    check_vectorised(SmaCrossover(3, 7, 15), series)


class Liar(SmaCrossover):
    """A vectorised path that drops its last candidate: the check must catch it."""

    def candidates(self, series: GridSeries) -> tuple[np.ndarray, np.ndarray]:
        up, down = super().candidates(series)
        hits = np.flatnonzero(up)
        if len(hits):
            up = up.copy()
            up[hits[-1]] = False
        return up, down


def test_the_check_catches_a_vectorised_path_that_differs() -> None:
    walk = 100_000 + np.cumsum(np.random.default_rng(1).integers(-400, 401, 300))
    prices: list[int | None] = [int(p) for p in walk]

    with pytest.raises(AssertionError, match="vectorised entry is False at minute"):
        check_vectorised(Liar(SmaCrossover.Params(fast=3, medium=7, slow=15)), series_of(prices))


def test_a_strategy_without_a_vectorised_path_says_so() -> None:
    from fleece.strategy import DonchianBreakout

    assert not DonchianBreakout().candidates_offered
    assert SmaCrossover().candidates_offered


def test_the_sma_indicators_are_the_strategys_own_averages_bit_for_bit() -> None:
    prices: list[int | None] = [
        None if i % 5 == 3 else 1_000_003 + (i * 7919) % 3001 for i in range(200)
    ]
    series = series_of(prices)
    strategy = SmaCrossover(3, 7, 19)

    drawn = strategy.indicators(series)
    stepped = SmaCrossover(3, 7, 19)
    for i in range(len(series)):
        stepped.on_bar(grid_bar(series, i), holding=False)
        shown = tuple(None if np.isnan(v[i]) else float(v[i]) for v in drawn.values())
        assert shown == stepped.smas("X")


def test_strategy_is_an_abstract_base_class() -> None:
    with pytest.raises(TypeError):
        Strategy()  # type: ignore[abstract]


# ---------------------------------------------------------------- holding


@settings(max_examples=20, deadline=None)
@given(series=sparse_series(max_minutes=600))
def test_every_built_in_treats_an_open_buy_as_holding(series: GridSeries) -> None:
    # One rule, MinuteContext.holding: a buy still open counts as a position, so no strategy
    # buys twice while its first buy is in flight, and each may exit it.
    for cls in BUILTINS.values():
        # Arrange: one instance sees the shares held, the other only a buy still open.
        held, buying = cls(cls.Params()), cls(cls.Params())
        for i in range(len(series)):
            bar = grid_bar(series, i)
            ctx = minute_context(series, i, position=1)
            open_buy = replace(ctx, position=0, buying=True)

            # Act
            a, b = held.on_minute(bar, ctx), buying.on_minute(bar, open_buy)

            # Assert
            assert (a and (a.side, a.reason)) == (b and (b.side, b.reason)), (cls.name, i)
            assert b is None or b.side is Side.SELL
