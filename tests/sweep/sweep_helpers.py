"""Small builders shared by the sweep specifications."""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence
from datetime import date, datetime, time
from pathlib import Path

import numpy as np

from fleece.backtest.data import MarketData, SymbolBars, synthetic_market
from fleece.backtest.runner import run_backtest
from fleece.backtest.stats import Stats, compute_stats
from fleece.calendar import NEW_YORK
from fleece.config import TradingConfig, load_trading_config
from fleece.sweep.grid import GridAxes, Params
from fleece.sweep.sweep import SweepSpec
from fleece.sweep.tasks import Outcome, TaskSpec, market_for, run_task
from fleece.sweep.walkforward import WalkForward

FIRST_DAY = date(2024, 1, 2)
SYMBOLS = ("IBM", "SPY")
#: The fast window that makes :func:`fail_when_fast_is_4` raise.
FAILING_FAST = 4


@functools.cache
def tiny_market(days: int = 4, seed: int = 3, symbols: tuple[str, ...] = SYMBOLS) -> MarketData:
    """A few seeded synthetic sessions of two symbols (a backtest takes tens of milliseconds)."""
    return synthetic_market(symbols, FIRST_DAY, days, seed)


def trading(**risk: float) -> TradingConfig:
    """The seed's trading config for :data:`SYMBOLS`, with risk overrides."""
    return TradingConfig.model_validate({"symbols": {"list": list(SYMBOLS)}, "risk": risk})


def axes(
    fast: Sequence[int] = (3, 5),
    medium: Sequence[int] = (8, 12),
    slow: Sequence[int] = (20, 30),
    pct: Sequence[float] = (0.1,),
    sets: Sequence[Sequence[str]] = (SYMBOLS,),
) -> GridAxes:
    """A small grid of the SMA crossover: 2 x 2 x 2 windows by default."""
    return GridAxes.of(
        {"fast": tuple(fast), "medium": tuple(medium), "slow": tuple(slow)},
        tuple(pct),
        tuple(tuple(s) for s in sets),
    )


def sma_point(
    fast: int, medium: int, slow: int, pct: float = 0.1, symbols: tuple[str, ...] = SYMBOLS
) -> Params:
    """One point of an SMA crossover grid."""
    return Params((("fast", fast), ("medium", medium), ("slow", slow)), pct, symbols)


def spec(
    grid: GridAxes | None = None, walk_forward: str | None = None, metric: str = "sharpe"
) -> SweepSpec:
    """A sweep of ``grid`` (the default small grid) with the seed's trading config."""
    return SweepSpec(
        axes=grid or axes(),
        trading=trading(),
        metric=metric,
        walk_forward=WalkForward.parse(walk_forward) if walk_forward else None,
    )


def one_by_one(market: MarketData, task: TaskSpec) -> Stats:
    """The reference: the runner and the stats called directly, as ``fleece backtest`` would."""
    assert task.warmup_from is None  # grid and train runs: the whole slice is decided on
    result = run_backtest(market_for(market, task), task.config)
    return compute_stats(result.equity, result.fills, result.initial_cents)


def fail_when_fast_is_4(market: MarketData, task: TaskSpec) -> Outcome:
    """A backtest function that raises for one fast window and runs the others normally."""
    if task.params.value("fast") == FAILING_FAST:
        raise RuntimeError(f"engine exploded on fast={task.params.value('fast')}")
    return run_task(market, task)


def with_prices_scaled_from(market: MarketData, day: date, factor: float) -> MarketData:
    """``market`` with every price from New York midnight of ``day`` on multiplied by ``factor``."""
    cut = int(datetime.combine(day, time(0), tzinfo=NEW_YORK).timestamp())
    out: dict[str, SymbolBars] = {}
    for symbol, bars in market.bars.items():
        later = bars.ts >= cut

        def scaled(column: np.ndarray, later: np.ndarray = later) -> np.ndarray:
            values = column.astype(np.int64)
            values[later] = np.rint(values[later] * factor).astype(np.int64)
            return values

        out[symbol] = SymbolBars(
            symbol,
            bars.ts,
            scaled(bars.open),
            scaled(bars.high),
            scaled(bars.low),
            scaled(bars.close),
            bars.volume,
            bars.regular,
        )
    return MarketData(out)


def die_when_fast_is_4(market: MarketData, task: TaskSpec) -> Outcome:
    """A backtest function whose process dies (as on an out-of-memory kill) for one window."""
    if task.params.value("fast") == FAILING_FAST:
        os._exit(17)
    return run_task(market, task)


#: A user's strategy, as a file outside the package: a parameter named ``window`` (a column the
#: sweep's tables already have) and a float one.
USER_STRATEGY = """
from collections import deque
from typing import Annotated

from pydantic import Field

from fleece.strategy import Side, Strategy, StrategyParams


class MomentumParams(StrategyParams):
    window: Annotated[int, Field(ge=1, le=390, description="minutes the change spans")] = 5
    threshold: Annotated[float, Field(ge=0, le=0.1, description="change that signals")] = 0.0


class Momentum(Strategy):
    name = "momentum"
    summary = "buy after a rise over WINDOW minutes, sell after a fall"
    Params = MomentumParams

    def __init__(self, params=None):
        super().__init__(params)
        self._closes = {}
        self._last = {}

    @property
    def warmup_minutes(self):
        return self.params.window

    def on_minute(self, bar, ctx):
        last = self._last.get(bar.symbol)
        if last is not None and bar.timestamp <= last:
            return None
        self._last[bar.symbol] = bar.timestamp
        closes = self._closes.setdefault(bar.symbol, deque(maxlen=self.params.window + 1))
        closes.append(bar.close)
        if len(closes) <= self.params.window:
            return None
        change = closes[-1] / closes[0] - 1
        if not ctx.holding and change > self.params.threshold:
            return self.signal(bar, Side.BUY, "rise")
        if ctx.holding and change < -self.params.threshold:
            return self.signal(bar, Side.SELL, "fall")
        return None

    def indicators(self, series):
        return {}
"""


def user_strategy_config(folder: Path, strategy: str = "momentum.py:Momentum") -> TradingConfig:
    """A trading.yaml in ``folder`` naming the user's strategy file beside it, loaded."""
    (folder / "momentum.py").write_text(USER_STRATEGY, encoding="utf-8")
    (folder / "trading.yaml").write_text(
        f"symbols:\n  list: [{', '.join(SYMBOLS)}]\nstrategy:\n  name: {strategy}\n  window: 4\n",
        encoding="utf-8",
    )
    return load_trading_config(folder / "trading.yaml")
