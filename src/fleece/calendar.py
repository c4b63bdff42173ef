"""The NYSE calendar, from exchange-calendars (never hand-written holiday lists).

All answers are UTC-aware. America/New_York appears only in :data:`NEW_YORK` for display and
for the "HH:MM" strings Alpaca's calendar endpoint serves. The sessions exchange-calendars
computes are kept as a table cached between processes (:mod:`fleece.calendar_table`), so that a
command does not import it (and pandas) just to know when sessions open and close. A day before
the first session or after the last one raises :class:`~fleece.calendar_table.CalendarRangeError`
(a ValueError), as exchange-calendars refuses such days.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from fleece.calendar_table import CalendarRangeError, session_open_close, session_table

__all__ = ["NEW_YORK", "ONE_MINUTE", "CalendarRangeError", "MarketCalendar", "Session"]

NEW_YORK = ZoneInfo("America/New_York")
ONE_MINUTE = timedelta(minutes=1)


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

    @property
    def last_bar_start(self) -> datetime:
        """Start of the session's last regular bar (15:59 ET, or 12:59 ET on early closes)."""
        return self.close - ONE_MINUTE


@lru_cache(maxsize=8192)
def _session(i: int) -> Session:
    table = session_table()
    opened, closed = session_open_close(table, i)
    return Session(day=table.days[i], open=opened, close=closed)


class MarketCalendar:
    """Answers "is the market open" and "when does the session start" for NYSE."""

    def first_day(self) -> date:
        """The first session the calendar knows (it refuses questions about earlier days)."""
        return session_table().days[0]

    def last_day(self) -> date:
        """The last session the calendar knows: about a year after today (exchange-calendars'
        default end), since later holidays are not decided yet."""
        return session_table().days[-1]

    def span(self) -> tuple[datetime, datetime]:
        """``[first, end)``: New York midnight before the first session, and after the last.

        Bars, sessions and simulated days outside it cannot be placed on the calendar.
        """
        days = session_table().days
        first, last = days[0], days[-1]
        start = datetime.combine(first, time(0), tzinfo=NEW_YORK).astimezone(UTC)
        end = datetime.combine(last + timedelta(days=1), time(0), tzinfo=NEW_YORK)
        return start, end.astimezone(UTC)

    def is_session(self, day: date) -> bool:
        """True when ``day`` is an NYSE trading day."""
        return session_table().index(day) is not None

    def session(self, day: date) -> Session | None:
        """The session of ``day``, or None on weekends and holidays."""
        i = session_table().index(day)
        return None if i is None else _session(i)

    def sessions(self, start: date, end: date) -> list[Session]:
        """Every session from ``start`` to ``end`` inclusive."""
        return [_session(i) for i in session_table().between(start, end)]

    def sessions_from(self, start: date, count: int) -> list[Session]:
        """``count`` sessions starting at ``start`` (or the first session after it)."""
        return [_session(i) for i in session_table().window(start, count)]

    def session_at(self, ts: datetime) -> Session | None:
        """The session whose regular hours contain ``ts``, or None when the market is closed."""
        day = ts.astimezone(NEW_YORK).date()
        sess = self.session(day)
        if sess is not None and sess.contains(ts):
            return sess
        return None

    def is_open(self, ts: datetime) -> bool:
        """True when the regular session is open at ``ts``."""
        return self.session_at(ts) is not None

    def next_session(self, ts: datetime) -> Session:
        """The session in progress at ``ts``, or else the next one to open."""
        day = ts.astimezone(NEW_YORK).date()
        for _ in range(15):  # no NYSE closure lasts longer than this
            sess = self.session(day)
            if sess is not None and ts < sess.close:
                return sess
            day += timedelta(days=1)
        raise LookupError(f"no session within 15 days of {ts.isoformat()}")

    def next_open(self, ts: datetime) -> datetime:
        """The next session open strictly after ``ts``."""
        sess = self.next_session(ts)
        if sess.open > ts:
            return sess.open
        return self.next_session(sess.close).open

    def next_close(self, ts: datetime) -> datetime:
        """The close of the session in progress, or of the next one."""
        return self.next_session(ts).close
