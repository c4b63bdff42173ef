"""The SMA crossover strategy, bar by bar, with exact integer arithmetic.

The rule, precise enough for another engine to reproduce trade for trade:

* Each symbol keeps three simple moving averages of the 1-minute close over the last
  ``fast`` < ``medium`` < ``slow`` minutes (10, 30, 90 by default). It is fed the minute grid
  (:mod:`fleece.minute_grid`): one bar per regular-session minute, a carried bar repeating the
  last close where the feed had none, so a window of ``n`` bars spans ``n`` minutes. State
  carries across days without reset.
* At a bar's close, with ``cmp(a, b)`` the sign of ``SMA_a - SMA_b``:

  - **enter** (BUY) when the fast SMA crosses above the medium one,
    ``fast[t-1] <= medium[t-1] and fast[t] > medium[t]``, while ``medium[t] > slow[t]``,
    and the caller holds no position;
  - **exit** (SELL the whole position) when the fast SMA crosses below the medium one,
    ``fast[t-1] >= medium[t-1] and fast[t] < medium[t]``, and the caller holds a position.

* The first grid minute that can signal is the one that fills the slow window (the ``slow``-th,
  index ``slow - 1``). Because ``medium < slow``, the previous bar's fast and medium SMAs are
  always defined there, so the crossing test never looks at an undefined value.

Comparisons are exact: closes become integers of 1/10,000 dollar (:func:`fleece.models.to_ticks`),
windows keep integer sums, and two averages are compared cross-multiplied
(``sum_fast * medium`` against ``sum_medium * fast``) — never float means, which can disagree
with themselves (0.1 + 0.2 != 0.3) and flip a crossing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Self

from pydantic import Field, model_validator

from fleece.config_bounds import WindowBars
from fleece.models import TICKS_PER_DOLLAR, Bar, Side, Signal, require_utc, to_ticks
from fleece.strategy.api import (
    BOOL,
    F64,
    GridSeries,
    MinuteContext,
    Strategy,
    StrategyParams,
)
from fleece.strategy.indicators import sma
from fleece.strategy.vectorized import crossover_events, validate_windows

REASON_CROSS_ABOVE = "fast_cross_above_medium"
REASON_CROSS_BELOW = "fast_cross_below_medium"


def _sign(value: int) -> int:
    return (value > 0) - (value < 0)


@dataclass(frozen=True, slots=True)
class SymbolState:
    """A read-only snapshot of one symbol's crossover state.

    Attributes:
        bars_seen: how many bars of this symbol have been processed.
        last_timestamp: the start of the last processed bar.
        sum_fast: integer sum (ticks) of the last ``fast`` closes, complete or not.
        sum_medium: integer sum (ticks) of the last ``medium`` closes.
        sum_slow: integer sum (ticks) of the last ``slow`` closes.
        fast_vs_medium: sign of ``SMA_fast - SMA_medium`` at the last bar (-1, 0, 1), or
            ``None`` while the medium window is not full.
    """

    bars_seen: int
    last_timestamp: datetime | None
    sum_fast: int
    sum_medium: int
    sum_slow: int
    fast_vs_medium: int | None


class _Windows:
    """Rolling integer sums for one symbol over a ring buffer of the last ``slow`` closes."""

    __slots__ = (
        "bars_seen",
        "fast",
        "fast_vs_medium",
        "last_timestamp",
        "medium",
        "ring",
        "slow",
        "sum_fast",
        "sum_medium",
        "sum_slow",
    )

    def __init__(self, fast: int, medium: int, slow: int) -> None:
        self.fast = fast
        self.medium = medium
        self.slow = slow
        self.ring = [0] * slow
        self.bars_seen = 0
        self.sum_fast = 0
        self.sum_medium = 0
        self.sum_slow = 0
        self.fast_vs_medium: int | None = None
        self.last_timestamp: datetime | None = None

    def push(self, ticks: int) -> None:
        """Add one close; read every leaving value before the ring slot is overwritten."""
        n = self.bars_seen
        ring, slow = self.ring, self.slow
        # Bar n-w leaves a w-bar window; it is still in the ring (which holds n-slow..n-1).
        leaving_fast = ring[(n - self.fast) % slow] if n >= self.fast else 0
        leaving_medium = ring[(n - self.medium) % slow] if n >= self.medium else 0
        leaving_slow = ring[n % slow] if n >= slow else 0
        self.sum_fast += ticks - leaving_fast
        self.sum_medium += ticks - leaving_medium
        self.sum_slow += ticks - leaving_slow
        ring[n % slow] = ticks
        self.bars_seen = n + 1

    def cmp_fast_medium(self) -> int:
        return _sign(self.sum_fast * self.medium - self.sum_medium * self.fast)

    def cmp_medium_slow(self) -> int:
        return _sign(self.sum_medium * self.slow - self.sum_slow * self.medium)


class SmaParams(StrategyParams):
    """The three windows, in minutes of the grid: ``1 <= fast < medium < slow``."""

    fast: WindowBars = Field(10, description="minutes of the fast SMA (< medium)")
    medium: WindowBars = Field(30, description="minutes of the medium SMA (< slow)")
    slow: WindowBars = Field(90, description="minutes of the slow SMA, the trend filter")

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if not self.fast < self.medium < self.slow:
            raise ValueError(
                "windows must satisfy fast < medium < slow "
                f"(got fast={self.fast}, medium={self.medium}, slow={self.slow})"
            )
        return self


class SmaCrossover(Strategy[SmaParams]):
    """Fast/medium/slow SMA crossover, long-only, O(1) per bar, one state per symbol.

    ``holding`` is decided by the caller: the live runtime treats a pending buy as holding, so
    that a second cross up while the first order is in flight does not buy twice. The strategy
    itself never remembers positions; it only remembers prices.

    Args:
        fast: fast SMA window in bars (default 10).
        medium: medium SMA window in bars (default 30).
        slow: slow SMA window in bars (default 90).

    Raises:
        ValueError: unless ``1 <= fast < medium < slow``.
    """

    name = "sma_crossover"
    summary = "enter when the fast SMA crosses above the medium one above the slow; exit below"

    def __init__(self, fast: int | SmaParams = 10, medium: int = 30, slow: int = 90) -> None:
        if isinstance(fast, StrategyParams):  # built from trading.yaml: already validated
            params = fast
            fast, medium, slow = params.fast, params.medium, params.slow
        else:
            validate_windows(fast, medium, slow)
            params = SmaParams.model_construct(fast=fast, medium=medium, slow=slow)
        super().__init__(params)
        self.fast = fast
        self.medium = medium
        self.slow = slow
        self._states: dict[str, _Windows] = {}

    @property
    def warmup_minutes(self) -> int:
        """The slow window: the first minute that can signal is the one that fills it."""
        return self.slow

    def on_minute(self, bar: Bar, ctx: MinuteContext) -> Signal | None:
        """The decision at a grid minute's close (see :meth:`on_bar`)."""
        return self.on_bar(bar, ctx.holding)

    def indicators(self, series: GridSeries) -> dict[str, F64]:
        """The three SMAs in dollars over ``series`` (NaN until each window is full).

        Integer tick sums divided by the window, then by ticks per dollar: the same floats as
        :meth:`smas`, so a chart shows the very numbers the strategy decided on.
        """
        return {
            f"SMA {label} ({window})": sma(series.close, window)
            for label, window in (("fast", self.fast), ("medium", self.medium), ("slow", self.slow))
        }

    def candidates(self, series: GridSeries) -> tuple[BOOL, BOOL]:
        """Entry and exit minutes, exactly (:func:`.vectorized.crossover_events`)."""
        return crossover_events(series.close, self.fast, self.medium, self.slow)

    def on_bar(self, bar: Bar, holding: bool) -> Signal | None:
        """Process one regular-session bar at its close and return a signal, if any.

        A bar whose timestamp is not after the symbol's last processed bar is ignored (returns
        ``None`` and leaves the state untouched), so a feed that delivers a bar twice — e.g. the
        last warmup bar again on the first poll — cannot double-count it.

        Args:
            bar: the bar; its ``timestamp`` must be timezone-aware.
            holding: whether the caller holds (or is buying) a position in ``bar.symbol``.

        Returns:
            A BUY signal on an entry, a SELL signal on an exit, else ``None``.
        """
        advanced = self._advance(bar)
        if advanced is None:
            return None
        state, previous = advanced
        return self._decide(state, previous, bar, holding)

    def warmup(self, bars: Iterable[Bar], ctx: MinuteContext | None = None) -> None:
        """Feed history without producing signals.

        The state afterwards is exactly what :meth:`on_bar` would have left: the crossing test
        depends only on prices, never on ``holding``.

        Args:
            bars: bars in time order (any mix of symbols).
            ctx: unused (the state depends on prices only).
        """
        for bar in bars:
            self._advance(bar)

    def smas(self, symbol: str) -> tuple[float | None, float | None, float | None]:
        """Return the (fast, medium, slow) SMAs in dollars, for display only.

        A window that is not full yet is ``None``. Decisions never use these floats.

        Args:
            symbol: the symbol.
        """
        state = self._states.get(symbol)
        if state is None:
            return (None, None, None)

        def mean(total: int, window: int) -> float | None:
            return total / window / TICKS_PER_DOLLAR if state.bars_seen >= window else None

        return (
            mean(state.sum_fast, self.fast),
            mean(state.sum_medium, self.medium),
            mean(state.sum_slow, self.slow),
        )

    def state_of(self, symbol: str) -> SymbolState:
        """Return a snapshot of ``symbol``'s state (an empty one if never seen).

        Args:
            symbol: the symbol.
        """
        # The live windows carry every field of the snapshot under the same name; a symbol
        # never seen reads as fresh windows.
        state = self._states.get(symbol) or _Windows(self.fast, self.medium, self.slow)
        return SymbolState(**{f.name: getattr(state, f.name) for f in fields(SymbolState)})

    @property
    def min_bars(self) -> int:
        """Bars a symbol needs before it can signal (the slow window): warmup length."""
        return self.slow

    def _advance(self, bar: Bar) -> tuple[_Windows, int | None] | None:
        """Push ``bar`` into its symbol's windows.

        Returns:
            The symbol's state and the fast-vs-medium sign before this bar, or ``None`` if the
            bar is not newer than the last one processed.
        """
        require_utc(bar.timestamp, "bar timestamp")
        state = self._states.get(bar.symbol)
        if state is None:
            state = self._states[bar.symbol] = _Windows(self.fast, self.medium, self.slow)
        elif state.last_timestamp is not None and bar.timestamp <= state.last_timestamp:
            return None
        previous = state.fast_vs_medium
        state.push(to_ticks(bar.close))
        state.last_timestamp = bar.timestamp
        state.fast_vs_medium = state.cmp_fast_medium() if state.bars_seen >= self.medium else None
        return state, previous

    def _decide(
        self, state: _Windows, previous: int | None, bar: Bar, holding: bool
    ) -> Signal | None:
        current = state.fast_vs_medium
        if state.bars_seen < self.slow or previous is None or current is None:
            return None
        if not holding and previous <= 0 < current and state.cmp_medium_slow() > 0:
            return self._signal(bar, Side.BUY, REASON_CROSS_ABOVE)
        if holding and previous >= 0 > current:
            return self._signal(bar, Side.SELL, REASON_CROSS_BELOW)
        return None

    def _signal(self, bar: Bar, side: Side, reason: str) -> Signal:
        return self.signal(bar, side, reason)
