"""How far back the live bot's warm-up reaches (fleece.runtime_times): far enough for the
strategy's own warm-up, or for ``data.warmup_bars`` when that asks for more, never fewer than
the two sessions before today's. The replay of a day starts its history at the same place."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from fleece.calendar import MarketCalendar, Session
from fleece.runtime_times import CALENDAR_DAYS_BACK, backfill_start, warmup_minutes

# Wednesday 2024-03-13, an hour into the session (New York opens 13:30 UTC in March).
NOW = datetime.fromisoformat("2024-03-13T14:30:00+00:00")


def _window(now: datetime) -> MarketCalendar:
    """The calendar the bot reads from its broker."""
    full = MarketCalendar()
    return MarketCalendar.from_days(full.sessions((now - CALENDAR_DAYS_BACK).date(), now.date()))


def _sessions_back(start: datetime, now: datetime) -> list[Session]:
    """The sessions the warm-up covers, ``start``'s first."""
    return [s for s in _window(now).days.values() if start <= s.open <= now]


def _minutes_covered(start: datetime, now: datetime) -> int:
    return sum(
        int((min(s.close, now) - s.open).total_seconds() // 60) for s in _sessions_back(start, now)
    )


def test_a_short_warm_up_still_loads_the_two_previous_sessions_and_today() -> None:
    start = backfill_start(_window(NOW), NOW, 20)

    assert [s.day for s in _sessions_back(start, NOW)] == [
        date(2024, 3, 11),
        date(2024, 3, 12),
        date(2024, 3, 13),
    ]


def test_a_window_longer_than_three_sessions_is_loaded_whole() -> None:
    # A slow window of 1,500 minutes: the old fixed span (two sessions and an hour, 840
    # minutes) left the strategy unable to signal for most of two sessions after a start.
    start = backfill_start(_window(NOW), NOW, 1500)

    assert _minutes_covered(start, NOW) >= 1500
    assert _sessions_back(start, NOW)[0].day == date(2024, 3, 7)


def test_data_warmup_bars_asks_for_more_than_the_strategy_needs() -> None:
    assert warmup_minutes(50, 1950) == 1950
    assert warmup_minutes(800, 200) == 800
    assert warmup_minutes(800, None) == 800


def test_the_longest_configurable_warm_up_fits_in_the_calendar_the_bot_reads() -> None:
    # Christmas and New Year's both fall in the two weeks before 2025-01-03.
    now = datetime.fromisoformat("2025-01-03T14:31:00+00:00")

    start = backfill_start(_window(now), now, 1950)

    assert _minutes_covered(start, now) >= 1950
    assert start > now - CALENDAR_DAYS_BACK + timedelta(days=1)
