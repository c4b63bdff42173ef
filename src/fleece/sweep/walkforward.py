"""Walk-forward analysis: choose on a train window, judge on the test window that follows.

The sessions the bars cover are split into rolling windows of ``train`` sessions followed by
``test`` sessions; the next window starts ``test`` sessions later, so the test windows tile the
period after the first train window without overlap::

    sessions   0 1 2 3 4 5 6 7 8 9 ...
    window 0   T T T T t t                 (TRAIN:TEST = 4:2)
    window 1       T T T T t t
    window 2           T T T T t t

No leakage, by construction and by test: a train window ends on a session strictly before its
test window's first session, and a task's bars are cut at New York midnight of its last day, so
nothing the choice is made on comes from the test window or later.

Each test window is one backtest that starts flat with the starting cash; its strategy is warmed
up on the train window's bars before it (as the live bot warms up on history: the past only),
and its decisions and statistics start with the test window's first session. The walk-forward
equity curve
chains the test windows: each window's curve is scaled by the growth of the windows before it,
as if the account were carried from one window to the next.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from fleece.backtest.data import MarketData
from fleece.backtest.stats import max_drawdown, return_figures, returns_of_closes
from fleece.errors import ConfigError
from fleece.sweep.tasks import Outcome

_SPEC = re.compile(r"\s*(\d+)\s*:\s*(\d+)\s*")


@dataclass(frozen=True, slots=True)
class WalkForward:
    """Window sizes, in sessions.

    Attributes:
        train: sessions the parameters are chosen on.
        test: sessions they are then judged on (also the step between windows).
    """

    train: int
    test: int

    def __post_init__(self) -> None:
        if self.train < 1 or self.test < 1:
            raise ValueError(f"train and test must be at least 1 session, got {self}")

    @classmethod
    def parse(cls, text: str, option: str = "--walk-forward") -> WalkForward:
        """``"20:5"`` as ``WalkForward(train=20, test=5)``.

        Raises:
            ConfigError: not two positive integers separated by a colon.
        """
        match = _SPEC.fullmatch(text)
        if match is None or int(match[1]) < 1 or int(match[2]) < 1:
            raise ConfigError(
                "command line", option, f"expected TRAIN:TEST in sessions like 20:5, got {text!r}"
            )
        return cls(int(match[1]), int(match[2]))

    def __str__(self) -> str:
        return f"{self.train}:{self.test}"


@dataclass(frozen=True, slots=True)
class Window:
    """One walk-forward window (days are New York session days, inclusive).

    Attributes:
        index: the window's number, from 0.
        train_start: first train session.
        train_end: last train session.
        test_start: first test session (after ``train_end``).
        test_end: last test session.
    """

    index: int
    train_start: date
    train_end: date
    test_start: date
    test_end: date


def trading_days(market: MarketData) -> list[date]:
    """The New York days on which at least one symbol has a regular-session bar, in order."""
    days: set[date] = set()
    for bars in market.bars.values():
        starts = bars.ts[bars.regular]
        if len(starts) == 0:
            continue
        stamps = pd.to_datetime(starts, unit="s", utc=True).tz_convert("America/New_York")
        days.update(stamps.normalize().date)
    return sorted(days)


def make_windows(days: Sequence[date], spec: WalkForward) -> list[Window]:
    """Rolling windows over ``days``; only complete windows (sessions left over are unused).

    Args:
        days: the sessions, in order.
        spec: the window sizes.
    """
    windows: list[Window] = []
    start = 0
    while start + spec.train + spec.test <= len(days):
        split = start + spec.train
        windows.append(
            Window(
                index=len(windows),
                train_start=days[start],
                train_end=days[split - 1],
                test_start=days[split],
                test_end=days[split + spec.test - 1],
            )
        )
        start += spec.test
    return windows


def ranked(outcomes: Iterable[Outcome], metric: str) -> list[Outcome]:
    """Successful runs, best (highest) ``metric`` first; undefined values last; ties in task
    order: the order of every table and the choice of :func:`best_outcome`."""

    def key(o: Outcome) -> tuple[int, float, int]:
        value = o.metric(metric)
        return (value is None, -(value if value is not None else 0.0), o.spec.id)

    return sorted((o for o in outcomes if o.ok), key=key)


def best_outcome(outcomes: Sequence[Outcome], metric: str) -> Outcome | None:
    """The first of :func:`ranked`: the highest ``metric``, ties to the earliest task.

    Runs whose metric is undefined (e.g. Sharpe of a flat curve) cannot be chosen.
    """
    top = ranked(outcomes, metric)[:1]
    return top[0] if top and top[0].metric(metric) is not None else None


@dataclass(frozen=True, slots=True)
class WindowResult:
    """One window: the parameters chosen on it and how they did out of sample.

    Attributes:
        window: the window.
        chosen: the train run that won (None when no train run had a defined metric).
        test: the test run of the chosen parameters (None when nothing was chosen).
        candidates: train runs that finished.
    """

    window: Window
    chosen: Outcome | None
    test: Outcome | None
    candidates: int


@dataclass(frozen=True, slots=True, eq=False)
class OutOfSample:
    """The chained test windows.

    Attributes:
        ts: instants, epoch seconds.
        equity: chained equity in dollars.
        window: the window each instant belongs to.
        total_return: growth over all test windows, minus one.
        cagr: that growth annualised over the test sessions.
        sharpe: annualised Sharpe of the chained daily returns.
        sortino: annualised Sortino of the chained daily returns.
        max_drawdown: deepest drawdown of the chained curve.
        trades: closed trades over all test windows.
        sessions: test sessions.
    """

    ts: np.ndarray
    equity: np.ndarray
    window: np.ndarray
    total_return: float
    cagr: float | None
    sharpe: float | None
    sortino: float | None
    max_drawdown: float
    trades: int
    sessions: int


def chain_test_windows(results: Sequence[WindowResult], cash: float) -> OutOfSample | None:
    """Chain the test windows' equity curves into one out-of-sample curve.

    Returns:
        None when no window has a test run with its curve.
    """
    parts_ts: list[np.ndarray] = []
    parts_eq: list[np.ndarray] = []
    parts_win: list[np.ndarray] = []
    closes: list[float] = []
    growth = 1.0
    trades = 0
    for result in results:
        test = result.test
        if test is None or test.equity is None or test.stats is None or not len(test.equity):
            continue
        curve = test.equity
        scaled = curve.equity.astype(np.float64) / 100 * growth
        parts_ts.append(curve.ts)
        parts_eq.append(scaled)
        parts_win.append(np.full(len(curve), result.window.index, dtype=np.int64))
        closes.extend(scaled[curve.session_end].tolist())
        growth *= test.stats.final_equity / test.stats.initial_equity
        trades += test.stats.trades
    if not parts_ts:
        return None
    ts = np.concatenate(parts_ts)
    equity = np.concatenate(parts_eq)
    depth, _ = max_drawdown(ts, equity)
    return OutOfSample(
        ts=ts,
        equity=equity,
        window=np.concatenate(parts_win),
        **return_figures(growth, returns_of_closes(np.array(closes), cash)),
        max_drawdown=depth,
        trades=trades,
        sessions=len(closes),
    )
