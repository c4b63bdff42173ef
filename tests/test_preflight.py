"""Specification: what the bot cannot start with is refused at ``config check`` and at start.

A store path naming a directory or an unwritable place, an unwritable log folder, simulated days
the market calendar cannot place, more synthetic bars than memory holds, ``SIM_DATA`` without
the symbols' files or a ``SIM_START`` outside its bars: each gives one line naming the source,
the key and the reason, exit 2, from ``fleece config check`` and from ``fleece run`` alike.
Before, each passed the check and ended in a traceback.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fleece.calendar import MarketCalendar
from fleece.cli import app
from startup_helpers import FIXTURE_BARS, bot_directory, bot_env, start_and_stop

# Root may write almost anywhere; nobody can create files in sysfs.
UNWRITABLE = Path("/sys/fleece-preflight")


@pytest.fixture
def bot_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A bot directory: two symbols in trading.yaml, no ambient fleece variables."""
    yield bot_directory(tmp_path, monkeypatch, "symbols:\n  list: [SPY, IBM]\n")


def refused(bot_dir: Path, **env: str) -> list[str]:
    """Run `config check` and `run` on a .env of ``env``; both must refuse in the same line."""
    (bot_dir / ".env").write_text("".join(f"{k}={v}\n" for k, v in bot_env(bot_dir, **env).items()))
    lines = []
    for command in (["config", "check"], ["run"]):
        result = CliRunner().invoke(app, command)
        assert result.exit_code == 2, (command, result.output)
        assert result.exception is None or isinstance(result.exception, SystemExit)
        lines.append(result.stderr.strip())
    assert lines[0] == lines[1] and "\n" not in lines[0]
    return lines[0].split(": ", 3)


def test_a_database_path_naming_a_directory_is_refused(bot_dir: Path) -> None:
    _, source, key, reason = refused(bot_dir, DATABASE_PATH=str(bot_dir))

    assert (source, key) == (".env", "DATABASE_PATH")
    assert reason == f"{bot_dir} is a directory: name a file in it, e.g. trades.db"


def test_a_database_path_below_a_file_is_refused(bot_dir: Path) -> None:
    _, _, key, reason = refused(bot_dir, DATABASE_PATH=str(bot_dir / "trading.yaml" / "x.db"))

    assert (key, reason) == ("DATABASE_PATH", f"{bot_dir / 'trading.yaml'} is not a directory")


def test_a_database_path_in_an_unwritable_place_is_refused(bot_dir: Path) -> None:
    _, _, key, reason = refused(bot_dir, DATABASE_PATH=str(UNWRITABLE / "trades.db"))

    assert key == "DATABASE_PATH"
    assert reason.startswith("cannot create files in /sys")


def test_an_unwritable_log_dir_is_refused(bot_dir: Path) -> None:
    _, _, key, reason = refused(bot_dir, LOG_DIR=str(UNWRITABLE / "logs"))

    assert key == "LOG_DIR"
    assert reason.startswith("cannot create files in /sys")


def test_a_log_dir_that_is_a_file_is_refused(bot_dir: Path) -> None:
    _, _, key, reason = refused(bot_dir, LOG_DIR=str(bot_dir / "trading.yaml"))

    assert (key, reason) == ("LOG_DIR", f"{bot_dir / 'trading.yaml'} is not a directory")


@pytest.mark.parametrize("start", ["2090-01-02", "2004-06-01"])
def test_a_sim_start_outside_the_calendar_is_refused(bot_dir: Path, start: str) -> None:
    _, _, key, reason = refused(bot_dir, SIM_START=start)

    assert key == "SIM_START"
    assert reason.startswith(f"{start} is outside the days the market calendar can simulate")


def test_sim_days_running_past_the_calendar_are_refused(bot_dir: Path) -> None:
    latest = MarketCalendar().last_day() - timedelta(days=60)

    _, _, key, reason = refused(bot_dir, SIM_START=latest.isoformat(), SIM_DAYS="100")

    assert key == "SIM_DAYS"
    assert "run past the last day the market calendar can simulate" in reason


def test_more_synthetic_bars_than_memory_holds_are_refused(bot_dir: Path) -> None:
    tickers = ", ".join(f"S{chr(65 + i)}" for i in range(20))
    (bot_dir / "trading.yaml").write_text(f"symbols:\n  list: [{tickers}]\n")

    _, _, key, reason = refused(bot_dir, SIM_START="2020-01-02", SIM_DAYS="200")

    assert key == "SIM_DAYS"
    assert reason.startswith("200 sessions of 20 symbols are 1,560,000 synthetic bars")


def test_sim_data_without_a_symbols_file_is_refused(bot_dir: Path) -> None:
    (bot_dir / "trading.yaml").write_text("symbols:\n  list: [SPY, AAPL]\n")

    _, _, key, reason = refused(bot_dir, SIM_DATA=str(FIXTURE_BARS))

    assert (key, reason) == ("SIM_DATA", f"{FIXTURE_BARS}: no AAPL.csv or AAPL.parquet")


def test_a_sim_start_after_the_sim_data_is_refused(bot_dir: Path) -> None:
    # Today's main started, found nothing to trade and stopped at once, exit 0.
    _, _, key, reason = refused(bot_dir, SIM_DATA=str(FIXTURE_BARS), SIM_START="2020-01-02")

    assert (key, reason) == (
        "SIM_START",
        "2020-01-02 is outside the bars of SIM_DATA (2013-10-04 to 2013-10-11)",
    )


def test_the_earliest_and_latest_accepted_sim_starts_start_the_bot(bot_dir: Path) -> None:
    # The margins at the calendar's ends are what the bot and the exchange read around a day.
    calendar = MarketCalendar()
    first, last = (
        calendar.first_day() + timedelta(days=30),
        calendar.last_day() - timedelta(days=45),
    )
    earliest = calendar.sessions(first, first + timedelta(days=10))[0].day
    latest = calendar.sessions(last - timedelta(days=10), last)[-1].day

    for start in (earliest, latest):
        env = bot_env(bot_dir, SIM_START=start.isoformat(), SIM_SPEED="10000")
        started = start_and_stop(bot_dir, env)
        assert (started.code, started.polled) == (0, True), started.log[-2000:]

    for start in (first - timedelta(days=1), last + timedelta(days=1)):
        assert refused(bot_dir, SIM_START=start.isoformat())[2] == "SIM_START"


def test_status_and_halt_do_not_need_a_writable_log_dir(bot_dir: Path) -> None:
    # Operators read a bot's store from other accounts: only starting a bot is preflighted.
    env = bot_env(bot_dir, LOG_DIR=str(UNWRITABLE))
    (bot_dir / ".env").write_text("".join(f"{k}={v}\n" for k, v in env.items()))

    assert CliRunner().invoke(app, ["halt"]).exit_code == 0
    assert CliRunner().invoke(app, ["status"]).exit_code == 0
