"""Which session the dashboard shows and whether the market is open, by the bot's calendar.

A running bot knows its broker's calendar (a window of sessions, holidays and early closes
included); it is the truth while it covers the day asked about. Otherwise (a stopped bot's
store, days outside the loaded window) the NYSE calendar answers. Both are the one session
calendar (:class:`~fleece.calendar.MarketCalendar`); this module only picks which one.
"""

from __future__ import annotations

from datetime import datetime

from fleece.calendar import MarketCalendar, Session, session_date

SessionWindow = Session  # the session a page shows: its New York date, UTC open and close


def _knows(book: MarketCalendar | None, ts: datetime) -> bool:
    if book is None or not book.table.days:
        return False
    return book.first_day() <= session_date(ts) <= book.last_day()


def is_regular_bar(book: MarketCalendar | None, calendar: MarketCalendar, start: datetime) -> bool:
    """True for a bar starting in a regular session (the bars the strategy is fed)."""
    return (book if book is not None and _knows(book, start) else calendar).is_regular_bar(start)


def shown_session(
    book: MarketCalendar | None, calendar: MarketCalendar, ts: datetime
) -> Session | None:
    """The session in progress at ``ts``, else the latest one that opened before it."""
    found = book.latest(ts) if book is not None else None
    return found or calendar.latest(ts)


def market_hours(
    book: MarketCalendar | None, calendar: MarketCalendar, now: datetime
) -> tuple[bool, datetime | None, datetime | None]:
    """(open at ``now``, next open, next close)."""
    if book is not None and book.covers(now):
        current = book.current_or_next(now)
        if current is not None:
            if current.contains(now):
                after = book.current_or_next(current.close)
                return True, after.open if after else None, current.close
            return False, current.open, current.close
    return calendar.is_open(now), calendar.next_open(now), calendar.next_close(now)
