"""The NYSE calendar, from exchange-calendars (never hand-written holiday lists).

All answers are UTC-aware. America/New_York appears only in :data:`NEW_YORK` for display and
for the "HH:MM" strings Alpaca's calendar endpoint serves.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

import exchange_calendars as xcals
import pandas as pd

NEW_YORK = ZoneInfo("America/New_York")
ONE_MINUTE = timedelta(minutes=1)
# exchange-calendars needs a bounded range; 2005 covers every fixture and any realistic backtest.
_FIRST_DAY = "2005-01-01"


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


@lru_cache(maxsize=1)
def _xnys() -> Any:
    return xcals.get_calendar("XNYS", start=_FIRST_DAY)


@lru_cache(maxsize=1)
def _span_days() -> tuple[date, date]:
    cal = _xnys()
    return cal.first_session.date(), cal.last_session.date()


def _to_session(day: pd.Timestamp) -> Session:
    cal = _xnys()
    opened = cal.session_open(day).to_pydatetime().astimezone(UTC)
    closed = cal.session_close(day).to_pydatetime().astimezone(UTC)
    return Session(day=day.date(), open=opened, close=closed)


class MarketCalendar:
    """Answers "is the market open" and "when does the session start" for NYSE."""

    def first_day(self) -> date:
        """The first session the calendar knows (it refuses questions about earlier days)."""
        return _span_days()[0]

    def last_day(self) -> date:
        """The last session the calendar knows: about a year after today (exchange-calendars'
        default end), since later holidays are not decided yet."""
        return _span_days()[1]

    def span(self) -> tuple[datetime, datetime]:
        """``[first, end)``: New York midnight before the first session, and after the last.

        Bars, sessions and simulated days outside it cannot be placed on the calendar.
        """
        first, last = _span_days()
        start = datetime.combine(first, time(0), tzinfo=NEW_YORK).astimezone(UTC)
        end = datetime.combine(last + timedelta(days=1), time(0), tzinfo=NEW_YORK)
        return start, end.astimezone(UTC)

    def is_session(self, day: date) -> bool:
        """True when ``day`` is an NYSE trading day."""
        return bool(_xnys().is_session(pd.Timestamp(day)))

    def session(self, day: date) -> Session | None:
        """The session of ``day``, or None on weekends and holidays."""
        if not self.is_session(day):
            return None
        return _session_cached(day)

    def sessions(self, start: date, end: date) -> list[Session]:
        """Every session from ``start`` to ``end`` inclusive."""
        days = _xnys().sessions_in_range(pd.Timestamp(start), pd.Timestamp(end))
        return [_session_cached(d.date()) for d in days]

    def sessions_from(self, start: date, count: int) -> list[Session]:
        """``count`` sessions starting at ``start`` (or the first session after it)."""
        cal = _xnys()
        first = cal.date_to_session(pd.Timestamp(start), direction="next")
        days = cal.sessions_window(first, count)
        return [_session_cached(d.date()) for d in days]

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


@lru_cache(maxsize=4096)
def _session_cached(day: date) -> Session:
    return _to_session(pd.Timestamp(day))
