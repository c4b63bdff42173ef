"""When the live bot polls, where its warm-up starts and when a bounded run stops.

Pure functions of the broker's market calendar and the bot's clock.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fleece.calendar import ONE_MINUTE, MarketCalendar
from fleece.config import DataConfig

#: How far back the bot reads the broker's calendar: the longest warm-up (``data.warmup_bars``
#: at most five sessions, then today's) and any holidays between fit in two weeks.
CALENDAR_DAYS_BACK = timedelta(days=14)
#: The warm-up never reaches back fewer than this many sessions before today's (the backfill
#: is one request however far it reaches, and late-starting bots keep their former history).
MIN_BACKFILL_SESSIONS = 2


def warmup_minutes(strategy_minutes: int, warmup_bars: int | None) -> int:
    """Grid minutes the live warm-up feeds the strategy: its own ``warmup_minutes``, or
    ``data.warmup_bars`` when that asks for more (the key's documented meaning)."""
    return max(strategy_minutes, warmup_bars or 0)


def backfill_start(sessions: MarketCalendar, now: datetime, minutes: int = 0) -> datetime:
    """Where the warm-up backfill starts: the open of the latest session from which the regular
    minutes up to ``now`` number at least ``minutes`` (see :func:`warmup_minutes`), and never
    later than :data:`MIN_BACKFILL_SESSIONS` sessions before today's. The calendar's earliest
    session when it does not reach that far."""
    begun = sorted((d for d in sessions.days.values() if d.open <= now), key=lambda d: d.open)
    if not begun:
        return now - timedelta(days=3)
    covered = 0
    for back, day in enumerate(reversed(begun)):
        covered += int((min(day.close, now) - day.open) / ONE_MINUTE)
        if covered >= minutes and back >= MIN_BACKFILL_SESSIONS:
            return day.open
    return begun[0].open


def stop_time(sessions: MarketCalendar, now: datetime, count: int) -> datetime:
    """After ``count`` full sessions: 30 minutes into the next one, so that shutdown can still
    close positions at market (after the close they would wait overnight)."""
    ahead = sorted((d for d in sessions.days.values() if d.close > now), key=lambda d: d.open)
    if len(ahead) > count:
        return ahead[count].open + timedelta(minutes=30)
    return ahead[-1].close if ahead else now


def sim_data_end(sessions: MarketCalendar, bars: Any) -> datetime:
    """In sim mode, a run ends with its data: just after the last session with bars closes.

    Args:
        sessions: the broker's market calendar.
        bars: the in-process exchange's bar store (``symbols``, ``last_closed``).
    """
    far = datetime.max.replace(tzinfo=UTC) - timedelta(days=2)
    lasts = [bars.last_closed(sym, far) for sym in bars.symbols]
    last: datetime = max(b.timestamp for b in lasts if b is not None)
    session = sessions.session_at(last)
    return (session.close if session else last + ONE_MINUTE) + timedelta(minutes=1)


def run_end(
    sessions: MarketCalendar,
    now: datetime,
    *,
    stop_at: datetime | None,
    after_sessions: int | None,
    sim_bars: Any,
) -> datetime | None:
    """When a run stops by itself: at ``stop_at`` when given; else after ``after_sessions``
    sessions (:func:`stop_time`); else, in sim mode (``sim_bars``: the in-process exchange's
    bar store), when its data ends (:func:`sim_data_end`); else never (None)."""
    if stop_at is not None:
        return stop_at
    if after_sessions is not None:
        return stop_time(sessions, now, after_sessions)
    if sim_bars is not None:
        return sim_data_end(sessions, sim_bars)
    return None


def next_poll(data: DataConfig, now: datetime) -> datetime:
    """Polls land just after a minute's bars close: one request per minute at most.

    ``poll_interval_seconds`` under a minute is the delay after each minute boundary (bars
    need a moment to be published); a minute or more polls that often, on the minute.
    """
    seconds = data.poll_interval_seconds
    minute = now.replace(second=0, microsecond=0)
    if seconds < 60:
        target = minute + timedelta(seconds=data.poll_offset_seconds)
        return target if target > now else target + ONE_MINUTE
    return minute + timedelta(seconds=seconds)
