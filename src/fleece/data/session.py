"""Regular-session questions about bar timestamps, cheap enough to ask for every bar.

The live feed, the built-in exchange and the backtest all ask "is this bar in the regular
session" millions of times, so the session of each day is looked up once and cached.

Why the UTC date is enough: NYSE regular hours (09:30-16:00 New York, UTC-4 or UTC-5) always
fall between 13:30 and 21:00 UTC, so a regular-session instant has the same calendar date in
UTC as in New York. That spares a time-zone conversion per bar.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime
from functools import lru_cache

from fleece.calendar import ONE_MINUTE, MarketCalendar, Session
from fleece.models import Bar, require_utc


@lru_cache(maxsize=16_384)
def _session_of(calendar: MarketCalendar, day: date) -> Session | None:
    # Keyed by calendar too: a calendar with other hours (a test double) gets its own entries.
    return calendar.session(day)


def session_for(ts: datetime, calendar: MarketCalendar) -> Session | None:
    """The session whose regular hours contain ``ts``, or None (cached per day).

    Raises:
        ValueError: if ``ts`` is naive.
    """
    require_utc(ts)
    utc = ts if ts.tzinfo is UTC else ts.astimezone(UTC)
    session = _session_of(calendar, utc.date())
    if session is not None and session.open <= utc < session.close:
        return session
    return None


def is_regular(bar_ts: datetime, calendar: MarketCalendar) -> bool:
    """True when a bar starting at ``bar_ts`` lies in ``[open, close)`` of an NYSE session.

    Early closes are honoured: on 2024-11-29 the 13:00 New York bar is not regular.
    """
    return session_for(bar_ts, calendar) is not None


def is_last_bar_of_session(ts: datetime, calendar: MarketCalendar) -> bool:
    """True when ``ts`` is the start of its session's last regular bar (15:59 or 12:59 ET)."""
    session = session_for(ts, calendar)
    return session is not None and ts + ONE_MINUTE == session.close


def regular_session_bars(bars: Iterable[Bar], calendar: MarketCalendar) -> list[Bar]:
    """Keep, in order, the bars whose start lies in the regular session of an NYSE day.

    Extended-hours bars, weekend or holiday bars and those after an early close are dropped.
    """
    return [bar for bar in bars if session_for(bar.timestamp, calendar) is not None]
