"""The fast path's strategy: crossover candidates computed once per symbol with numpy.

Each symbol's closes are first laid on the minute grid (:func:`~fleece.minute_grid.grid_closes`:
a minute without a bar repeats the last close), then
:func:`~fleece.strategy.vectorized.crossover_events` finds, for the whole series, every minute
where the price-only part of the SMA crossover rule fires; tests prove it equals
:class:`~fleece.strategy.SmaCrossover` bar for bar (tests/strategy/test_vectorized.py, on random
series and on the real bars). What remains sequential is whether the caller holds the symbol,
and that is the trader's business: :class:`CandidateSignals` implements the
:class:`~fleece.strategy.Strategy` protocol and answers, for a candidate bar, exactly the signal
``SmaCrossover.on_bar(bar, holding)`` would. The runner calls the trader only on candidate bars;
on every other bar ``SmaCrossover`` returns None whatever ``holding`` is, so nothing is skipped
that could have acted.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property

import numpy as np

from fleece.backtest.data import I64, MINUTE, MarketData
from fleece.minute_grid import carried_bar, grid_closes
from fleece.models import TICKS_PER_DOLLAR, Bar, Side, Signal
from fleece.strategy import REASON_CROSS_ABOVE, REASON_CROSS_BELOW, SmaCrossover
from fleece.strategy.vectorized import crossover_events


@dataclass(frozen=True, eq=False)
class Candidates:
    """Every candidate minute of a market, sorted by decision time then symbol.

    Attributes:
        decide_at: when the minute has closed (minute start + 60 s), epoch seconds.
        symbol: index into ``symbols``.
        row: the real bar's row in its symbol's columns, or -1 for a carried minute.
        close: the minute's close in ticks (the carried close where there was no bar).
        up: True for an entry candidate, False for an exit candidate.
        symbols: the symbols, in the order the indexes refer to.
    """

    decide_at: I64
    symbol: I64
    row: I64
    close: I64
    up: np.ndarray
    symbols: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.decide_at)

    @cached_property
    def names(self) -> list[str]:
        """The symbol of each candidate (plain Python, for the per-candidate loop)."""
        return [self.symbols[k] for k in self.symbol.tolist()]

    @cached_property
    def rows(self) -> list[int]:
        """``row`` as Python ints."""
        return list(self.row.tolist())

    @cached_property
    def ups(self) -> list[bool]:
        """``up`` as Python bools."""
        return list(self.up.tolist())

    def bar(self, j: int, market: MarketData) -> Bar:
        """Candidate ``j``'s bar: the real one, or the carried bar of its minute."""
        symbol = self.names[j]
        row = self.rows[j]
        if row >= 0:
            return market.bars[symbol].bar(row)
        minute = datetime.fromtimestamp(self.decide_at.item(j) - MINUTE, UTC)
        return carried_bar(symbol, minute, self.close.item(j) / TICKS_PER_DOLLAR)


def find_candidates(
    market: MarketData, minutes: I64, fast: int, medium: int, slow: int
) -> Candidates:
    """The entry and exit candidates of every symbol, on the minute grid.

    Args:
        market: the bars.
        minutes: the grid's minutes (:func:`fleece.minute_grid.session_minutes`).
        fast: fast SMA window, in minutes.
        medium: medium SMA window, in minutes.
        slow: slow SMA window, in minutes.
    """
    symbols = market.symbols
    parts: list[tuple[I64, I64, I64, I64, np.ndarray]] = []
    for k, symbol in enumerate(symbols):
        bars = market.bars[symbol]
        regular = np.flatnonzero(bars.regular)
        first, closes, rows = grid_closes(minutes, bars.ts[regular], bars.close[regular])
        up, down = crossover_events(closes, fast, medium, slow)
        hit = np.flatnonzero(up | down)
        real = rows[hit]
        picked = np.where(real >= 0, regular[np.maximum(real, 0)], -1).astype(np.int64)
        parts.append(
            (
                minutes[first + hit] + MINUTE,
                np.full(len(hit), k, dtype=np.int64),
                picked,
                closes[hit],
                up[hit],
            )
        )
    if not parts:
        empty = np.zeros(0, dtype=np.int64)
        return Candidates(empty, empty, empty, empty, np.zeros(0, dtype=np.bool_), symbols)
    decide_at = np.concatenate([p[0] for p in parts])
    which = np.concatenate([p[1] for p in parts])
    # The live feed hands a minute's grid bars over in symbol order; decisions follow it.
    order = np.lexsort((which, decide_at))
    return Candidates(
        decide_at=decide_at[order],
        symbol=which[order],
        row=np.concatenate([p[2] for p in parts])[order],
        close=np.concatenate([p[3] for p in parts])[order],
        up=np.concatenate([p[4] for p in parts])[order],
        symbols=symbols,
    )


class CandidateSignals:
    """A :class:`~fleece.strategy.Strategy` that answers from precomputed candidates.

    Before each :meth:`on_bar` the runner says what the bar is with :meth:`expect`; the answer
    is then the one :class:`~fleece.strategy.SmaCrossover` gives: BUY on an entry candidate
    when not holding, SELL on an exit candidate when holding, else None.

    Args:
        fast: fast SMA window (only to name and validate the strategy like SmaCrossover).
        medium: medium SMA window.
        slow: slow SMA window.
    """

    name = SmaCrossover.name

    def __init__(self, fast: int = 10, medium: int = 30, slow: int = 90) -> None:
        SmaCrossover(fast, medium, slow)  # the same validation, the same error messages
        self._expected: tuple[str, datetime, bool] | None = None

    def expect(self, symbol: str, bar_timestamp: datetime, up: bool) -> None:
        """Announce the next bar: an entry (``up``) or exit candidate."""
        self._expected = (symbol, bar_timestamp, up)

    def on_bar(self, bar: Bar, holding: bool) -> Signal | None:
        """The signal for the announced candidate bar.

        Raises:
            RuntimeError: ``bar`` is not the announced one (a runner bug, never data).
        """
        expected, self._expected = self._expected, None
        if expected is None or expected[:2] != (bar.symbol, bar.timestamp):
            raise RuntimeError(f"unannounced bar {bar.symbol} {bar.timestamp.isoformat()}")
        up = expected[2]
        if up and not holding:
            return self._signal(bar, Side.BUY, REASON_CROSS_ABOVE)
        if not up and holding:
            return self._signal(bar, Side.SELL, REASON_CROSS_BELOW)
        return None

    def warmup(self, bars: Iterable[Bar]) -> None:
        """Nothing to do: candidates are computed over the whole series up front."""

    def smas(self, symbol: str) -> tuple[float | None, float | None, float | None]:
        """Not tracked bar by bar on the fast path."""
        return (None, None, None)

    def _signal(self, bar: Bar, side: Side, reason: str) -> Signal:
        return Signal(
            strategy=self.name,
            symbol=bar.symbol,
            side=side,
            bar_timestamp=bar.timestamp,
            price=bar.close,
            reason=reason,
        )
