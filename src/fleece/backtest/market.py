"""The built-in exchange's market, backed by arrays instead of Bar objects.

The backtest fills with the exchange's own :class:`~fleece.exchange.engine.Engine`, so fills are
the exchange's by construction. The engine asks its bar store three questions (``has``,
``next_regular``, ``last_closed``), and its calendar (the one
:class:`~fleece.calendar.MarketCalendar`) the others; the store here answers exactly as
:class:`~fleece.exchange.market.BarStore` does, from columns, so that a year of minute bars
needs no 3 million objects.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

import numpy as np

from fleece.backtest.data import I64, MarketData, SymbolBars
from fleece.exchange.market import BarStore
from fleece.minute_grid import MINUTE_S
from fleece.models import TICKS_PER_DOLLAR, Bar


def epoch_floor(ts: datetime) -> int:
    """Whole seconds since the epoch, rounded down."""
    return math.floor(ts.timestamp())


def epoch_ceil(ts: datetime) -> int:
    """Whole seconds since the epoch, rounded up."""
    return math.ceil(ts.timestamp())


class ArrayBarStore(BarStore):
    """A :class:`~fleece.exchange.market.BarStore` over :class:`SymbolBars` columns.

    It deliberately does not call ``BarStore.__init__``, which would index Bar objects: every
    query the engine and the ledger make is answered here by binary search over int64 seconds,
    and a :class:`~fleece.models.Bar` is built only for the bar returned.

    Args:
        market: the bars.
    """

    def __init__(self, market: MarketData) -> None:
        self._bars: Mapping[str, SymbolBars] = market.bars
        self._memo: dict[str, tuple[int, Bar | None]] = {}
        # Index and start of every regular bar, for symbols that also have extended-hours bars
        # (synthetic data has none, and needs no second index).
        self._regular: dict[str, tuple[I64, I64]] = {}
        for symbol, bars in market.bars.items():
            if not bars.regular.all():
                index = np.flatnonzero(bars.regular).astype(np.int64)
                self._regular[symbol] = (index, bars.ts[index])

    # The answers below are BarStore's (its docstrings state them); only the storage differs.
    @property
    def symbols(self) -> tuple[str, ...]:
        return tuple(sorted(self._bars))

    def has(self, symbol: str) -> bool:
        return symbol in self._bars

    def last_closed(self, symbol: str, now: datetime) -> Bar | None:
        bars = self._bars.get(symbol)
        if bars is None:
            return None
        second = epoch_floor(now)
        # The ledger values every position again for each order it checks, at the same
        # instant: remember the last answer per symbol.
        memo = self._memo.get(symbol)
        if memo is not None and memo[0] == second:
            return memo[1]
        i = int(bars.ts.searchsorted(second - MINUTE_S, "right"))  # inline: the ledger's hot path
        found = bars.bar(i - 1) if i else None
        self._memo[symbol] = (second, found)
        return found

    def last_close(self, symbol: str, now: datetime) -> tuple[datetime, float] | None:
        # The ledger values each position from these two numbers at every account read:
        # read them from the columns, without building a Bar.
        bars = self._bars.get(symbol)
        if bars is None:
            return None
        i = int(bars.ts.searchsorted(epoch_floor(now) - MINUTE_S, "right"))  # as _closed_by, inline
        if not i:
            return None
        end = datetime.fromtimestamp(bars.ts.item(i - 1) + MINUTE_S, UTC)
        return end, bars.close.item(i - 1) / TICKS_PER_DOLLAR

    def next_regular(self, symbol: str, at: datetime) -> Bar | None:
        bars = self._bars.get(symbol)
        if bars is None:
            return None
        target = epoch_ceil(at)
        regular = self._regular.get(symbol)
        if regular is None:
            i = int(np.searchsorted(bars.ts, target, "left"))
            return bars.bar(i) if i < len(bars.ts) else None
        index, starts = regular
        j = int(np.searchsorted(starts, target, "left"))
        return bars.bar(int(index[j])) if j < len(index) else None

    def closed_range(
        self, symbol: str, start: datetime, end: datetime, now: datetime
    ) -> Sequence[Bar]:
        bars = self._bars.get(symbol)
        if bars is None:
            return ()
        lo = int(np.searchsorted(bars.ts, epoch_ceil(start), "left"))
        hi = min(_closed_by(bars, epoch_floor(end) + MINUTE_S), _closed_by(bars, epoch_floor(now)))
        return [bars.bar(i) for i in range(lo, hi)]


def _closed_by(bars: SymbolBars, second: int) -> int:
    """How many of ``bars`` have closed at epoch ``second`` (a bar closes a minute after it
    starts): the index just past the latest closed one."""
    return int(bars.ts.searchsorted(second - MINUTE_S, "right"))
