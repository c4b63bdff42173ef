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
from datetime import datetime
from typing import Any

import numpy as np
from pydantic import Field

from fleece.config_bounds import WindowBars
from fleece.models import TICKS_PER_DOLLAR, Bar, Side, Signal, to_ticks
from fleece.strategy.api import F64, GridSeries, MinuteContext, Strategy, StrategyParams, nan_series

REASON_BREAKOUT = "close_above_channel_high"
REASON_BREAKDOWN = "close_below_channel_low"

#: Bounded as every strategy window is (the SMA's too): the live warm-up can load no longer.
Lookback = WindowBars


class DonchianParams(StrategyParams):
    """How many previous minutes the entry and exit channels span."""

    entry: Lookback = Field(20, description="minutes whose highest high the close must beat")
    exit: Lookback = Field(10, description="minutes whose lowest low the close must fall under")


class _SymbolState:
    """One symbol's channels: sliding extremes of its previous highs and lows.

    Each channel is a monotonic queue (steps and values in two deques, values decreasing for the
    highs, increasing for the lows): the extreme of the last ``width`` values is the front, and
    each value enters and leaves once, so a step costs O(1) amortised whatever the width.
    """

    __slots__ = ("high_steps", "high_values", "last", "low_steps", "low_values", "seen")

    def __init__(self, first: datetime) -> None:
        self.seen = 0
        self.last = first
        self.high_steps: deque[int] = deque()
        self.high_values: deque[int] = deque()
        self.low_steps: deque[int] = deque()
        self.low_values: deque[int] = deque()


class DonchianBreakout(Strategy[DonchianParams]):
    """Breakout above the previous ``entry`` minutes' high; exit below the ``exit`` minutes' low.

    Args:
        params: :class:`DonchianParams`.
    """

    name = "donchian_breakout"
    summary = "enter on a close above the last ENTRY minutes' high; exit below the EXIT lows"

    def __init__(self, params: DonchianParams | None = None) -> None:
        super().__init__(params)
        # Plain attributes: on_minute, the backtest's hottest path, reads them every minute.
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
        # The backtest calls this for every symbol and minute: written for speed, inline.
        stamp = bar.timestamp
        state = self._states.get(bar.symbol)
        if state is None:
            state = self._states[bar.symbol] = _SymbolState(stamp)
        elif stamp <= state.last:
            return None
        state.last = stamp
        step = state.seen
        state.seen = step + 1
        # The previous `entry` highs' maximum, then this minute's high joins the channel.
        steps, values = state.high_steps, state.high_values
        oldest = step - self.entry
        while steps and steps[0] < oldest:
            steps.popleft()
            values.popleft()
        high_before = values[0] if values else 0
        high = to_ticks(bar.high)
        while values and high >= values[-1]:
            values.pop()
            steps.pop()
        values.append(high)
        steps.append(step)
        # The previous `exit` lows' minimum, likewise.
        steps, values = state.low_steps, state.low_values
        oldest = step - self.exit
        while steps and steps[0] < oldest:
            steps.popleft()
            values.popleft()
        low_before = values[0] if values else 0
        low = to_ticks(bar.low)
        while values and low <= values[-1]:
            values.pop()
            steps.pop()
        values.append(low)
        steps.append(step)
        if step < self._need:
            return None  # (from here on both channels hold at least the previous minute)
        if ctx.holding:
            if to_ticks(bar.close) < low_before:
                return self.signal(bar, Side.SELL, REASON_BREAKDOWN)
        elif to_ticks(bar.close) > high_before:
            return self.signal(bar, Side.BUY, REASON_BREAKOUT)
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
