"""Specification of the regular-session helpers used by the feed, the exchange and backtests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from fleece.calendar import MarketCalendar
from fleece.data.session import (
    is_last_bar_of_session,
    is_regular,
    regular_session_bars,
    session_for,
)
from fleece.models import Bar

CALENDAR = MarketCalendar()


def utc(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def bar_at(ts: datetime) -> Bar:
    return Bar("SPY", ts, 1.0, 1.0, 1.0, 1.0, 1)


def test_the_first_minute_of_the_session_is_regular() -> None:
    assert is_regular(utc(2024, 3, 4, 14, 30), CALENDAR)  # 09:30 New York (EST)


def test_the_minute_before_the_open_is_not_regular() -> None:
    assert not is_regular(utc(2024, 3, 4, 14, 29), CALENDAR)


def test_the_close_itself_is_not_a_regular_bar_start() -> None:
    assert not is_regular(utc(2024, 3, 4, 21, 0), CALENDAR)  # 16:00 New York


def test_summer_time_shifts_the_session_in_utc() -> None:
    assert is_regular(utc(2024, 7, 1, 13, 30), CALENDAR)  # 09:30 New York (EDT)
    assert not is_regular(utc(2024, 7, 1, 20, 0), CALENDAR)  # 16:00 New York (EDT)


def test_weekends_and_holidays_are_not_regular() -> None:
    assert not is_regular(utc(2024, 3, 2, 15, 0), CALENDAR)  # Saturday
    assert not is_regular(utc(2024, 7, 4, 15, 0), CALENDAR)  # Independence Day


def test_an_early_close_ends_the_session_at_1300_new_york() -> None:
    assert is_regular(utc(2024, 11, 29, 17, 59), CALENDAR)
    assert not is_regular(utc(2024, 11, 29, 18, 0), CALENDAR)


def test_timestamps_with_another_offset_are_understood() -> None:
    new_york = timezone(timedelta(hours=-5))

    assert is_regular(datetime(2024, 3, 4, 9, 30, tzinfo=new_york), CALENDAR)


def test_a_naive_timestamp_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        is_regular(datetime(2024, 3, 4, 14, 30), CALENDAR)


def test_session_for_returns_the_session_in_progress() -> None:
    session = session_for(utc(2024, 3, 4, 15, 0), CALENDAR)

    assert session is not None
    assert session.open == utc(2024, 3, 4, 14, 30)


def test_the_last_bar_of_a_normal_session_starts_at_1559() -> None:
    assert is_last_bar_of_session(utc(2024, 3, 4, 20, 59), CALENDAR)
    assert not is_last_bar_of_session(utc(2024, 3, 4, 20, 58), CALENDAR)


def test_the_last_bar_of_an_early_close_starts_at_1259() -> None:
    assert is_last_bar_of_session(utc(2024, 11, 29, 17, 59), CALENDAR)
    assert not is_last_bar_of_session(utc(2024, 11, 29, 20, 59), CALENDAR)


def test_regular_session_bars_drops_extended_hours_and_closed_days_in_order() -> None:
    stamps = [
        utc(2024, 3, 4, 13, 0),  # pre-market
        utc(2024, 3, 4, 14, 30),
        utc(2024, 3, 4, 20, 59),
        utc(2024, 3, 4, 21, 0),  # after hours
        utc(2024, 7, 4, 15, 0),  # holiday
        utc(2024, 11, 29, 17, 59),
        utc(2024, 11, 29, 18, 30),  # after the early close
    ]

    kept = regular_session_bars([bar_at(ts) for ts in stamps], CALENDAR)

    assert [b.timestamp for b in kept] == [stamps[1], stamps[2], stamps[5]]
