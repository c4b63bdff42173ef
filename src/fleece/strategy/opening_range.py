"""Opening-range breakout: a session-anchored strategy that also exits on time.

The rule, precise enough for another engine to reproduce trade for trade:

* Each session, a symbol's *opening range* is the highest high and the lowest low of the
  session's first ``range_minutes`` grid minutes (a minute without a bar has
  high = low = close = the last close). A symbol that was not on the grid from the session's open
  (its first bar ever came later) has no range that session and does not trade in it.
* After the range is complete, at minute ``t`` of the session with ``m`` whole minutes left until
  the close after ``t`` (``m = (close - (t + 1 minute)) / 1 minute``):

  - **exit** (SELL) when holding and either ``close[t] < range low`` or ``m <= exit_before_close``
    (flat before the close, whatever the price);
  - **enter** (BUY) when flat, ``m > exit_before_close`` and ``close[t] > range high``.

* Comparisons are exact, in integers of 1/10,000 dollar. Fills, sizing and risk are the
  framework's, as for every strategy.
"""

from __future__ import annotations

from typing import Annotated

import numpy as np
from pydantic import Field

from fleece.config_bounds import MINUTES_PER_SESSION, at_most
from fleece.models import TICKS_PER_DOLLAR, Bar, Side, Signal, to_ticks
from fleece.strategy.api import (
    F64,
    MINUTE_S,
    GridSeries,
    MinuteContext,
    Strategy,
    StrategyParams,
    nan_series,
)

REASON_ABOVE = "close_above_opening_range"
REASON_BELOW = "close_below_opening_range"
REASON_TIME = "session_ends"


class OpeningRangeParams(StrategyParams):
    """How long the opening range lasts and when positions are closed before the bell."""

    range_minutes: Annotated[
        int, Field(ge=1), at_most(MINUTES_PER_SESSION // 2, "half a session")
    ] = Field(30, description="session minutes that make the opening range")
    exit_before_close: Annotated[
        int, Field(ge=1), at_most(MINUTES_PER_SESSION // 2, "half a session")
    ] = Field(15, description="minutes before the close when positions are closed")


class _Session:
    __slots__ = ("complete", "high", "low", "open", "valid")

    def __init__(self, opened: int, valid: bool) -> None:
        self.open = opened
        self.valid = valid  # on the grid from the session's first minute
        self.high = -1
        self.low = -1
        self.complete = False


class OpeningRange(Strategy[OpeningRangeParams]):
    """Long on a break above the opening range; out below it or before the close.

    Args:
        params: :class:`OpeningRangeParams`.
    """

    name = "opening_range"
    summary = "enter above the first RANGE minutes' high; exit below its low or before the close"

    def __init__(self, params: OpeningRangeParams | None = None) -> None:
        super().__init__(params)
        self.range_minutes = self.params.range_minutes
        self.exit_before_close = self.params.exit_before_close
        self._sessions: dict[str, _Session] = {}
        self._last: dict[str, int] = {}

    @property
    def warmup_minutes(self) -> int:
        """The opening range itself (each session)."""
        return self.range_minutes

    def on_minute(self, bar: Bar, ctx: MinuteContext) -> Signal | None:
        """Build the day's range, then trade breaks of it; flat before the close."""
        symbol = bar.symbol
        start = int(bar.timestamp.timestamp())
        if self._last.get(symbol, -1) >= start:
            return None
        self._last[symbol] = start
        opened = int(ctx.session_open.timestamp())
        session = self._sessions.get(symbol)
        if session is None or session.open != opened:
            session = self._sessions[symbol] = _Session(opened, valid=start == opened)
        index = (start - opened) // MINUTE_S
        high, low = to_ticks(bar.high), to_ticks(bar.low)
        if index < self.range_minutes:
            session.high = high if session.high < 0 else max(session.high, high)
            session.low = low if session.low < 0 else min(session.low, low)
            session.complete = index == self.range_minutes - 1
            return None
        if not (session.valid and session.complete):
            return None
        close = to_ticks(bar.close)
        left = ctx.minutes_to_close
        holding = ctx.holding
        if holding and close < session.low:
            return self.signal(bar, Side.SELL, REASON_BELOW)
        if holding and left <= self.exit_before_close:
            return self.signal(bar, Side.SELL, REASON_TIME)
        if not holding and left > self.exit_before_close and close > session.high:
            return self.signal(bar, Side.BUY, REASON_ABOVE)
        return None

    def indicators(self, series: GridSeries) -> dict[str, F64]:
        """The session's opening-range high and low, from the minute the range is complete."""
        n = len(series)
        upper, lower = nan_series(n), nan_series(n)
        opens = series.session_open
        index = (series.ts - opens) // MINUTE_S
        for opened in np.unique(opens).tolist():
            rows = np.flatnonzero(opens == opened)
            in_range = rows[index[rows] < self.range_minutes]
            after = rows[index[rows] >= self.range_minutes]
            # Only a session the symbol was on the grid for from its open has a range.
            if len(in_range) < self.range_minutes or not len(after):
                continue
            upper[after] = series.high[in_range].max() / TICKS_PER_DOLLAR
            lower[after] = series.low[in_range].min() / TICKS_PER_DOLLAR
        return {
            f"range high ({self.range_minutes} min)": upper,
            f"range low ({self.range_minutes} min)": lower,
        }
