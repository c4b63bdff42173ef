"""Specification of the one session calendar: every question about sessions and minutes.

The NYSE calendar (exchange-calendars, cached), the broker's calendar the live bot loads (a
window of days) and every name kept over them (the data checks, the dashboard's choice, the
backtest's vectorised mask) give exchange-calendars' own answers, holidays and early closes
included.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest

from fleece.backtest.data import regular_mask
from fleece.calendar import NEW_YORK, MarketCalendar, Session, day_bounds, day_start, session_date
from fleece.dashboard.sessions import is_regular_bar, market_hours, shown_session
from fleece.data.session import is_last_bar_of_session, is_regular, session_for
from fleece.models import CalendarDay

MINUTE = timedelta(minutes=1)
FRIDAY = CalendarDay(  # the day after Thanksgiving: an early close at 13:00 New York
    date(2024, 11, 29),
    datetime(2024, 11, 29, 14, 30, tzinfo=UTC),
    datetime(2024, 11, 29, 18, 0, tzinfo=UTC),
)
MONDAY = CalendarDay(
    date(2024, 12, 2),
    datetime(2024, 12, 2, 14, 30, tzinfo=UTC),
    datetime(2024, 12, 2, 21, 0, tzinfo=UTC),
)
BROKER = MarketCalendar.from_days([MONDAY, FRIDAY])


def session(day: CalendarDay) -> Session:
    return Session(day.day, day.open, day.close)


# ---- the New York day: where a session's counters and figures begin ------------------------
def test_an_instant_belongs_to_its_new_york_date_not_its_utc_one() -> None:
    new_years_eve_late = datetime(2025, 1, 1, 4, 30, tzinfo=UTC)  # 23:30 New York, 31 Dec

    assert session_date(new_years_eve_late) == date(2024, 12, 31)
    assert session_date(datetime(2025, 1, 1, 5, 0, tzinfo=UTC)) == date(2025, 1, 1)


def test_a_day_starts_at_new_york_midnight_whatever_daylight_saving_says() -> None:
    assert day_start(date(2024, 1, 15)) == datetime(2024, 1, 15, 5, tzinfo=UTC)
    assert day_start(date(2024, 7, 15)) == datetime(2024, 7, 15, 4, tzinfo=UTC)
    assert day_start(date(2024, 7, 15)).tzinfo is UTC


def test_the_days_daylight_saving_changes_last_23_and_25_hours() -> None:
    spring, autumn = day_bounds(date(2024, 3, 10)), day_bounds(date(2024, 11, 3))

    assert spring[1] - spring[0] == timedelta(hours=23)
    assert autumn[1] - autumn[0] == timedelta(hours=25)
    assert {session_date(spring[0]), session_date(spring[1] - MINUTE)} == {date(2024, 3, 10)}


# ---- the broker's calendar: a window of the days it stated ---------------------------------
def test_an_early_close_ends_the_session_at_13_00_new_york() -> None:
    assert BROKER.is_open(datetime(2024, 11, 29, 17, 59, tzinfo=UTC))
    assert not BROKER.is_open(datetime(2024, 11, 29, 18, 0, tzinfo=UTC))


def test_the_last_bar_of_an_early_close_starts_at_12_59_new_york() -> None:
    assert BROKER.is_last_bar(datetime(2024, 11, 29, 17, 59, tzinfo=UTC))
    assert not BROKER.is_last_bar(datetime(2024, 11, 29, 17, 58, tzinfo=UTC))


def test_extended_hours_and_weekend_bars_are_not_regular() -> None:
    assert not BROKER.is_regular_bar(datetime(2024, 12, 2, 14, 29, tzinfo=UTC))
    assert BROKER.is_regular_bar(datetime(2024, 12, 2, 14, 30, tzinfo=UTC))
    assert not BROKER.is_regular_bar(datetime(2024, 11, 30, 15, 0, tzinfo=UTC))


def test_after_a_close_the_next_session_is_the_following_trading_day() -> None:
    after_close = datetime(2024, 11, 29, 19, 0, tzinfo=UTC)

    assert BROKER.current_or_next(after_close) == session(MONDAY)
    assert BROKER.previous(after_close) == session(FRIDAY)
    assert BROKER.latest(after_close) == session(FRIDAY)


def test_outside_its_window_the_brokers_calendar_knows_no_session_and_asks_to_be_reloaded() -> None:
    later = datetime(2024, 12, 9, 15, 0, tzinfo=UTC)

    assert not BROKER.is_open(later) and BROKER.current_or_next(later) is None
    assert not BROKER.covers(later) and BROKER.covers(datetime(2024, 11, 29, 15, tzinfo=UTC))
    assert not MarketCalendar.from_days(()).is_open(later)  # the trader's before the first load


# ---- every entry point against exchange-calendars, 2024 to 2026 -----------------------------
@pytest.fixture(scope="module")
def truth() -> dict[date, tuple[datetime, datetime]]:
    import exchange_calendars as xcals

    xnys = xcals.get_calendar("XNYS", start="2023-12-01")
    schedule = xnys.schedule.loc["2023-12-01":"2027-01-31"]
    return {
        day.date(): (opened.to_pydatetime(), closed.to_pydatetime())
        for day, opened, closed in zip(
            schedule.index, schedule["open"], schedule["close"], strict=True
        )
    }


def instants(days: dict[date, tuple[datetime, datetime]]) -> Iterator[datetime]:
    """Around every open and close, and noon in New York of every day (holidays too)."""
    day = date(2024, 1, 1)
    while day <= date(2026, 12, 31):
        yield datetime(day.year, day.month, day.day, 12, tzinfo=NEW_YORK).astimezone(UTC)
        if day in days:
            opened, closed = days[day]
            yield from (opened - MINUTE, opened, closed - 2 * MINUTE, closed - MINUTE, closed)
        day += timedelta(days=1)


def test_every_entry_point_answers_as_exchange_calendars_across_2024_to_2026(
    truth: dict[date, tuple[datetime, datetime]],
) -> None:
    nyse = MarketCalendar()
    broker = MarketCalendar.from_days(CalendarDay(d, o, c) for d, (o, c) in truth.items())
    ordered = sorted(truth.values())
    opens, closes = [o for o, _ in ordered], [c for _, c in ordered]
    stamps = list(instants(truth))

    mask = regular_mask(np.array([int(t.timestamp()) for t in stamps], np.int64), nyse)
    for ts, masked in zip(stamps, mask.tolist(), strict=True):
        upcoming = ordered[bisect_right(closes, ts)]  # in progress, or the next to open
        current = upcoming if upcoming[0] <= ts else None
        following = opens[bisect_right(opens, ts)]
        latest = ordered[bisect_right(opens, ts) - 1]
        last_bar = current is not None and ts + MINUTE == current[1]
        for calendar in (nyse, broker):
            found = calendar.session_at(ts)
            assert (found.open, found.close) == current if found else current is None, ts
            assert calendar.is_open(ts) is calendar.is_regular_bar(ts) is (current is not None)
            assert calendar.is_last_bar(ts) is last_bar
            upcoming_session = calendar.next_session(ts)
            assert (upcoming_session.open, upcoming_session.close) == upcoming
            assert (calendar.next_open(ts), calendar.next_close(ts)) == (following, upcoming[1])
            shown = calendar.latest(ts)
            assert shown is not None and (shown.open, shown.close) == latest
        assert (session_for(ts, nyse) is not None) is is_regular(ts, nyse) is masked
        assert masked is (current is not None)
        assert is_last_bar_of_session(ts, nyse) is last_bar
        assert is_regular_bar(broker, nyse, ts) is is_regular_bar(None, nyse, ts) is masked
        assert shown_session(broker, nyse, ts) == shown_session(None, nyse, ts) == nyse.latest(ts)
        hours = (current is not None, following, upcoming[1])
        assert market_hours(broker, nyse, ts) == market_hours(None, nyse, ts) == hours


def test_the_range_holds_the_holidays_and_early_closes_it_claims_to_check(
    truth: dict[date, tuple[datetime, datetime]],
) -> None:
    early = {d for d, (o, c) in truth.items() if c - o < timedelta(hours=6, minutes=30)}

    assert {date(2024, 11, 29), date(2025, 7, 3), date(2026, 12, 24)} <= early
    assert not {date(2024, 7, 4), date(2025, 1, 9), date(2026, 4, 3)} & set(truth)
    assert not MarketCalendar().is_open(datetime(2025, 1, 9, 16, tzinfo=UTC))  # a day of mourning
