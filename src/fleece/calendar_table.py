"""The NYSE sessions exchange-calendars knows, as a table cached on disk between processes.

exchange-calendars (and pandas under it) took most of a short command's start-up (``fleece
backtest``, ``fleece status``): about a second of imports to answer "which sessions, opening and
closing when". Its answers are one table, each session's day, open and close, from 2005 to
about a year after today (its default end, moved by one day each day). So the table is computed
once with exchange-calendars and written to ``<cache>/fleece/xnys-sessions.json`` (``<cache>``:
``$XDG_CACHE_HOME`` or ``~/.cache``), keyed by exchange-calendars' version and today's date;
later processes of the same day read it and never import exchange-calendars. The file is data
(JSON: numbers only, checked as read; nothing in it runs); one that is missing, stale, foreign
or damaged is recomputed and replaced atomically, and a cache that cannot be written (a
read-only home) only costs the import, as before.
"""

from __future__ import annotations

import json
import os
import tempfile
from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field
from datetime import UTC, date
from functools import lru_cache
from importlib import metadata
from itertools import pairwise
from pathlib import Path
from typing import Any

# exchange-calendars needs a bounded range; 2005 covers every fixture and any realistic backtest.
FIRST_DAY = "2005-01-01"
CACHE_NAME = "xnys-sessions.json"
_FORMAT = 1


class CalendarRangeError(ValueError):
    """A day the calendar cannot place: before its first session or after its last."""


@dataclass(frozen=True, eq=False)
class SessionTable:
    """Every session: days ascending, with each one's open and close (epoch seconds, UTC)."""

    days: tuple[date, ...]
    opens: tuple[int, ...]
    closes: tuple[int, ...]
    _where: dict[date, int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_where", {d: i for i, d in enumerate(self.days)})

    def index(self, day: date) -> int | None:
        """Position of ``day``'s session, or None when ``day`` is not a session.

        Raises:
            CalendarRangeError: ``day`` lies outside the table (as exchange-calendars refuses).
        """
        self.check(day, "date")
        return self._where.get(day)

    def check(self, day: date, what: str) -> None:
        """Raise :class:`CalendarRangeError` when ``day`` lies outside the table."""
        first, last = self.days[0], self.days[-1]
        if day < first:
            raise CalendarRangeError(
                f"{what} {day.isoformat()} is before the calendar's first session ({first})"
            )
        if day > last:
            raise CalendarRangeError(
                f"{what} {day.isoformat()} is after the calendar's last session ({last})"
            )

    def between(self, start: date, end: date) -> range:
        """Positions of the sessions from ``start`` to ``end`` inclusive."""
        self.check(start, "start")
        self.check(end, "end")
        return range(bisect_left(self.days, start), bisect_right(self.days, end))

    def window(self, start: date, count: int) -> range:
        """Positions of ``count`` sessions from ``start``'s session or the next one (a negative
        ``count``: that many ending there), as exchange-calendars' ``sessions_window``.

        Raises:
            CalendarRangeError: ``start`` outside the table.
            ValueError: ``count`` is 0 or runs past either end.
        """
        self.check(start, "date")
        if count == 0:
            raise ValueError("`count` cannot be 0.")
        i = bisect_left(self.days, start)
        a, b = (i, i + count) if count > 0 else (i + count + 1, i + 1)
        if a < 0 or b > len(self.days):
            raise ValueError(
                f"a window of {abs(count)} sessions from {self.days[i]} runs past the calendar"
                f" ({self.days[0]} to {self.days[-1]})"
            )
        return range(a, b)


@lru_cache(maxsize=1)
def session_table() -> SessionTable:
    """The table, from the day's cache or else from exchange-calendars (then cached)."""
    key = _key()
    path = cache_path()
    if path is not None:
        table = _read(path, key)
        if table is not None:
            return table
    table = _compute()
    if path is not None:
        _write(path, key, table)
    return table


def cache_path() -> Path | None:
    """Where the table is cached; None when no cache folder can be named."""
    base = os.environ.get("XDG_CACHE_HOME")
    try:
        root = Path(base) if base else Path.home() / ".cache"
    except (RuntimeError, KeyError):  # no home directory to speak of
        return None
    return root / "fleece" / CACHE_NAME


def _key() -> dict[str, Any]:
    # exchange-calendars ends its calendar a year after the local date it is imported on; the
    # table is that day's (the wall clock is read here only for that, as the library does).
    try:
        version = metadata.version("exchange_calendars")
    except metadata.PackageNotFoundError:
        version = "unknown"
    return {"format": _FORMAT, "first": FIRST_DAY, "version": version, "made": str(date.today())}


def _compute() -> SessionTable:
    import exchange_calendars as xcals
    import numpy as np

    cal = xcals.get_calendar("XNYS", start=FIRST_DAY)

    def seconds(values: Any) -> tuple[int, ...]:
        stamps = np.asarray(values.dt.tz_convert(UTC).dt.tz_localize(None).to_numpy())
        return tuple(stamps.astype("datetime64[s]").astype(np.int64).tolist())

    days = tuple(d.date() for d in cal.sessions)
    return SessionTable(days, seconds(cal.opens), seconds(cal.closes))


def _read(path: Path, key: dict[str, Any]) -> SessionTable | None:
    """The cached table when the file is this key's and well formed; else None."""
    try:
        body = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(body, dict) or body.get("key") != key:
        return None
    days, opens, closes = body.get("days"), body.get("opens"), body.get("closes")
    columns = (days, opens, closes)
    if not all(isinstance(c, list) and c and all(type(v) is int for v in c) for c in columns):
        return None
    assert isinstance(days, list) and isinstance(opens, list) and isinstance(closes, list)
    if not len(days) == len(opens) == len(closes):
        return None
    if any(b <= a for a, b in pairwise(days)):
        return None
    if any(not 0 < c - o <= 86_400 for o, c in zip(opens, closes, strict=True)):
        return None
    try:
        table = tuple(date.fromordinal(d) for d in days)
    except (ValueError, OverflowError):
        return None
    return SessionTable(table, tuple(opens), tuple(closes))


def _write(path: Path, key: dict[str, Any], table: SessionTable) -> None:
    """Write the table for later processes (atomically); a failure only loses the cache."""
    body = {
        "key": key,
        "days": [d.toordinal() for d in table.days],
        "opens": list(table.opens),
        "closes": list(table.closes),
    }
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, name = tempfile.mkstemp(dir=path.parent, prefix=".xnys-", suffix=".tmp")
    except OSError:
        return
    temporary = Path(name)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as f:
            json.dump(body, f, separators=(",", ":"))
        temporary.replace(path)  # atomic: a reader sees the old file or the new one
    except OSError:
        temporary.unlink(missing_ok=True)
