"""A sweep from start to finish: plan the tasks, run them, choose per walk-forward window.

Two rounds of tasks:

1. every grid point over the whole period (the ``grid`` phase), and, with walk-forward, every
   grid point over every train window (``train``), all submitted at once;
2. with walk-forward, one ``test`` task per window: the train winner on the test window.

Task numbers follow the plan (grid order, then window by window), and every table is sorted by
them, so the same sweep gives the same tables whatever ran where and in which order it finished.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from fleece.accounting import OPENING_CASH
from fleece.backtest.data import MarketData
from fleece.config import TradingConfig
from fleece.errors import ConfigError
from fleece.sweep.executor import Executor, OnDone, SweepError
from fleece.sweep.grid import Grid, GridAxes, build_grid
from fleece.sweep.metrics import DEFAULT_METRIC, METRICS
from fleece.sweep.tasks import Outcome, TaskSpec
from fleece.sweep.walkforward import (
    OutOfSample,
    WalkForward,
    Window,
    WindowResult,
    best_outcome,
    chain_test_windows,
    make_windows,
    trading_days,
)


@dataclass(frozen=True)
class SweepSpec:
    """What to sweep.

    Attributes:
        axes: the parameter values.
        trading: the trading config (risk limits, orders) every run starts from.
        cash: starting cash of every run.
        slippage_bps: slippage of every run.
        metric: the statistic runs are ranked by (one of :data:`~fleece.sweep.tasks.METRICS`).
        walk_forward: train/test window sizes, or None for the grid alone.
    """

    axes: GridAxes
    trading: TradingConfig
    cash: float = OPENING_CASH
    slippage_bps: float = 0.0
    metric: str = DEFAULT_METRIC
    walk_forward: WalkForward | None = None

    def __post_init__(self) -> None:
        if self.metric not in METRICS:
            raise ConfigError(
                "command line",
                "--metric",
                f"unknown metric {self.metric!r}; choose one of {', '.join(METRICS)}",
            )


@dataclass(frozen=True)
class SweepPlan:
    """The tasks of a sweep, before anything runs.

    Attributes:
        spec: what is swept.
        grid: every combination, valid or skipped.
        days: the sessions the bars cover.
        windows: the walk-forward windows (empty without walk-forward).
        first_round: grid tasks, then every window's train tasks.
    """

    spec: SweepSpec
    grid: Grid
    days: tuple[date, ...]
    windows: tuple[Window, ...]
    first_round: tuple[TaskSpec, ...]

    @property
    def task_count(self) -> int:
        """Every task the sweep runs (test tasks included)."""
        return len(self.first_round) + len(self.windows)


@dataclass(frozen=True)
class SweepResult:
    """Everything a sweep produced.

    Attributes:
        plan: the plan it ran.
        outcomes: every task's outcome, in task order.
        windows: per walk-forward window, the choice and its test run.
        out_of_sample: the chained test windows (None without walk-forward).
    """

    plan: SweepPlan
    outcomes: tuple[Outcome, ...]
    windows: tuple[WindowResult, ...] = ()
    out_of_sample: OutOfSample | None = None
    failures: tuple[Outcome, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "failures", tuple(o for o in self.outcomes if not o.ok))

    def phase(self, name: str) -> list[Outcome]:
        """The outcomes of one phase (``grid``, ``train`` or ``test``), in task order."""
        return [o for o in self.outcomes if o.spec.phase == name]

    def best(self) -> Outcome | None:
        """The grid run with the best metric over the whole period."""
        return best_outcome(self.phase("grid"), self.plan.spec.metric)


def plan_sweep(market: MarketData, spec: SweepSpec) -> SweepPlan:
    """Build the grid and the first round of tasks.

    Raises:
        SweepError: nothing to run (every combination invalid), or too few sessions for one
            walk-forward window.
    """
    grid = build_grid(spec.axes, spec.trading, cash=spec.cash, slippage_bps=spec.slippage_bps)
    if not grid.points:
        reasons = sorted({s.reason for s in grid.skipped})
        raise SweepError(f"no valid parameter combination: {'; '.join(reasons)}")
    days = tuple(trading_days(market))
    windows: tuple[Window, ...] = ()
    if spec.walk_forward is not None:
        windows = tuple(make_windows(days, spec.walk_forward))
        if not windows:
            wf = spec.walk_forward
            raise SweepError(
                f"walk-forward {wf} needs at least {wf.train + wf.test} sessions of bars, "
                f"the data has {len(days)}"
            )
    tasks = [
        TaskSpec(id=n, phase="grid", params=point.params, config=point.config)
        for n, point in enumerate(grid.points)
    ]
    for window in windows:
        tasks.extend(
            TaskSpec(
                id=len(tasks),
                phase="train",
                params=point.params,
                config=point.config,
                start=window.train_start,
                end=window.train_end,
                window=window.index,
            )
            for point in grid.points
        )
    return SweepPlan(spec, grid, days, windows, tuple(tasks))


def run_sweep(plan: SweepPlan, executor: Executor, on_done: OnDone | None = None) -> SweepResult:
    """Run a planned sweep.

    Args:
        plan: from :func:`plan_sweep`.
        executor: where tasks run.
        on_done: called once per finished task (a progress bar).
    """
    first = executor.run(plan.first_round, on_done)
    if not plan.windows:
        return SweepResult(plan, tuple(first))
    metric = plan.spec.metric
    chosen: dict[int, Outcome | None] = {}
    for window in plan.windows:
        train = [o for o in first if o.spec.phase == "train" and o.spec.window == window.index]
        chosen[window.index] = best_outcome(train, metric)
    tests: list[TaskSpec] = []
    for window in plan.windows:
        winner = chosen[window.index]
        if winner is None:
            continue
        tests.append(
            TaskSpec(
                id=len(plan.first_round) + window.index,
                phase="test",
                params=winner.spec.params,
                config=winner.spec.config,
                start=window.test_start,
                end=window.test_end,
                window=window.index,
                keep_equity=True,
                warmup_from=window.train_start,
            )
        )
    second = executor.run(tests, on_done)
    by_window = {o.spec.window: o for o in second}
    results = tuple(
        WindowResult(
            window=window,
            chosen=chosen[window.index],
            test=by_window.get(window.index),
            candidates=sum(
                1
                for o in first
                if o.spec.phase == "train" and o.spec.window == window.index and o.ok
            ),
        )
        for window in plan.windows
    )
    return SweepResult(
        plan,
        tuple(first) + tuple(second),
        results,
        chain_test_windows(results, plan.spec.cash),
    )
