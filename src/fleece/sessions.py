"""Trading sessions as the broker's calendar states them (holidays and early closes included).

Live, the broker's calendar is the truth; against the built-in exchange it is exchange-calendars'
NYSE calendar served over the same endpoint. Lookups are by New York date, answers UTC-aware.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from fleece.calendar import NEW_YORK
from fleece.models import CalendarDay

ONE_MINUTE = timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class SessionBook:
    """An immutable table of sessions keyed by their New York date."""

    days: dict[date, CalendarDay]

    @classmethod
    def from_days(cls, days: Iterable[CalendarDay]) -> SessionBook:
        """Build from the broker's calendar answer."""
        return cls({d.day: d for d in days})

    def covers(self, ts: datetime) -> bool:
        """True when ``ts``'s date lies inside the loaded range (else refresh the calendar)."""
        if not self.days:
            return False
        day = ts.astimezone(NEW_YORK).date()
        return min(self.days) <= day <= max(self.days) - timedelta(days=1)

    def session_at(self, ts: datetime) -> CalendarDay | None:
        """The session whose regular hours contain ``ts``, or None."""
        day = self.days.get(ts.astimezone(NEW_YORK).date())
        if day is not None and day.open <= ts < day.close:
            return day
        return None

    def is_open(self, ts: datetime) -> bool:
        """True while a regular session is in progress at ``ts``."""
        return self.session_at(ts) is not None

    def is_regular_bar(self, bar_start: datetime) -> bool:
        """True for a bar starting in the regular session (09:30-15:59 ET, or to an early close)."""
        return self.session_at(bar_start) is not None

    def is_last_bar(self, bar_start: datetime) -> bool:
        """True for the session's last regular bar (no later bar to fill an order at)."""
        day = self.session_at(bar_start)
        return day is not None and bar_start + ONE_MINUTE >= day.close

    def current_or_next(self, ts: datetime) -> CalendarDay | None:
        """The session in progress at ``ts`` or the next one in the loaded range."""
        for day in sorted(self.days):
            session = self.days[day]
            if ts < session.close:
                return session
        return None

    def previous(self, ts: datetime) -> CalendarDay | None:
        """The last session that closed at or before ``ts``."""
        best: CalendarDay | None = None
        for day in sorted(self.days):
            session = self.days[day]
            if session.close <= ts:
                best = session
        return best
