"""The built-in exchange's market, backed by arrays instead of Bar objects.

The backtest fills with the exchange's own :class:`~fleece.exchange.engine.Engine`, so fills are
the exchange's by construction. The engine asks its bar store three questions (``has``,
``next_regular``, ``last_closed``) and its calendar two (``sessions``, ``next_session``); the
classes here answer exactly as :class:`~fleece.exchange.market.BarStore` and
:class:`~fleece.calendar.MarketCalendar` do, from columns and a precomputed session table, so
that a year of minute bars needs neither 3 million objects nor a pandas call per order.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import numpy as np

from fleece.backtest.data import I64, MINUTE, MarketData, SymbolBars
from fleece.calendar import NEW_YORK, MarketCalendar, Session
from fleece.exchange.market import BarStore
from fleece.models import TICKS_PER_DOLLAR, Bar, CalendarDay
from fleece.sessions import SessionBook

# Margin of sessions loaded around the data, so "the next session" of the last bar is known.
_MARGIN = timedelta(days=20)


def epoch_floor(ts: datetime) -> int:
    """Whole seconds since the epoch, rounded down."""
    return math.floor(ts.timestamp())


def epoch_ceil(ts: datetime) -> int:
    """Whole seconds since the epoch, rounded up."""
    return math.ceil(ts.timestamp())


class SessionTable(MarketCalendar):
    """NYSE sessions from ``first`` to ``last`` looked up once, then answered by bisection.

    Answers are those of :class:`~fleece.calendar.MarketCalendar` (it is one); outside the
    loaded range it defers to it.

    Args:
        first: first day of the range.
        last: last day of the range.
    """

    def __init__(self, first: date, last: date) -> None:
        self.first = first
        self.last = last
        self.table: list[Session] = MarketCalendar().sessions(first, last)
        self._by_day = {s.day: s for s in self.table}
        self._days = [s.day for s in self.table]
        self._closes = [s.close for s in self.table]

    @classmethod
    def around(cls, market: MarketData) -> SessionTable:
        """A table covering ``market``'s bars with a margin on both sides."""
        span = market.span()
        if span is None:
            today = datetime(2024, 1, 2, tzinfo=UTC).date()
            return cls(today, today + _MARGIN)
        lo = datetime.fromtimestamp(span[0], UTC).date() - _MARGIN
        hi = datetime.fromtimestamp(span[1], UTC).date() + _MARGIN
        return cls(lo, hi)

    def _inside(self, day: date) -> bool:
        return self.first <= day <= self.last

    def is_session(self, day: date) -> bool:
        """True when ``day`` is an NYSE trading day."""
        if self._inside(day):
            return day in self._by_day
        return super().is_session(day)

    def session(self, day: date) -> Session | None:
        """The session of ``day``, or None on weekends and holidays."""
        if self._inside(day):
            return self._by_day.get(day)
        return super().session(day)

    def sessions(self, start: date, end: date) -> list[Session]:
        """Every session from ``start`` to ``end`` inclusive."""
        if self._inside(start) and self._inside(end):
            return self.table[bisect_left(self._days, start) : bisect_right(self._days, end)]
        return super().sessions(start, end)

    def next_session(self, ts: datetime) -> Session:
        """The session in progress at ``ts``, or else the next one to open."""
        i = bisect_right(self._closes, ts)
        if i < len(self.table) and self._inside(ts.astimezone(NEW_YORK).date()):
            return self.table[i]
        return super().next_session(ts)

    def book(self) -> UtcSessionBook:
        """The same sessions as the trader's :class:`~fleece.sessions.SessionBook`."""
        return UtcSessionBook({s.day: CalendarDay(s.day, s.open, s.close) for s in self.table})


@dataclass(frozen=True, slots=True)
class UtcSessionBook(SessionBook):
    """A :class:`~fleece.sessions.SessionBook` that finds the session without a time-zone change.

    A regular NYSE session (09:30-16:00 New York, UTC-4 or UTC-5) always lies between 13:30 and
    21:00 UTC, so an instant inside one has the same date in UTC as in New York: the session is
    looked up by the UTC date, which the trader asks for several times a decision.
    """

    def session_at(self, ts: datetime) -> CalendarDay | None:
        """The session whose regular hours contain ``ts``, or None."""
        utc = ts if ts.tzinfo is UTC else ts.astimezone(UTC)
        day = self.days.get(utc.date())
        if day is not None and day.open <= ts < day.close:
            return day
        return None


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

    @property
    def symbols(self) -> tuple[str, ...]:
        """Every symbol the store knows, sorted."""
        return tuple(sorted(self._bars))

    def has(self, symbol: str) -> bool:
        """True when ``symbol`` is one of the store's symbols."""
        return symbol in self._bars

    def last_closed(self, symbol: str, now: datetime) -> Bar | None:
        """The latest bar of ``symbol`` (regular or not) that has closed at ``now``."""
        bars = self._bars.get(symbol)
        if bars is None:
            return None
        second = epoch_floor(now)
        # The ledger values every position again for each order it checks, at the same
        # instant: remember the last answer per symbol.
        memo = self._memo.get(symbol)
        if memo is not None and memo[0] == second:
            return memo[1]
        i = int(bars.ts.searchsorted(second - MINUTE, "right"))
        found = bars.bar(i - 1) if i else None
        self._memo[symbol] = (second, found)
        return found

    def last_close(self, symbol: str, now: datetime) -> tuple[datetime, float] | None:
        """When the latest closed bar of ``symbol`` ended, and its close, without a Bar.

        The ledger values each position from these two numbers at every account read.
        """
        bars = self._bars.get(symbol)
        if bars is None:
            return None
        i = int(bars.ts.searchsorted(epoch_floor(now) - MINUTE, "right"))
        if not i:
            return None
        end = datetime.fromtimestamp(bars.ts.item(i - 1) + MINUTE, UTC)
        return end, bars.close.item(i - 1) / TICKS_PER_DOLLAR

    def next_regular(self, symbol: str, at: datetime) -> Bar | None:
        """The first regular-session bar of ``symbol`` starting at or after ``at``."""
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
        """Bars of ``symbol`` with ``start <= timestamp <= end`` that have closed at ``now``."""
        bars = self._bars.get(symbol)
        if bars is None:
            return ()
        lo = int(np.searchsorted(bars.ts, epoch_ceil(start), "left"))
        upto = min(epoch_floor(end), epoch_floor(now) - MINUTE)
        hi = int(np.searchsorted(bars.ts, upto, "right"))
        return [bars.bar(i) for i in range(lo, hi)]
