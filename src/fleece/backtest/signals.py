"""The fast path's strategy: candidates computed once per symbol by the strategy's own
vectorised path.

Each symbol's bars are first laid on the minute grid (:func:`~fleece.minute_grid.grid_series`: a
minute without a bar repeats the last close), then the strategy's
:meth:`~fleece.strategy.Strategy.candidates` finds, for the whole series, every minute where it
would enter if flat and exit if holding; :func:`fleece.strategy.testing.check_vectorised` proves
that equal to its bar-by-bar :meth:`~fleece.strategy.Strategy.on_minute`. What remains sequential
is whether the caller holds the symbol, and that is the trader's business:
:class:`CandidateSignals` is a :class:`~fleece.strategy.Strategy` that answers, for a candidate
minute, exactly the signal the strategy would. The runner calls the trader only on candidate
minutes; on every other minute the strategy returns None whatever is held, so nothing is skipped
that could have acted.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import cached_property

import numpy as np

from fleece.backtest.data import I64, MarketData
from fleece.minute_grid import MINUTE_S, Grid, GridSeries, carried_bar, grid_series
from fleece.models import TICKS_PER_DOLLAR, Bar, Side, Signal
from fleece.strategy.api import F64, MinuteContext, Strategy


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
        minute = datetime.fromtimestamp(self.decide_at.item(j) - MINUTE_S, UTC)
        return carried_bar(symbol, minute, self.close.item(j) / TICKS_PER_DOLLAR)


def market_series(market: MarketData, symbol: str, grid: Grid) -> GridSeries:
    """``symbol``'s regular-session bars of ``market`` on ``grid``.

    ``rows`` of the result index the symbol's columns in ``market`` (-1 where carried).
    """
    bars = market.bars[symbol]
    regular = np.flatnonzero(bars.regular)
    series = grid_series(
        symbol,
        grid,
        bars.ts[regular],
        [column[regular] for column in (bars.open, bars.high, bars.low, bars.close, bars.volume)],
    )
    rows = np.where(series.rows >= 0, regular[np.maximum(series.rows, 0)], -1).astype(np.int64)
    return replace(series, rows=rows)


def find_candidates(market: MarketData, grid: Grid, strategy: Strategy) -> Candidates:
    """The entry and exit candidates of every symbol, on the minute grid.

    Args:
        market: the bars.
        grid: the grid's minutes (:meth:`fleece.minute_grid.Grid.of`).
        strategy: a strategy with a vectorised path.

    Raises:
        ValueError: ``strategy`` offers no vectorised path.
    """
    symbols = market.symbols
    parts: list[tuple[I64, I64, I64, I64, np.ndarray]] = []
    for k, symbol in enumerate(symbols):
        series = market_series(market, symbol, grid)
        found = strategy.candidates(series)
        if found is None:
            raise ValueError(f"{strategy.name} offers no vectorised path")
        up, down = found
        hit = np.flatnonzero(up | down)
        parts.append(
            (
                series.ts[hit] + MINUTE_S,
                np.full(len(hit), k, dtype=np.int64),
                series.rows[hit],
                series.close[hit],
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


class CandidateSignals(Strategy):
    """A :class:`~fleece.strategy.Strategy` that answers from precomputed candidates.

    Before each :meth:`on_minute` the runner says what the minute is with :meth:`expect`; the
    answer is then the one the wrapped strategy gives: BUY on an entry candidate when not
    holding, SELL on an exit candidate when holding, else None.

    Args:
        base: the strategy whose vectorised path found the candidates (its name and reasons).
    """

    def __init__(self, base: Strategy) -> None:
        super().__init__(base.params)
        self.base = base
        self.name = base.name  # type: ignore[misc]
        self._expected: tuple[str, datetime, bool] | None = None

    @property
    def warmup_minutes(self) -> int:
        """The wrapped strategy's."""
        return self.base.warmup_minutes

    def expect(self, symbol: str, bar_timestamp: datetime, up: bool) -> None:
        """Announce the next minute: an entry (``up``) or exit candidate."""
        self._expected = (symbol, bar_timestamp, up)

    def on_minute(self, bar: Bar, ctx: MinuteContext) -> Signal | None:
        """The signal for the announced candidate minute; None for any other (warm-up).

        Raises:
            RuntimeError: a decision on a minute that was not announced (a runner bug).
        """
        expected, self._expected = self._expected, None
        if expected is None or expected[:2] != (bar.symbol, bar.timestamp):
            raise RuntimeError(f"unannounced bar {bar.symbol} {bar.timestamp.isoformat()}")
        up = expected[2]
        if up and not ctx.holding:
            return self.signal(bar, Side.BUY, "vectorised_entry")
        if not up and ctx.holding:
            return self.signal(bar, Side.SELL, "vectorised_exit")
        return None

    def indicators(self, series: GridSeries) -> dict[str, F64]:
        """The wrapped strategy's."""
        return self.base.indicators(series)
