"""Sessions from the broker's calendar: open/closed, regular bars, the last bar of a session."""

from datetime import UTC, date, datetime

from fleece.broker import CalendarDay
from fleece.sessions import SessionBook

FRIDAY = CalendarDay(
    date(2024, 11, 29),
    datetime(2024, 11, 29, 14, 30, tzinfo=UTC),
    datetime(2024, 11, 29, 18, 0, tzinfo=UTC),
)
MONDAY = CalendarDay(
    date(2024, 12, 2),
    datetime(2024, 12, 2, 14, 30, tzinfo=UTC),
    datetime(2024, 12, 2, 21, 0, tzinfo=UTC),
)
BOOK = SessionBook.from_days([FRIDAY, MONDAY])


def test_early_close_ends_the_session_at_13_00_et() -> None:
    assert BOOK.is_open(datetime(2024, 11, 29, 17, 59, tzinfo=UTC))
    assert not BOOK.is_open(datetime(2024, 11, 29, 18, 0, tzinfo=UTC))


def test_the_last_bar_of_an_early_close_is_12_59_et() -> None:
    assert BOOK.is_last_bar(datetime(2024, 11, 29, 17, 59, tzinfo=UTC))
    assert not BOOK.is_last_bar(datetime(2024, 11, 29, 17, 58, tzinfo=UTC))


def test_extended_hours_bars_are_not_regular() -> None:
    assert not BOOK.is_regular_bar(datetime(2024, 12, 2, 14, 29, tzinfo=UTC))
    assert BOOK.is_regular_bar(datetime(2024, 12, 2, 14, 30, tzinfo=UTC))
    assert not BOOK.is_regular_bar(datetime(2024, 11, 30, 15, 0, tzinfo=UTC))


def test_next_session_after_a_close_is_the_following_trading_day() -> None:
    after_close = datetime(2024, 11, 29, 19, 0, tzinfo=UTC)
    assert BOOK.current_or_next(after_close) == MONDAY
    assert BOOK.previous(after_close) == FRIDAY
