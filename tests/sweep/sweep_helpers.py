"""Small builders shared by the sweep specifications."""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence
from datetime import date, datetime, time

import numpy as np

from fleece.backtest.data import MarketData, SymbolBars, synthetic_market
from fleece.backtest.runner import run_backtest
from fleece.backtest.stats import Stats, compute_stats
from fleece.calendar import NEW_YORK
from fleece.config import TradingConfig
from fleece.sweep.grid import GridAxes
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
    """A small grid: 2 x 2 x 2 windows by default."""
    return GridAxes(
        tuple(fast), tuple(medium), tuple(slow), tuple(pct), tuple(tuple(s) for s in sets)
    )


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
    return compute_stats(result.equity, result.fills, round(task.config.cash * 100))


def fail_when_fast_is_4(market: MarketData, task: TaskSpec) -> Outcome:
    """A backtest function that raises for one fast window and runs the others normally."""
    if task.params.fast == FAILING_FAST:
        raise RuntimeError(f"engine exploded on fast={task.params.fast}")
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
    if task.params.fast == FAILING_FAST:
        os._exit(17)
    return run_task(market, task)
