"""One task of a sweep: one backtest of one grid point over one slice of the bars.

:func:`execute` is what a Dask worker runs (and what the serial executor runs in-process): it
never raises. A backtest that raises becomes an :class:`Outcome` carrying the task, hence its
parameters, and the error in one line, so a bad combination is reported and the sweep goes on.

Everything here crosses process boundaries: a :class:`TaskSpec` goes to the worker, an
:class:`Outcome` comes back; both are small frozen dataclasses (the bars travel separately,
once per worker, see :mod:`fleece.sweep.executor`).
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Literal

from fleece.backtest.data import MarketData
from fleece.backtest.equity import EquityCurve
from fleece.backtest.result import BacktestConfig
from fleece.backtest.runner import run_backtest
from fleece.backtest.stats import Stats, compute_stats
from fleece.calendar import day_start
from fleece.errors import DataError
from fleece.sweep.grid import Params
from fleece.sweep.metrics import METRICS

__all__ = ["METRICS", "BacktestFn", "Outcome", "Phase", "TaskSpec", "execute", "run_task"]

Phase = Literal["grid", "train", "test"]


@dataclass(frozen=True, slots=True)
class TaskSpec:
    """What one task runs.

    Attributes:
        id: the task's number; tables list tasks in this order.
        phase: ``grid`` (the whole period), ``train`` or ``test`` (a walk-forward window).
        params: the grid point.
        config: the runner's configuration for it.
        start: first New York day of the bars used (None: from the first bar).
        end: last New York day of the bars used, inclusive (None: to the last bar).
        window: the walk-forward window (None for the grid phase).
        keep_equity: send the equity curve back (test windows: the walk-forward curve).
        warmup_from: first New York day of bars that only warm the strategy up; decisions and
            statistics start on ``start`` (test windows warm up on their train window).
    """

    id: int
    phase: Phase
    params: Params
    config: BacktestConfig
    start: date | None = None
    end: date | None = None
    window: int | None = None
    keep_equity: bool = False
    warmup_from: date | None = None


@dataclass(frozen=True, slots=True, eq=False)
class Outcome:
    """What one task produced: statistics, or the error that stopped it.

    Attributes:
        spec: the task.
        stats: the run's statistics (None when it failed).
        signals: signals the strategy emitted.
        orders: orders submitted.
        refusals: signals the risk manager refused.
        equity: the equity curve, when the task asked for it.
        error: ``ExceptionType: message (at file:line)``, when it failed.
    """

    spec: TaskSpec
    stats: Stats | None
    signals: int = 0
    orders: int = 0
    refusals: int = 0
    equity: EquityCurve | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        """True when the backtest ran to the end."""
        return self.error is None and self.stats is not None

    def metric(self, name: str) -> float | None:
        """The value of metric ``name`` (None when the run failed or the figure is undefined)."""
        if self.stats is None:
            return None
        value: float | int | None = getattr(self.stats, name)
        return None if value is None else float(value)

    @classmethod
    def failed(cls, spec: TaskSpec, error: str) -> Outcome:
        """An outcome for a task that did not finish."""
        return cls(spec, None, error=" ".join(error.split()))


BacktestFn = Callable[[MarketData, TaskSpec], Outcome]
"""Runs one task on the bars; :func:`run_task` unless a caller substitutes its own."""


def market_for(market: MarketData, spec: TaskSpec) -> MarketData:
    """The bars of ``spec``: its symbols, its days (zero-copy views of ``market``).

    Raises:
        DataError: a symbol of the task has no bars in ``market``.
    """
    missing = [s for s in spec.params.symbols if s not in market.bars]
    if missing:
        raise DataError(f"no bars for {', '.join(missing)}")
    chosen = MarketData({s: market.bars[s] for s in spec.params.symbols})
    first = spec.warmup_from or spec.start
    if first is None and spec.end is None:
        return chosen
    return chosen.between(first, spec.end)


def _from(curve: EquityCurve, seconds: int) -> EquityCurve:
    """The part of ``curve`` at or after ``seconds`` (epoch)."""
    keep = curve.ts >= seconds
    return EquityCurve(
        curve.ts[keep],
        curve.equity[keep],
        curve.cash[keep],
        curve.positions[keep],
        curve.session_end[keep],
    )


def run_task(market: MarketData, spec: TaskSpec) -> Outcome:
    """Run the backtest of ``spec`` with the runner of ``fleece backtest`` and compute its stats.

    Raises:
        Exception: whatever the runner raises (:func:`execute` turns it into an outcome).
    """
    start_at = None
    if spec.warmup_from is not None and spec.start is not None:
        start_at = day_start(spec.start)
    result = run_backtest(market_for(market, spec), spec.config, start_at=start_at)
    # Before start_at nothing can trade, so the account is the starting cash until then: the
    # statistics of the decision period alone start from that same cash.
    curve = result.equity if start_at is None else _from(result.equity, int(start_at.timestamp()))
    stats = compute_stats(curve, result.fills, result.initial_cents)
    return Outcome(
        spec=spec,
        stats=stats,
        signals=result.signals,
        orders=len(result.intents),
        refusals=len(result.refusals),
        equity=curve if spec.keep_equity else None,
    )


def execute(market: MarketData, spec: TaskSpec, backtest: BacktestFn = run_task) -> Outcome:
    """Run one task; an exception becomes a failed :class:`Outcome` instead of escaping.

    This is the function Dask workers run: catching here keeps the error next to the task's
    parameters and lets the sweep carry on.

    Args:
        market: every bar of the sweep (the task takes its slice).
        spec: the task.
        backtest: the function that runs it.
    """
    try:
        return backtest(market, spec)
    except Exception as exc:  # one run failing is reported, not raised
        return Outcome.failed(spec, describe_error(exc))


def describe_error(exc: BaseException) -> str:
    """``ExceptionType: message (at file.py:line)``, the place being the innermost frame."""
    text = f"{type(exc).__name__}: {exc}"
    frames = traceback.extract_tb(exc.__traceback__)
    if frames:
        last = frames[-1]
        text += f" (at {Path(last.filename).name}:{last.lineno})"
    return text
