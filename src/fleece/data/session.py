"""Regular-session questions about bar timestamps, asked of the one session calendar.

The live feed, the built-in exchange and the backtest ask "is this bar in the regular session"
for every bar: :class:`~fleece.calendar.MarketCalendar` answers by bisection over its table and
remembers the session it found last, so a run of bars of one session costs two comparisons each.
These functions add only the refusal of naive timestamps.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from fleece.calendar import MarketCalendar, Session
from fleece.models import Bar, require_utc


def session_for(ts: datetime, calendar: MarketCalendar) -> Session | None:
    """The session whose regular hours contain ``ts``, or None.

    Raises:
        ValueError: if ``ts`` is naive.
    """
    require_utc(ts)
    return calendar.session_at(ts)


def is_regular(bar_ts: datetime, calendar: MarketCalendar) -> bool:
    """True when a bar starting at ``bar_ts`` lies in ``[open, close)`` of an NYSE session.

    Early closes are honoured: on 2024-11-29 the 13:00 New York bar is not regular.
    """
    return session_for(bar_ts, calendar) is not None


def is_last_bar_of_session(ts: datetime, calendar: MarketCalendar) -> bool:
    """True when ``ts`` is the start of its session's last regular bar (15:59 or 12:59 ET)."""
    require_utc(ts)
    return calendar.is_last_bar(ts)


def regular_session_bars(bars: Iterable[Bar], calendar: MarketCalendar) -> list[Bar]:
    """Keep, in order, the bars whose start lies in the regular session of an NYSE day.

    Extended-hours bars, weekend or holiday bars and those after an early close are dropped.
    """
    return [bar for bar in bars if session_for(bar.timestamp, calendar) is not None]
