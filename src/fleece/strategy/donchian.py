"""Donchian channel breakout on the minute grid, exact in 1/10,000 dollar.

The rule, precise enough for another engine to reproduce trade for trade:

* Each symbol steps once per minute of the grid (a minute without a bar has
  high = low = close = the last close).
* At minute ``t`` (counting the symbol's grid minutes from 0), once ``t >= max(entry, exit)``:

  - **enter** (BUY) when flat and ``close[t] > max(high[t-entry .. t-1])``: the close breaks
    strictly above the highest high of the previous ``entry`` minutes;
  - **exit** (SELL) when holding and ``close[t] < min(low[t-exit .. t-1])``: the close breaks
    strictly below the lowest low of the previous ``exit`` minutes.

* Prices are compared as integers of 1/10,000 dollar. Fills, sizing and risk are the
  framework's, as for every strategy.
"""

from __future__ import annotations

from collections import deque
from typing import Annotated, Any

import numpy as np
from pydantic import Field

from fleece.config_bounds import MAX_WINDOW_BARS, at_most
from fleece.models import TICKS_PER_DOLLAR, Bar, Side, Signal, to_ticks
from fleece.strategy.api import F64, GridSeries, MinuteContext, Strategy, StrategyParams, nan_series

REASON_BREAKOUT = "close_above_channel_high"
REASON_BREAKDOWN = "close_below_channel_low"

Lookback = Annotated[
    int,
    Field(ge=1),
    at_most(MAX_WINDOW_BARS, "a week of regular-session minutes (5 x 390)"),
]


class DonchianParams(StrategyParams):
    """How many previous minutes the entry and exit channels span."""

    entry: Lookback = Field(20, description="minutes whose highest high the close must beat")
    exit: Lookback = Field(10, description="minutes whose lowest low the close must fall under")


class _Channel:
    """Sliding extreme (max or min) of the last ``width`` values, O(1) amortised per step."""

    __slots__ = ("_highest", "_items", "_width")

    def __init__(self, width: int, highest: bool) -> None:
        self._width = width
        self._items: deque[tuple[int, int]] = deque()  # (step, value), values monotonic
        self._highest = highest

    def extreme(self, step: int) -> int | None:
        """The extreme of the values pushed at steps ``step - width .. step - 1``."""
        items = self._items
        while items and items[0][0] < step - self._width:
            items.popleft()
        return items[0][1] if items else None

    def push(self, step: int, value: int) -> None:
        items = self._items
        if self._highest:
            while items and value >= items[-1][1]:
                items.pop()
        else:
            while items and value <= items[-1][1]:
                items.pop()
        items.append((step, value))


class _SymbolState:
    __slots__ = ("highs", "last", "lows", "seen")

    def __init__(self, entry: int, exit_: int) -> None:
        self.seen = 0
        self.last: object = None
        self.highs = _Channel(entry, highest=True)
        self.lows = _Channel(exit_, highest=False)


class DonchianBreakout(Strategy):
    """Breakout above the previous ``entry`` minutes' high; exit below the ``exit`` minutes' low.

    Args:
        params: :class:`DonchianParams`.
    """

    name = "donchian_breakout"
    summary = "enter on a close above the last ENTRY minutes' high; exit below the EXIT lows"
    Params = DonchianParams

    def __init__(self, params: StrategyParams | None = None) -> None:
        super().__init__(params)
        assert isinstance(self.params, DonchianParams)
        self.entry = self.params.entry
        self.exit = self.params.exit
        self._need = max(self.entry, self.exit)
        self._states: dict[str, _SymbolState] = {}

    @property
    def warmup_minutes(self) -> int:
        """``max(entry, exit)`` minutes must precede the first one that can signal."""
        return self._need

    def on_minute(self, bar: Bar, ctx: MinuteContext) -> Signal | None:
        """Step one grid minute of ``bar.symbol``; a breakout or breakdown signals."""
        state = self._states.get(bar.symbol)
        if state is None:
            state = self._states[bar.symbol] = _SymbolState(self.entry, self.exit)
        elif state.last is not None and bar.timestamp <= state.last:  # type: ignore[operator]
            return None
        step = state.seen
        close = to_ticks(bar.close)
        high_before = state.highs.extreme(step)
        low_before = state.lows.extreme(step)
        state.highs.push(step, to_ticks(bar.high))
        state.lows.push(step, to_ticks(bar.low))
        state.seen = step + 1
        state.last = bar.timestamp
        if step < self._need or high_before is None or low_before is None:
            return None
        holding = ctx.position > 0 or ctx.buying
        if not holding and close > high_before:
            return self.signal(bar, Side.BUY, REASON_BREAKOUT)
        if holding and close < low_before:
            return self.signal(bar, Side.SELL, REASON_BREAKDOWN)
        return None

    def indicators(self, series: GridSeries) -> dict[str, F64]:
        """The channel the next close is compared with: previous ``entry`` highs, ``exit`` lows."""
        n = len(series)
        upper = _previous(series.high, self.entry, np.max)
        lower = _previous(series.low, self.exit, np.min)
        upper[: min(self._need, n)] = np.nan
        lower[: min(self._need, n)] = np.nan
        return {
            f"channel high ({self.entry})": upper,
            f"channel low ({self.exit})": lower,
        }


def _previous(values: np.ndarray, width: int, reduce: Any) -> F64:
    """At each minute ``t``, ``reduce`` of ``values[t-width:t]`` in dollars (NaN where short)."""
    n = len(values)
    out = nan_series(n)
    if n > width:
        windows = np.lib.stride_tricks.sliding_window_view(values, width)[: n - width]
        out[width:] = reduce(windows, axis=1) / TICKS_PER_DOLLAR
    return out
