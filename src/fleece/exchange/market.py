"""The simulated market's bars: indexed per symbol so every question is a bisect, never a scan.

A bar is *closed* at ``now`` when ``bar.timestamp + 1 min <= now``; nothing here ever hands out a
bar that has not closed unless the caller asks for fill candidates (the matching engine needs the
next bar's open at the instant that bar starts, which is the same instant a real order would fill).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from fleece.calendar import ONE_MINUTE, MarketCalendar
from fleece.data.session import session_for
from fleece.errors import DataError
from fleece.models import Bar


@dataclass(frozen=True, slots=True)
class _Series:
    """One symbol's bars with parallel indexes (all bars, and regular-session bars only)."""

    bars: tuple[Bar, ...]
    starts: tuple[datetime, ...]
    regular: tuple[Bar, ...]
    regular_starts: tuple[datetime, ...]


def _index(symbol: str, bars: Sequence[Bar], calendar: MarketCalendar) -> _Series:
    previous: datetime | None = None
    for bar in bars:
        if bar.symbol != symbol:
            raise DataError(f"bar for {bar.symbol} filed under {symbol}")
        if bar.timestamp.tzinfo is None:
            raise DataError(f"{symbol}: naive bar timestamp {bar.timestamp.isoformat()}")
        if previous is not None and bar.timestamp <= previous:
            raise DataError(
                f"{symbol}: bars not strictly increasing at {bar.timestamp.isoformat()}"
            )
        previous = bar.timestamp
    regular = tuple(b for b in bars if session_for(b.timestamp, calendar) is not None)
    return _Series(
        bars=tuple(bars),
        starts=tuple(b.timestamp for b in bars),
        regular=regular,
        regular_starts=tuple(b.timestamp for b in regular),
    )


class BarStore:
    """Immutable per-symbol 1-minute bars with O(log n) lookups.

    Args:
        bars: bars per symbol, each sequence sorted by start time (UTC-aware).
        calendar: the market calendar that decides which bars are regular-session bars.

    Raises:
        DataError: if a series is unsorted, has duplicates, naive times or a wrong symbol.
    """

    def __init__(self, bars: Mapping[str, Sequence[Bar]], calendar: MarketCalendar) -> None:
        self._series = {sym: _index(sym, seq, calendar) for sym, seq in sorted(bars.items())}

    @property
    def symbols(self) -> tuple[str, ...]:
        """Every symbol the store knows, sorted."""
        return tuple(self._series)

    def has(self, symbol: str) -> bool:
        """True when ``symbol`` is one of the store's symbols."""
        return symbol in self._series

    def last_closed(self, symbol: str, now: datetime) -> Bar | None:
        """The latest bar of ``symbol`` (regular or not) that has closed at ``now``."""
        series = self._series.get(symbol)
        if series is None:
            return None
        i = bisect_right(series.starts, now - ONE_MINUTE)
        return series.bars[i - 1] if i else None

    def last_close(self, symbol: str, now: datetime) -> tuple[datetime, float] | None:
        """When the latest closed bar of ``symbol`` ended, and its close (what marks need)."""
        bar = self.last_closed(symbol, now)
        return (bar.timestamp + ONE_MINUTE, bar.close) if bar is not None else None

    def next_regular(self, symbol: str, at: datetime) -> Bar | None:
        """The first regular-session bar of ``symbol`` starting at or after ``at``."""
        series = self._series.get(symbol)
        if series is None:
            return None
        i = bisect_left(series.regular_starts, at)
        return series.regular[i] if i < len(series.regular) else None

    def closed_range(
        self, symbol: str, start: datetime, end: datetime, now: datetime
    ) -> Sequence[Bar]:
        """Bars of ``symbol`` with ``start <= timestamp <= end`` that have closed at ``now``.

        The look-ahead guard lives here: ``end`` is capped so that no bar whose minute has not
        finished at ``now`` can be returned, whatever the caller asked for.
        """
        series = self._series.get(symbol)
        if series is None:
            return ()
        lo = bisect_left(series.starts, start)
        hi = min(bisect_right(series.starts, end), bisect_right(series.starts, now - ONE_MINUTE))
        return series.bars[lo:hi] if lo < hi else ()
