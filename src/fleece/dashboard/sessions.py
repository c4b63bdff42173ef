"""Which session the dashboard shows and whether the market is open, by the bot's calendar.

A running bot knows its broker's calendar (:class:`~fleece.sessions.SessionBook`, holidays and
early closes included); it is the truth while it covers the day asked about. Otherwise (a stopped
bot's store, days outside the loaded range) the NYSE calendar answers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from fleece.calendar import NEW_YORK, MarketCalendar
from fleece.sessions import SessionBook

MAX_CLOSED_DAYS = 15  # no NYSE closure lasts longer


@dataclass(frozen=True, slots=True)
class SessionWindow:
    """A regular session: its New York date and UTC open and close."""

    day: date
    open: datetime
    close: datetime


def day_start(day: date) -> datetime:
    """Midnight in New York of ``day``, as UTC (where a session's figures begin)."""
    return datetime.combine(day, time(0), tzinfo=NEW_YORK).astimezone(UTC)


def _book_covers(book: SessionBook | None, ts: datetime) -> bool:
    if book is None or not book.days:
        return False
    day = ts.astimezone(NEW_YORK).date()
    return min(book.days) <= day <= max(book.days)


def is_regular_bar(book: SessionBook | None, calendar: MarketCalendar, start: datetime) -> bool:
    """True for a bar starting in a regular session (the bars the strategy is fed)."""
    if _book_covers(book, start):
        assert book is not None
        return book.is_regular_bar(start)
    return calendar.session_at(start) is not None


def shown_session(
    book: SessionBook | None, calendar: MarketCalendar, ts: datetime
) -> SessionWindow | None:
    """The session in progress at ``ts``, else the latest one that opened before it."""
    if book is not None:
        found = book.session_at(ts) or book.previous(ts)
        if found is not None:
            return SessionWindow(found.day, found.open, found.close)
    day = ts.astimezone(NEW_YORK).date()
    for _ in range(MAX_CLOSED_DAYS):
        session = calendar.session(day)
        if session is not None and session.open <= ts:
            return SessionWindow(session.day, session.open, session.close)
        day -= timedelta(days=1)
    return None


def market_hours(
    book: SessionBook | None, calendar: MarketCalendar, now: datetime
) -> tuple[bool, datetime | None, datetime | None]:
    """(open at ``now``, next open, next close)."""
    if book is not None and book.covers(now):
        current = book.current_or_next(now)
        if book.is_open(now) and current is not None:
            after = book.current_or_next(current.close)
            return True, after.open if after else None, current.close
        if current is not None:
            return False, current.open, current.close
    return calendar.is_open(now), calendar.next_open(now), calendar.next_close(now)
