"""The session calendar: the one object that answers every question about sessions and minutes.

"Is the market open", "is this bar in the regular session", "is it the session's last bar",
"when is the next session, open or close", early closes and holidays: every part of fleece (the
trader, the live runtime, the built-in exchange, the backtest, the data checks, the dashboard)
asks a :class:`MarketCalendar`, and nothing else answers them. A calendar is a table of sessions
(:class:`~fleece.calendar_table.SessionTable`: days, opens, closes) searched by bisection:

* ``MarketCalendar()`` is the NYSE's, from exchange-calendars (never hand-written holiday lists),
  kept as a table cached between processes (:mod:`fleece.calendar_table`), so that a command
  does not import exchange-calendars (and pandas) just to know when sessions open and close. A
  day before its first session or after its last one raises
  :class:`~fleece.calendar_table.CalendarRangeError` (a ValueError), as exchange-calendars
  refuses such days.
* :meth:`MarketCalendar.from_days` is the broker's calendar as the live bot loads it (Alpaca's
  ``/v2/calendar``: the truth live, exchange-calendars' sessions on the built-in exchange): a
  window of a few weeks; outside it there is no session (:meth:`MarketCalendar.covers` says when
  to load the window again).

All answers are UTC-aware. America/New_York appears only in :data:`NEW_YORK`, for display and
for the "HH:MM" strings Alpaca's calendar endpoint serves.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from fleece.calendar_table import CalendarRangeError, SessionTable, session_table
from fleece.models import CalendarDay

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

__all__ = [
    "NEW_YORK",
    "ONE_MINUTE",
    "CalendarRangeError",
    "MarketCalendar",
    "Session",
    "day_bounds",
    "day_start",
    "session_date",
]

NEW_YORK = ZoneInfo("America/New_York")
ONE_MINUTE = timedelta(minutes=1)


def session_date(ts: datetime) -> date:
    """The New York calendar date ``ts`` falls on: the day whose session, counters and figures
    it belongs to (23:30 New York on 31 Dec is 31 Dec, though it is 1 Jan in UTC)."""
    return ts.astimezone(NEW_YORK).date()


def day_start(day: date) -> datetime:
    """Midnight in New York at the start of ``day``, as a UTC instant (04:00 or 05:00 UTC, by
    daylight saving): where a day's figures begin."""
    return datetime.combine(day, time(0), tzinfo=NEW_YORK).astimezone(UTC)


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """``[start, end)`` of New York day ``day`` as UTC instants (23 or 25 hours on the days
    daylight saving changes)."""
    return day_start(day), day_start(day + timedelta(days=1))


@dataclass(frozen=True, slots=True)
class Session:
    """One regular trading session: ``open`` and ``close`` are UTC-aware instants."""

    day: date
    open: datetime
    close: datetime

    @property
    def minutes(self) -> int:
        """Number of 1-minute bars in the regular session (390, or 210 on an early close)."""
        return int((self.close - self.open) / ONE_MINUTE)

    def bar_starts(self) -> list[datetime]:
        """Start times of every regular-session minute bar, first to last."""
        return [self.open + i * ONE_MINUTE for i in range(self.minutes)]

    def contains(self, ts: datetime) -> bool:
        """True when ``ts`` lies in ``[open, close)``."""
        return self.open <= ts < self.close


def _make(table: SessionTable, i: int) -> Session:
    opened = datetime.fromtimestamp(table.opens[i], UTC)
    return Session(table.days[i], opened, datetime.fromtimestamp(table.closes[i], UTC))


@lru_cache(maxsize=8192)
def _session(i: int) -> Session:
    return _make(session_table(), i)


def _midnight(day: date) -> float:
    return day_start(day).timestamp()


class MarketCalendar:
    """The sessions, and every answer about them (see the module's docstring).

    Args:
        table: the sessions; by default the NYSE's (exchange-calendars, cached).
        window: True for a broker's window of sessions: outside it there is no session,
            where the NYSE calendar refuses the day.
    """

    def __init__(self, table: SessionTable | None = None, *, window: bool = False) -> None:
        self._table = table
        self._window = window
        self._made: dict[int, Session] = {}
        self._last: Session | None = None  # the session found last (most questions repeat it)
        self._bounds: tuple[float, float] | None = None
        self._arrays: tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]] | None = None

    @classmethod
    def from_days(cls, days: Iterable[CalendarDay | Session]) -> MarketCalendar:
        """The calendar of a broker's sessions (its calendar answer: a window of days)."""
        ordered = sorted({d.day: d for d in days}.values(), key=lambda d: d.day)
        table = SessionTable(
            tuple(d.day for d in ordered),
            tuple(int(d.open.timestamp()) for d in ordered),
            tuple(int(d.close.timestamp()) for d in ordered),
        )
        return cls(table, window=True)

    @property
    def table(self) -> SessionTable:
        """The sessions: days ascending, opens and closes in epoch seconds."""
        return session_table() if self._table is None else self._table

    def _session(self, i: int) -> Session:
        if self._table is None:
            return _session(i)  # the NYSE's sessions, shared by every calendar of the process
        made = self._made.get(i)
        if made is None:
            made = self._made[i] = _make(self._table, i)
        return made

    def _inside(self, t: float, ts: datetime) -> bool:
        """True when the instant ``t`` (of ``ts``) lies on a day the table covers; outside,
        False for a window and :class:`CalendarRangeError` for the NYSE calendar."""
        if self._bounds is None:
            days = self.table.days
            if not days:
                return False
            self._bounds = (_midnight(days[0]), _midnight(days[-1] + timedelta(days=1)))
        lo, hi = self._bounds
        if lo <= t < hi:
            return True
        if not self._window:
            self.table.check(session_date(ts), "date")
        return False

    # ---- days -----------------------------------------------------------------------------
    def first_day(self) -> date:
        """The first session the calendar knows (it refuses questions about earlier days)."""
        return self.table.days[0]

    def last_day(self) -> date:
        """The last session the calendar knows: for the NYSE, about a year after today
        (exchange-calendars' default end), since later holidays are not decided yet."""
        return self.table.days[-1]

    def span(self) -> tuple[datetime, datetime]:
        """``[first, end)``: New York midnight before the first session, and after the last.

        Bars, sessions and simulated days outside it cannot be placed on the calendar.
        """
        days = self.table.days
        return day_start(days[0]), day_start(days[-1] + timedelta(days=1))

    def _index(self, day: date) -> int | None:
        table = self.table
        if self._window:
            i = bisect_left(table.days, day)
            return i if i < len(table.days) and table.days[i] == day else None
        return table.index(day)

    def is_session(self, day: date) -> bool:
        """True when ``day`` is a trading day."""
        return self._index(day) is not None

    def session(self, day: date) -> Session | None:
        """The session of ``day``, or None on weekends and holidays."""
        i = self._index(day)
        return None if i is None else self._session(i)

    def sessions(self, start: date, end: date) -> list[Session]:
        """Every session from ``start`` to ``end`` inclusive."""
        table = self.table
        if self._window:
            found = range(bisect_left(table.days, start), bisect_right(table.days, end))
        else:
            found = table.between(start, end)
        return [self._session(i) for i in found]

    def sessions_from(self, start: date, count: int) -> list[Session]:
        """``count`` sessions starting at ``start`` (or the first session after it)."""
        return [self._session(i) for i in self.table.window(start, count)]

    @property
    def days(self) -> dict[date, Session]:
        """Every session by its New York date (for a broker's window: a few weeks of them)."""
        return {d: self._session(i) for i, d in enumerate(self.table.days)}

    def covers(self, ts: datetime) -> bool:
        """True when ``ts``'s New York date and the next one lie inside the table (a broker's
        window is loaded again before it runs out)."""
        days = self.table.days
        if not days:
            return False
        day = session_date(ts)
        return days[0] <= day <= days[-1] - timedelta(days=1)

    # ---- instants -------------------------------------------------------------------------
    def session_at(self, ts: datetime) -> Session | None:
        """The session whose regular hours ``[open, close)`` contain ``ts``, or None."""
        last = self._last
        if last is not None and last.open <= ts < last.close:
            return last
        t = ts.timestamp()
        if not self._inside(t, ts):
            return None
        table = self.table
        i = bisect_right(table.closes, t)
        if i < len(table.closes) and table.opens[i] <= t:
            self._last = self._session(i)
            return self._last
        return None

    def is_open(self, ts: datetime) -> bool:
        """True when a regular session is in progress at ``ts``."""
        return self.session_at(ts) is not None

    def is_regular_bar(self, bar_start: datetime) -> bool:
        """True for a bar starting in a regular session (09:30-15:59 ET, or to an early close)."""
        return self.session_at(bar_start) is not None

    def is_last_bar(self, bar_start: datetime) -> bool:
        """True for the session's last regular bar (no later bar to fill an order at)."""
        session = self.session_at(bar_start)
        return session is not None and bar_start + ONE_MINUTE >= session.close

    def current_or_next(self, ts: datetime) -> Session | None:
        """The session in progress at ``ts``, or else the next one; None past the table."""
        last = self._last  # session_at's last answer: the engine asks at every order
        if last is not None and last.open <= ts < last.close:
            return last
        closes = self.table.closes
        if not closes:
            return None
        t = ts.timestamp()
        if not self._window:
            self._inside(t, ts)  # the NYSE calendar refuses a day it cannot place
        i = bisect_right(closes, t)
        return self._session(i) if i < len(closes) else None

    def next_session(self, ts: datetime) -> Session:
        """The session in progress at ``ts``, or else the next one to open.

        Raises:
            CalendarRangeError: ``ts`` lies outside the NYSE calendar, or after its last session.
            LookupError: a window knows no session from ``ts`` on.
        """
        found = self.current_or_next(ts)
        if found is None:
            if not self._window:
                self.table.check(self.table.days[-1] + timedelta(days=1), "date")
            raise LookupError(f"no session known from {ts.isoformat()} on")
        return found

    def next_open(self, ts: datetime) -> datetime:
        """The next session open strictly after ``ts``."""
        session = self.next_session(ts)
        if session.open > ts:
            return session.open
        return self.next_session(session.close).open

    def next_close(self, ts: datetime) -> datetime:
        """The close of the session in progress, or of the next one."""
        return self.next_session(ts).close

    def previous(self, ts: datetime) -> Session | None:
        """The last session that closed at or before ``ts``, or None."""
        i = bisect_right(self.table.closes, ts.timestamp()) - 1
        return self._session(i) if i >= 0 else None

    def latest(self, ts: datetime) -> Session | None:
        """The session in progress at ``ts``, else the last one that closed before it."""
        return self.session_at(ts) or self.previous(ts)

    def regular_mask(self, ts: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
        """For each bar start (epoch seconds, ascending): True inside a regular session.

        Raises:
            CalendarRangeError: a bar lies on a day the NYSE calendar cannot place.
        """
        import numpy as np  # here: a command that only asks about days needs no numpy

        if len(ts) == 0 or not self.table.days:
            return np.zeros(len(ts), dtype=np.bool_)
        if not self._window:
            for t in (int(ts[0]), int(ts[-1])):
                self._inside(t, datetime.fromtimestamp(t, UTC))
        if self._arrays is None:
            self._arrays = (
                np.asarray(self.table.opens, dtype=np.int64),
                np.asarray(self.table.closes, dtype=np.int64),
            )
        opens, closes = self._arrays
        i = np.searchsorted(opens, ts, "right") - 1
        return (i >= 0) & (ts < closes[np.maximum(i, 0)])
