"""Tools for a strategy's own tests: prove its vectorised path equal to its bar-by-bar one.

A strategy that offers :meth:`~fleece.strategy.Strategy.candidates` promises that, for any
series of minutes, the vectorised answer equals what :meth:`~fleece.strategy.Strategy.on_minute`
decides minute by minute. :func:`check_vectorised` checks that promise on one series; with
:func:`sparse_series` (a hypothesis strategy: random prices, random minutes without a bar, one or
more sessions) a property test checks it on as many as you like::

    from hypothesis import given, settings
    from fleece.strategy.testing import check_vectorised, sparse_series

    @settings(max_examples=200, deadline=None)
    @given(sparse_series())
    def test_my_vectorised_path_equals_my_bar_by_bar_path(series):
        check_vectorised(MyStrategy(MyStrategy.Params(window=7)), series)

The built-in strategies run exactly this (tests/strategy/test_strategy_api.py).

To check the decisions themselves, :func:`decide` steps a strategy over a series minute by
minute as the framework does (holding after a BUY, flat after a SELL) and returns its signals;
:func:`series_of` builds a series from a list of closes, :func:`minute_context` and
:func:`grid_bar` give one minute's context and bar.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import numpy as np
from hypothesis import strategies as st

from fleece.config_bounds import MINUTES_PER_SESSION
from fleece.minute_grid import Grid, GridSeries, grid_series
from fleece.models import Bar, Side, Signal
from fleece.strategy.api import MinuteContext, Strategy

#: A Monday of the NYSE, 09:30 to 16:00 New York (14:30 to 21:00 UTC); sessions follow daily.
FIRST_OPEN = datetime(2024, 3, 4, 14, 30, tzinfo=UTC)
SESSION = timedelta(minutes=MINUTES_PER_SESSION)


def session_grid(sessions: int) -> Grid:
    """``sessions`` consecutive full sessions from :data:`FIRST_OPEN` (one a day)."""
    return Grid.of(
        (FIRST_OPEN + timedelta(days=d), FIRST_OPEN + timedelta(days=d) + SESSION)
        for d in range(sessions)
    )


def series_of(prices: Sequence[int | None], symbol: str = "X", sessions: int = 2) -> GridSeries:
    """A :class:`GridSeries` from per-minute closes in ticks (None: no bar that minute).

    Each real bar gets a high and a low a few ticks around its close, so strategies that read
    highs and lows see ranges too.
    """
    grid = session_grid(sessions)
    prices = prices[: len(grid.minutes)]
    at = [i for i, p in enumerate(prices) if p is not None]
    closes = np.array([prices[i] for i in at], dtype=np.int64)
    spread = (closes % 7) * 10
    return grid_series(
        symbol,
        grid,
        grid.minutes[at],
        [closes - spread // 2, closes + spread, closes - spread, closes, closes % 1000 + 1],
    )


@st.composite
def sparse_series(
    draw: st.DrawFn, max_minutes: int = 800, sessions: int = 3, thin: float = 0.4
) -> GridSeries:
    """Hypothesis strategy: a random walk of ticks with minutes left out at random."""
    n = draw(st.integers(min_value=1, max_value=min(max_minutes, MINUTES_PER_SESSION * sessions)))
    start = draw(st.integers(min_value=50_000, max_value=2_000_000))
    steps = draw(st.lists(st.integers(min_value=-400, max_value=400), min_size=n, max_size=n))
    gone = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    keep_share = draw(st.floats(min_value=1 - thin, max_value=1.0))
    prices: list[int | None] = []
    level = start
    for i, (step, drop) in enumerate(zip(steps, gone, strict=True)):
        level = max(100, level + step)
        missing = drop and (i * 37 % 100) / 100 > keep_share
        prices.append(None if missing and i > 0 else level)
    return series_of(prices, sessions=sessions)


def grid_bar(series: GridSeries, i: int) -> Bar:
    """Minute ``i`` of ``series`` as the :class:`Bar` the framework hands the strategy (a minute
    without a trade is the grid's carried bar, as live and the backtest hand it on)."""
    return series.bar(i)


def minute_context(series: GridSeries, i: int, *, position: int = 0) -> MinuteContext:
    """The context of minute ``i`` of ``series`` with ``position`` shares held, no order open."""
    start = series.ts.item(i)
    return MinuteContext(
        now=datetime.fromtimestamp(start + 60, UTC),
        position=position,
        buying=False,
        selling=False,
        session_open=datetime.fromtimestamp(series.session_open.item(i), UTC),
        session_close=datetime.fromtimestamp(series.session_close.item(i), UTC),
    )


def _context(series: GridSeries, i: int, holding: bool) -> MinuteContext:
    return minute_context(series, i, position=1 if holding else 0)


def decide(strategy: Strategy, series: GridSeries) -> list[tuple[int, Signal]]:
    """``strategy``'s signals over ``series``, minute by minute, as ``(minute index, signal)``.

    The position follows the signals as if every order filled at once: a BUY while flat makes
    it held (1 share), a SELL while holding makes it flat; other signals change nothing (the
    bot is long-only). Sizing, risk limits and fills are the framework's and are not modelled.
    """
    held = 0
    signals: list[tuple[int, Signal]] = []
    for i in range(len(series)):
        signal = strategy.on_minute(grid_bar(series, i), minute_context(series, i, position=held))
        if signal is None:
            continue
        signals.append((i, signal))
        if signal.side is Side.BUY and not held:
            held = 1
        elif signal.side is Side.SELL and held:
            held = 0
    return signals


def bar_by_bar(
    strategy_type: type[Strategy], params: object, series: GridSeries
) -> tuple[list[bool], list[bool]]:
    """Entry and exit candidates as ``on_minute`` sees them: an always-flat instance reveals
    every entry, an always-holding one every exit."""
    flat = strategy_type(params)  # type: ignore[arg-type]
    holding = strategy_type(params)  # type: ignore[arg-type]
    enter: list[bool] = []
    leave: list[bool] = []
    for i in range(len(series)):
        bar = grid_bar(series, i)
        went = flat.on_minute(bar, _context(series, i, holding=False))
        left = holding.on_minute(bar, _context(series, i, holding=True))
        enter.append(went is not None and went.side is Side.BUY)
        leave.append(left is not None and left.side is Side.SELL)
    return enter, leave


def check_vectorised(strategy: Strategy, series: GridSeries) -> None:
    """Assert that ``strategy``'s vectorised path equals its bar-by-bar path on ``series``.

    Raises:
        AssertionError: naming the first minute where they differ.
        ValueError: the strategy offers no vectorised path.
    """
    found = strategy.candidates(series)
    if found is None:
        raise ValueError(f"{strategy.name} offers no vectorised path")
    enter, leave = (list(np.asarray(a, dtype=np.bool_).tolist()) for a in found)
    expected_enter, expected_leave = bar_by_bar(type(strategy), strategy.params, series)
    for name, got, want in (
        ("entry", enter, expected_enter),
        ("exit", leave, expected_leave),
    ):
        if got != want:
            i = next(k for k, (a, b) in enumerate(zip(got, want, strict=True)) if a != b)
            when = datetime.fromtimestamp(series.ts.item(i), UTC).isoformat()
            raise AssertionError(
                f"{strategy.name}: vectorised {name} is {got[i]} at minute {i} ({when}), "
                f"bar by bar {want[i]}"
            )
