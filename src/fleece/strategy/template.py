"""What ``fleece strategy new NAME`` writes: a working strategy file and its tests.

The strategy is a complete, tested example (buy a dip below the moving mean, sell back at the
mean, exact in ticks, with a vectorised path), meant to be edited into the user's own. The
``__NAME__`` and ``__CLASS__`` markers are replaced by the strategy's name and class name.
"""

from __future__ import annotations

import keyword
import re

__all__ = ["STRATEGY", "TESTS", "check_name", "class_name", "render"]

_NAME = re.compile(r"[a-z][a-z0-9_]{0,49}")

STRATEGY = '''\
"""__NAME__: buy a dip below the moving mean, sell when the price is back at the mean.

Written by `fleece strategy new __NAME__`; make it your own. Use it from a trading.yaml in
this folder:

    strategy:
      name: __NAME__.py:__CLASS__
      window: 30          # every parameter of __CLASS__Params below may be set here
      dip_bps: 20

The rule, precise enough for another engine to reproduce trade for trade:

* Each symbol steps once per minute of the minute grid (a minute without a bar is *carried*:
  high = low = close = the last close). ``mean[t]`` is the mean of the closes of minutes
  ``t-window+1 .. t`` (the current one included).
* From minute ``window - 1`` on (counting the symbol's grid minutes from 0):

  - **enter** (BUY) when flat and ``close[t] <= mean[t] * (1 - dip_bps / 10,000)``;
  - **exit** (SELL) when holding and ``close[t] >= mean[t]``.

* Prices are compared exactly, as integers of 1/10,000 dollar (``to_ticks``), the mean as a
  sum (``close * window`` against ``sum``): no float rounding can flip a decision.

The rules every strategy keeps (see docs/strategies.md): ``on_minute`` is pure and fast — no
I/O, no clock (the time is ``ctx.now``), no randomness — and the state it keeps depends on
prices only, so a warm-up, a backtest and the live bot rebuild the same state. The bot is
long-only: a BUY while flat opens a position sized by the risk manager, a SELL while holding
closes it; anything else is ignored.
"""

from __future__ import annotations

from collections import deque
from datetime import datetime
from typing import Annotated

import numpy as np
from pydantic import Field

from fleece.strategy import (
    Bar,
    GridSeries,
    MinuteContext,
    Side,
    Signal,
    Strategy,
    StrategyParams,
    WindowBars,
    sma,
    to_ticks,
    window_sums,
)

BPS = 10_000


class __CLASS__Params(StrategyParams):
    """The parameters: types, defaults, bounds and descriptions (`fleece strategy list` shows
    them; trading.yaml and `fleece sweep --param` are checked against them)."""

    # WindowBars: the bound every window has (a week of minutes, what the warm-up can load).
    window: Annotated[WindowBars, Field(ge=2)] = Field(
        30, description="minutes of closes the mean spans"
    )
    dip_bps: Annotated[int, Field(ge=1, le=2000)] = Field(
        20, description="how far below the mean the close must fall to buy, in basis points"
    )


class _Closes:
    """One symbol's last ``window`` closes (ticks) and their sum."""

    __slots__ = ("closes", "last", "total")

    def __init__(self, window: int) -> None:
        self.closes: deque[int] = deque(maxlen=window)
        self.total = 0
        self.last: datetime | None = None


# Strategy[__CLASS__Params]: these are its parameters (the class's Params), and self.params is
# typed as one, so the editor and mypy know self.params.window.
class __CLASS__(Strategy[__CLASS__Params]):
    """Buy a dip of ``dip_bps`` below the ``window``-minute mean; sell back at the mean."""

    name = "__NAME__"
    summary = "buy DIP_BPS below the WINDOW-minute mean, sell back at the mean"

    def __init__(self, params: __CLASS__Params | None = None) -> None:
        super().__init__(params)  # None: the defaults
        self.window = self.params.window
        self.dip_bps = self.params.dip_bps
        self._symbols: dict[str, _Closes] = {}

    @property
    def warmup_minutes(self) -> int:
        """Minutes of history needed before the first signal: one full window."""
        return self.window

    def on_minute(self, bar: Bar, ctx: MinuteContext) -> Signal | None:
        """Decide at the close of one grid minute of ``bar.symbol`` (real or carried)."""
        state = self._symbols.setdefault(bar.symbol, _Closes(self.window))
        if state.last is not None and bar.timestamp <= state.last:
            return None  # a minute already seen: ignore it, state unchanged
        state.last = bar.timestamp
        close = to_ticks(bar.close)
        if len(state.closes) == self.window:
            state.total -= state.closes[0]  # the oldest close leaves the window
        state.closes.append(close)
        state.total += close
        if len(state.closes) < self.window:
            return None  # still warming up
        if not ctx.holding and close * self.window * BPS <= state.total * (BPS - self.dip_bps):
            return self.signal(bar, Side.BUY, "dip_below_mean")
        if ctx.holding and close * self.window >= state.total:
            return self.signal(bar, Side.SELL, "back_at_mean")
        return None

    def indicators(self, series: GridSeries) -> dict[str, np.ndarray]:
        """Lines the backtest report and the dashboard draw over the price (dollars, NaN where
        undefined): the mean and the price a close must reach to buy."""
        mean = sma(series.close, self.window)  # exact tick sums, in dollars
        return {
            f"mean ({self.window} min)": mean,
            f"buy below (-{self.dip_bps} bps)": mean * (BPS - self.dip_bps) / BPS,
        }

    # Optional: the vectorised path. A backtest of a strategy without it steps every minute
    # through on_minute (fine: hundreds of thousands of minutes a second). With it, the
    # backtest asks on_minute only at the minutes returned here. It must agree with on_minute
    # exactly: test_NAME.py proves it with check_vectorised on random series. Delete this
    # method if your decisions depend on more than the prices and whether a position is held.
    def candidates(self, series: GridSeries) -> tuple[np.ndarray, np.ndarray]:
        """Per minute of ``series``: would it enter if flat, exit if holding?"""
        n = len(series)
        enter = np.zeros(n, dtype=np.bool_)
        leave = np.zeros(n, dtype=np.bool_)
        sums = window_sums(series.close, self.window)[self.window - 1 :]
        closes = series.close[self.window - 1 :]
        enter[self.window - 1 :] = closes * self.window * BPS <= sums * (BPS - self.dip_bps)
        leave[self.window - 1 :] = closes * self.window >= sums
        return enter, leave
'''

TESTS = '''\
"""Specifications of the __NAME__ strategy: run `python -m pytest test___NAME__.py`.

They need pytest and hypothesis beside fleece (`pip install pytest hypothesis`, or the project's
dev dependencies). fleece.strategy.testing builds series of grid minutes, steps a strategy over
them (`decide`) and proves a vectorised path equal to the bar-by-bar one (`check_vectorised`).
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from hypothesis import given, settings

from fleece.models import Side
from fleece.strategy import GridSeries, Strategy
from fleece.strategy.registry import find
from fleece.strategy.testing import check_vectorised, decide, series_of, sparse_series

# Found exactly as trading.yaml's `name: __NAME__.py:__CLASS__` finds it.
__CLASS__: type[Strategy] = find("__NAME__.py:__CLASS__", Path(__file__).parent).cls


def strategy(**params: int) -> Strategy:
    return __CLASS__(__CLASS__.Params(**params))


def test_parameters_have_defaults_and_bounds() -> None:
    assert __CLASS__.Params().model_dump() == {"window": 30, "dip_bps": 20}
    # Validated as trading.yaml's strategy section is.
    with pytest.raises(ValueError, match="window"):
        __CLASS__.Params.model_validate({"window": 1})
    with pytest.raises(ValueError, match="did_bps"):
        __CLASS__.Params.model_validate({"did_bps": 5})  # a typo is refused, never ignored


def test_it_buys_a_dip_below_the_mean_and_sells_back_at_the_mean() -> None:
    # Closes in ticks (1/10,000 dollar): $100.00 for 4 minutes, $99.00 (1% below the mean),
    # then $100.00 again. series_of fills the rest of the session with the last close.
    series = series_of([1_000_000] * 4 + [990_000, 1_000_000])

    signals = decide(strategy(window=4, dip_bps=50), series)

    assert [(i, s.side) for i, s in signals] == [(4, Side.BUY), (5, Side.SELL)]


def test_a_minute_without_a_bar_counts_with_the_last_close() -> None:
    # None: no bar that minute; the grid carries the last close, so minutes 1 and 2 count as
    # $100.00 and the window of 4 is full at minute 3. After the dip to $99.00 the close stays
    # there (carried) and the mean falls to it at minute 7: back at the mean, sell.
    series = series_of([1_000_000, None, None, 1_000_000, 990_000])

    signals = decide(strategy(window=4, dip_bps=50), series)

    assert [(i, s.side) for i, s in signals] == [(4, Side.BUY), (7, Side.SELL)]


def test_the_first_signal_comes_with_the_first_full_window() -> None:
    series = series_of([1_000_000, 900_000, 800_000])

    signals = decide(strategy(window=4, dip_bps=50), series)

    assert signals[0][0] == 3  # minutes 0, 1 and 2 only warm the window up


def test_the_indicators_follow_the_series_and_are_undefined_while_warming_up() -> None:
    series = series_of([1_000_000] * 10)

    lines = strategy(window=4).indicators(series)

    assert list(lines) == ["mean (4 min)", "buy below (-20 bps)"]
    for values in lines.values():
        assert len(values) == len(series)
        assert all(math.isnan(v) for v in values[:3])  # no full window yet
    assert lines["mean (4 min)"][3] == 100.0


# Delete this test if you delete the vectorised path (candidates) from __NAME__.py.
@settings(max_examples=100, deadline=None)
@given(sparse_series())
def test_the_vectorised_path_equals_the_bar_by_bar_path(series: GridSeries) -> None:
    check_vectorised(strategy(window=7, dip_bps=15), series)
'''


def check_name(name: str) -> str | None:
    """Why ``name`` cannot name a new strategy (a lowercase Python module name), or None."""
    if not _NAME.fullmatch(name):
        return (
            "expected a lowercase name of letters, digits and _ starting with a letter "
            f"(at most 50), like rsi or my_breakout; got {name!r}"
        )
    if keyword.iskeyword(name) or name.startswith("test"):
        return f"{name!r} cannot name a module of its own (a Python keyword or a test name)"
    return None


def class_name(name: str) -> str:
    """``my_rsi`` -> ``MyRsi``."""
    return "".join(part.capitalize() for part in name.split("_") if part)


def render(text: str, name: str) -> str:
    """``text`` with the markers replaced for strategy ``name``."""
    return text.replace("__CLASS__", class_name(name)).replace("__NAME__", name)
