"""Checks before a bot starts that need the disk or the market calendar.

``fleece config check``, ``fleece run`` and ``fleece demo`` call :func:`preflight` once the
configuration is loaded, so that what the check accepts the bot can start with, and what it
cannot start with is refused with one line naming the source, the key and the reason (exit 2),
not a traceback later:

* ``DATABASE_PATH`` names a file the bot can create or write: not a directory, not below a
  file, not in a read-only place;
* ``LOG_DIR`` is a folder the bot can write in, or create;
* in sim mode, the simulated sessions lie within the market calendar's range (with the days
  around them the bot reads), the synthetic bars fit in memory, and with ``SIM_DATA`` the
  folder holds a bar file per symbol and ``SIM_START`` lies within its bars.

Other commands (``status``, ``halt``, ``dashboard``) do not call it: they must keep working for
an operator who may read the store but not write it.
"""

from __future__ import annotations

import tempfile
from datetime import date, timedelta
from pathlib import Path

from fleece.calendar import MarketCalendar, session_date
from fleece.config import AppConfig, Settings
from fleece.config_bounds import MINUTES_PER_SESSION
from fleece.errors import ConfigError, DataError
from fleece.logs import LOG_FILE_NAME

#: Bars the built-in exchange may hold: about 500 bytes each in memory, so about 500 MB.
MAX_SIM_BARS = 1_000_000
#: Simulated sessions keep this far from the ends of the calendar's range: the bot reads the
#: broker's calendar from 14 days before its simulated now to 20 days after
#: (runtime_times.CALENDAR_DAYS_BACK), the exchange looks 15 days back for the previous close
#: (engine._previous_close) and 15 days ahead for settlement dates (trading_api._calendar).
#: tests/test_preflight.py starts a bot at both ends, so a wider look fails there first.
DAYS_BEFORE = timedelta(days=30)
DAYS_AFTER = timedelta(days=45)


def preflight(config: AppConfig) -> None:
    """Refuse what the bot could not start with; see the module docstring.

    Raises:
        ConfigError: one line naming where the value came from, the key and the reason.
    """
    s = config.settings
    check_writable_file(Path(s.database_path), s.source_of("DATABASE_PATH"), "DATABASE_PATH")
    check_writable_dir(Path(s.log_dir), s.source_of("LOG_DIR"), "LOG_DIR", LOG_FILE_NAME)
    if s.sim:
        check_sim_days(config)


def check_writable_file(path: Path, source: str, key: str) -> None:
    """Refuse unless the bot can create ``path`` (folders included) or write it.

    Raises:
        ConfigError: ``path`` is a directory, lies below a file, or cannot be written.
    """
    if path.is_dir():
        raise ConfigError(source, key, f"{path} is a directory: name a file in it, e.g. trades.db")
    _check_can_create_in(path.parent, source, key)
    if path.exists():
        _check_can_open(path, source, key)


def check_writable_dir(path: Path, source: str, key: str, file: str | None = None) -> None:
    """Refuse unless the bot can write files in folder ``path`` (creating it if needed).

    Args:
        path: the folder.
        source: where the value came from (named in the error).
        key: the setting (named in the error).
        file: a file the bot appends to in it, checked too when it exists.

    Raises:
        ConfigError: ``path`` is not a folder or cannot be written.
    """
    if path.exists() and not path.is_dir():
        raise ConfigError(source, key, f"{path} is not a directory")
    _check_can_create_in(path, source, key)
    if file is not None and (path / file).exists():
        _check_can_open(path / file, source, key)


def _check_can_create_in(folder: Path, source: str, key: str) -> None:
    # The nearest folder that exists is where the bot will create the rest (mkdir -p).
    base = folder
    while not base.exists() and base != base.parent:
        base = base.parent
    if not base.is_dir():
        raise ConfigError(source, key, f"{base} is not a directory")
    try:
        # A real probe: as root, or on a read-only mount, permission bits do not tell.
        with tempfile.TemporaryFile(dir=base):
            pass
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise ConfigError(source, key, f"cannot create files in {base} ({reason})") from None


def _check_can_open(path: Path, source: str, key: str) -> None:
    try:
        with path.open("r+b"):
            pass
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise ConfigError(source, key, f"cannot write {path} ({reason})") from None


# --------------------------------------------------------------------------- sim mode


def check_sim_days(config: AppConfig) -> None:
    """Refuse simulated days the calendar cannot place, or too many bars to hold.

    Raises:
        ConfigError: naming ``SIM_START``, ``SIM_DAYS`` or ``SIM_DATA``.
    """
    s = config.settings
    calendar = MarketCalendar()
    if s.sim_data is not None:
        first, last = _data_days(s, s.sim_data, config.trading.tickers)
        if s.sim_start is not None and not first <= s.sim_start <= last:
            raise ConfigError(
                s.source_of("SIM_START"),
                "SIM_START",
                f"{s.sim_start} is outside the bars of SIM_DATA ({first} to {last})",
            )
        _check_in_calendar(s, calendar, s.sim_start or first, last)
        return
    from fleece.data.synthetic import DEFAULT_SYNTHETIC_START

    first = s.sim_start or DEFAULT_SYNTHETIC_START
    _check_in_calendar(s, calendar, first, None)
    bars = s.sim_days * len(config.trading.tickers) * MINUTES_PER_SESSION
    if bars > MAX_SIM_BARS:
        raise ConfigError(
            s.source_of("SIM_DAYS"),
            "SIM_DAYS",
            f"{s.sim_days} sessions of {len(config.trading.tickers)} symbols are {bars:,} "
            f"synthetic bars, more than the built-in exchange holds in memory "
            f"({MAX_SIM_BARS:,}, about 500 MB); simulate fewer sessions or symbols",
        )


def _check_in_calendar(
    s: Settings, calendar: MarketCalendar, first: date, last: date | None
) -> None:
    """``first`` (and ``last``, or ``SIM_DAYS`` sessions from ``first``) fit the calendar."""
    earliest = calendar.first_day() + DAYS_BEFORE
    latest = calendar.last_day() - DAYS_AFTER
    key = "SIM_START" if s.sim_start is not None or s.sim_data is None else "SIM_DATA"
    if first < earliest or first > latest:
        raise ConfigError(
            s.source_of(key),
            key,
            f"{first} is outside the days the market calendar can simulate, {earliest} to "
            f"{latest} (its range, less the days the bot reads around a session)",
        )
    if last is not None:
        if last > latest:
            raise ConfigError(
                s.source_of("SIM_DATA"),
                "SIM_DATA",
                f"its bars run to {last}, after the last day the market calendar can simulate "
                f"({latest})",
            )
        return
    room = len(calendar.sessions(first, latest))
    if s.sim_days > room:
        raise ConfigError(
            s.source_of("SIM_DAYS"),
            "SIM_DAYS",
            f"{s.sim_days} sessions from {first} run past the last day the market calendar "
            f"can simulate ({latest}): at most {room}",
        )


def _data_days(s: Settings, folder: Path, tickers: tuple[str, ...]) -> tuple[date, date]:
    """The first and last New York day with a usable bar in ``SIM_DATA``, over ``tickers``."""
    from fleece.data.importer import bar_file_span, files_for

    source = s.source_of("SIM_DATA")
    if not folder.is_dir():
        raise ConfigError(source, "SIM_DATA", f"{folder} is not a directory of bar files")
    try:
        spans = [bar_file_span(path) for path in files_for(folder, tickers).values()]
    except DataError as exc:
        raise ConfigError(source, "SIM_DATA", str(exc)) from None
    found = [span for span in spans if span is not None]
    if not found:
        raise ConfigError(source, "SIM_DATA", f"no usable bar in {folder} for the symbols")
    first = session_date(min(start for start, _ in found))
    last = session_date(max(end for _, end in found))
    return first, last
