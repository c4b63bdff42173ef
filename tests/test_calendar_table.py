"""Specification of the calendar's session table: exchange-calendars' answers, cached between
processes, so that a command does not import exchange-calendars and pandas to know the sessions.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest

import fleece.calendar as calendar_module
from fleece.calendar import CalendarRangeError, MarketCalendar
from fleece.calendar_table import CACHE_NAME, FIRST_DAY, session_table


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh cache folder, and the process's table forgotten before and after."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    session_table.cache_clear()
    calendar_module._session.cache_clear()
    yield tmp_path / "fleece" / CACHE_NAME
    session_table.cache_clear()
    calendar_module._session.cache_clear()


def test_every_session_is_exchange_calendars_own() -> None:
    import exchange_calendars as xcals

    xnys = xcals.get_calendar("XNYS", start=FIRST_DAY)
    calendar = MarketCalendar()

    sessions = calendar.sessions(calendar.first_day(), calendar.last_day())

    assert [s.day for s in sessions] == [d.date() for d in xnys.sessions]
    assert [s.open for s in sessions] == [t.to_pydatetime() for t in xnys.opens]
    assert [s.close for s in sessions] == [t.to_pydatetime() for t in xnys.closes]
    assert calendar.session(date(2024, 11, 29)).close.hour == 18  # type: ignore[union-attr]


def test_the_first_process_of_the_day_writes_the_table_and_later_ones_only_read_it(
    cache: Path,
) -> None:
    probe = (
        "import sys; from datetime import date; from fleece.calendar import MarketCalendar;"
        "s = MarketCalendar().sessions_from(date(2024, 11, 27), 3);"
        "print([(x.day.isoformat(), x.close.isoformat()) for x in s]);"
        "print('exchange_calendars' in sys.modules, 'pandas' in sys.modules)"
    )
    env = {"XDG_CACHE_HOME": str(cache.parents[1]), "PATH": "/usr/bin:/bin"}

    first, later = (
        subprocess.run(
            [sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=False
        )
        for _ in range(2)
    )

    assert first.returncode == 0 and later.returncode == 0, first.stderr + later.stderr
    sessions, imported = first.stdout.splitlines()
    assert imported == "True True"  # computed by exchange-calendars, then cached
    assert later.stdout.splitlines() == [sessions, "False False"]
    assert "2024-11-29T18:00:00+00:00" in sessions  # the day after Thanksgiving closes early
    assert json.loads(cache.read_text())["key"]["made"] == date.today().isoformat()


@pytest.mark.parametrize(
    "damage",
    [
        "not json at all",
        '{"key": {"made": "1999-01-01"}, "days": [1], "opens": [1], "closes": [2]}',
        "[]",
    ],
    ids=["garbage", "another day's", "not a table"],
)
def test_a_damaged_or_stale_cache_is_recomputed_and_replaced(cache: Path, damage: str) -> None:
    cache.parent.mkdir(parents=True)
    cache.write_text(damage)

    days = session_table().days

    assert days[0] == date(2005, 1, 3) and len(days) > 5_000
    assert json.loads(cache.read_text())["days"][0] == date(2005, 1, 3).toordinal()


def test_a_cache_whose_sessions_are_out_of_order_is_not_believed(cache: Path) -> None:
    session_table()  # writes today's cache
    body = json.loads(cache.read_text())
    body["days"][10], body["days"][11] = body["days"][11], body["days"][10]
    cache.write_text(json.dumps(body))
    session_table.cache_clear()

    days = session_table().days

    assert list(days) == sorted(days)


def test_a_cache_folder_that_cannot_be_written_only_costs_the_computation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))  # fleece/ cannot be made under a file
    session_table.cache_clear()
    calendar_module._session.cache_clear()
    try:
        assert MarketCalendar().is_session(date(2024, 7, 5))
        assert not MarketCalendar().is_session(date(2024, 7, 4))
    finally:
        session_table.cache_clear()
        calendar_module._session.cache_clear()


def test_days_outside_the_calendar_are_refused_as_exchange_calendars_refuses_them() -> None:
    calendar = MarketCalendar()
    after = calendar.last_day() + timedelta(days=1)

    with pytest.raises(CalendarRangeError, match="before the calendar's first session"):
        calendar.is_session(date(2004, 12, 31))
    with pytest.raises(ValueError, match="after the calendar's last session"):
        calendar.sessions(date(2024, 1, 2), after)
    with pytest.raises(ValueError, match="runs past the calendar"):
        calendar.sessions_from(calendar.last_day() - timedelta(days=7), 30)
    with pytest.raises(ValueError, match="cannot be 0"):
        calendar.sessions_from(date(2024, 1, 2), 0)
    assert calendar.sessions(date(2024, 1, 10), date(2024, 1, 5)) == []
