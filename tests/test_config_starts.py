"""Property: any trading.yaml and .env that ``fleece config check`` accepts starts the bot.

``fleece run`` (sim mode), ``fleece demo`` and ``fleece backtest`` all start, without a
traceback, from every configuration the check accepts; what it refuses is one line, exit 2.
Values are drawn at and near their bounds, where the issue found configurations that passed
the check and then crashed (huge windows, days, speeds; a loss limit of 1.0; a store path
naming a directory; a key repeated in .env).

Bounded so that it never flakes and ends in minutes: few examples, derandomized (the same
examples on every run), no deadline; commands run in-process through the CLI's functions,
and a few representative configurations also run as real processes.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, assume, event, given, note, settings
from hypothesis import strategies as st

from fleece.calendar import MarketCalendar
from fleece.cli import demo_overrides
from fleece.config import ENV_NAMES, NotificationsConfig, ShutdownConfig, load_settings
from fleece.config_bounds import STOP_BUDGET_SECONDS
from startup_helpers import (
    FIXTURE_BARS,
    Started,
    backtest,
    bot_env,
    config_check,
    forget_ambient_settings,
    start_and_stop,
    write_env,
)

TICKERS = ("SPY", "AAPL", "TSLA", "BRK.B", "QQQ")
CALENDAR = MarketCalendar()
# The first and last SIM_START the checks accept (see fleece.preflight), and just beyond.
EARLIEST = CALENDAR.first_day().toordinal() + 30
LATEST = CALENDAR.last_day().toordinal() - 45


def near(low: float, high: float, *specials: float) -> st.SearchStrategy[Any]:
    """Values in [low, high], drawn often at the bounds themselves and at ``specials``."""
    inside: st.SearchStrategy[Any]
    if isinstance(low, int) and isinstance(high, int):
        inside = st.integers(low, high)
    else:
        inside = st.floats(low, high, allow_nan=False, allow_infinity=False)
    return st.one_of(st.sampled_from([low, high, *specials]), inside)


def positive(high: float, *specials: float) -> st.SearchStrategy[float]:
    """Durations in (0, high]: tiny ones, the bound, and anything between."""
    return near(1e-3, float(high), *specials)


@st.composite
def windows(draw: st.DrawFn) -> dict[str, int]:
    picked = draw(st.lists(near(1, 1950, 2, 3, 1948, 1949), min_size=3, max_size=3, unique=True))
    fast, medium, slow = sorted(picked)
    return {"fast": fast, "medium": medium, "slow": slow}


def maybe(section: dict[str, st.SearchStrategy[Any]]) -> st.SearchStrategy[dict[str, Any]]:
    """A section with some of its keys (absent keys take their defaults)."""
    return st.fixed_dictionaries({}, optional=section)


@st.composite
def stop_waits(draw: st.DrawFn) -> tuple[dict[str, float], dict[str, float]]:
    """``shutdown`` and ``notifications`` whose two waits, drawn up to their shared bound, fit
    the launchers' stop budget together (absent keys take their defaults)."""
    shutdown = draw(maybe({"grace_seconds": positive(STOP_BUDGET_SECONDS, 25.0)}))
    grace = shutdown.get("grace_seconds", ShutdownConfig().grace_seconds)
    room = STOP_BUDGET_SECONDS - grace
    flush = near(0.0, room, min(NotificationsConfig().flush_seconds, room))
    if NotificationsConfig().flush_seconds <= room:
        notifications = draw(maybe({"flush_seconds": flush}))
    else:  # the default flush would not fit beside this grace
        notifications = {"flush_seconds": draw(flush)}
    assume(grace + notifications.get("flush_seconds", 0.0) <= STOP_BUDGET_SECONDS)
    return shutdown, notifications


@st.composite
def trading_documents(draw: st.DrawFn, tickers: tuple[str, ...] | None = None) -> dict[str, Any]:
    symbols = tickers or tuple(
        draw(st.lists(st.sampled_from(TICKERS), min_size=1, max_size=3, unique=True))
    )
    document: dict[str, Any] = {"symbols": {"mode": "explicit", "list": list(symbols)}}
    document["strategy"] = draw(windows())
    document["risk"] = draw(
        maybe(
            {
                "max_position_pct": near(1e-6, 1.0, 0.1),
                "max_daily_loss_pct": near(1e-6, 1.0, 0.05),
                "max_trades_per_day": near(1, 78_000),
                "max_concurrent_positions": near(1, 10_000),
                "circuit_breaker_failures": near(1, 1_000),
            }
        )
    )
    document["data"] = draw(
        maybe({"poll_interval_seconds": positive(3600, 5.0, 60.0), "warmup_bars": near(0, 1950)})
    )
    document["orders"] = draw(maybe({"stale_order_minutes": near(1, 390)}))
    document["shutdown"], document["notifications"] = draw(stop_waits())
    document["housekeeping"] = draw(
        maybe(
            {
                "heartbeat_seconds": positive(3600, 60.0),
                "equity_snapshot_seconds": positive(3600, 60.0),
                "bar_retention_days": near(1, 3660),
            }
        )
    )
    return document


@st.composite
def env_files(draw: st.DrawFn, root: Path) -> dict[str, str]:
    """A sim-mode .env for a bot in ``root``, its numbers at and near their bounds."""
    days = draw(st.sampled_from([1, 2, 30]))
    # The last start from which `days` sessions still fit (weekends and holidays included), and
    # the demo's two (it runs on this SIM_START too).
    last_start = LATEST - 5 - (max(days, 2) * 7 + 4) // 5
    start = draw(st.sampled_from([EARLIEST, last_start]) | st.integers(EARLIEST, last_start))
    values = {
        "SIM_SPEED": near(1.0, 10_000.0, 300.0).map(str),
        "SIM_SEED": near(0, 2**63 - 1).map(str),
        # A timeout shorter than this machine's answers is a slow machine, not a bad value:
        # the bot reports it as a broker error. The draw keeps to what loopback answers under
        # load, so that the property never depends on the machine's speed.
        "ALPACA_TIMEOUT_SECONDS": near(5.0, 300.0, 15.0).map(str),
        "LOG_MAX_BYTES": st.sampled_from(["0", "1024", str(2**40)]),
        "LOG_BACKUPS": near(1, 1000).map(str),
        "LOG_LEVEL": st.sampled_from(["DEBUG", "INFO", "WARNING", "ERROR"]),
        "KILL_SWITCH": st.sampled_from(["true", "false"]),
        "DRY_RUN": st.sampled_from(["true", "false"]),
        "DASHBOARD_ENABLED": st.sampled_from(["false", "true"]),
    }
    env = bot_env(root, SIM_DAYS=str(days), SIM_START=date.fromordinal(start).isoformat())
    return {**env, **draw(st.fixed_dictionaries({}, optional=values))}


# Whatever else is drawn, an example may carry one of these, which the check must refuse.
REFUSED_EXTRAS = [
    ("strategy", {"fast": 1, "medium": 2, "slow": 1951}),
    ("strategy", {"fast": 1, "medium": 2, "slow": 100_000_000_000}),
    ("env", {"SIM_SPEED": "1e308"}),
    ("env", {"SIM_DAYS": "100000"}),
    ("env", {"SIM_START": "2090-01-02"}),
    ("env", {"DATABASE_PATH": "{root}"}),
    ("env", {"LOG_DIR": "/sys/fleece-logs"}),
    ("text", "KILL_SWITCH=true\nKILL_SWITCH=false\n"),
    ("text", "KILL_SWITCH\n"),
]


@pytest.fixture
def no_ambient_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    forget_ambient_settings(monkeypatch)


@contextlib.contextmanager
def bot_folder() -> Iterator[Path]:
    """A fresh bot directory, made the current one (``fleece demo`` writes data/demo there)."""
    with tempfile.TemporaryDirectory() as folder, contextlib.chdir(folder):
        yield Path(folder)


def assert_started(started: Started, what: str) -> None:
    assert started.code == 0, f"{what} exited {started.code}:\n{started.log[-3000:]}"
    assert started.polled, f"{what} stopped before its first poll:\n{started.log[-3000:]}"
    assert "Traceback" not in started.log, f"{what}:\n{started.log[-3000:]}"


def check_or_refuse(root: Path) -> bool:
    """Run ``config check``: True when it accepts; a refusal must be one line, exit 2."""
    checked = config_check(root)
    if checked.exit_code == 0:
        return True
    assert checked.exit_code == 2, checked.output
    assert checked.exception is None or isinstance(checked.exception, SystemExit)
    (line,) = checked.stderr.splitlines()
    assert line.startswith("error: ")
    note(f"refused: {line}")
    event(f"refused: {line.split(': ')[2]}")
    return False


@pytest.mark.timeout(1200)
@settings(
    max_examples=20,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_what_config_check_accepts_starts_run_demo_and_backtest(
    no_ambient_settings: None, data: st.DataObject
) -> None:
    with bot_folder() as root:
        document = data.draw(trading_documents(), label="trading.yaml")
        env = data.draw(env_files(root), label=".env")
        extra = data.draw(st.sampled_from([None] * 6 + REFUSED_EXTRAS), label="extra")
        env_text = ""
        if extra is not None and extra[0] == "strategy":
            document["strategy"] = extra[1]
        elif extra is not None and extra[0] == "env":
            env.update({k: v.format(root=root) for k, v in extra[1].items()})
        elif extra is not None:
            env_text = extra[1]
        (root / "trading.yaml").write_text(yaml.safe_dump(document), encoding="utf-8")
        write_env(root, env)
        with (root / ".env").open("a", encoding="utf-8") as handle:
            handle.write(env_text)
        if env.get("DASHBOARD_ENABLED") == "true":
            with (root / ".env").open("a", encoding="utf-8") as handle:
                handle.write("DASHBOARD_PORT=0\n")

        if not check_or_refuse(root):
            assert extra is not None, "the check refused a configuration within every bound"
            return

        assert extra is None, f"the check accepted {extra}"
        event("accepted: started run, demo and backtest")
        assert_started(start_and_stop(root), "fleece run")
        overrides = demo_overrides(1, 600.0, 7, load_settings(root / ".env", os.environ))
        assert_started(start_and_stop(root, overrides=overrides), "fleece demo")
        tested = backtest(root)
        assert tested.exit_code == 0, tested.output
        assert tested.exception is None or isinstance(tested.exception, SystemExit)


@pytest.mark.timeout(1200)
@settings(max_examples=3, derandomize=True, deadline=None, suppress_health_check=list(HealthCheck))
@given(document=trading_documents(tickers=("SPY", "IBM")))
def test_what_config_check_accepts_over_real_bars_starts_run_and_demo(
    no_ambient_settings: None, document: dict[str, Any]
) -> None:
    with bot_folder() as root:
        (root / "trading.yaml").write_text(yaml.safe_dump(document), encoding="utf-8")
        write_env(root, {**bot_env(root, SIM_DATA=str(FIXTURE_BARS)), "SIM_START": "2013-10-08"})

        assert check_or_refuse(root)
        assert_started(start_and_stop(root), "fleece run")
        overrides = demo_overrides(1, 600.0, 7, load_settings(root / ".env", os.environ))
        assert_started(start_and_stop(root, overrides=overrides), "fleece demo")


# ------------------------------------------------------------------ a few real processes

EXTREMES = {
    "strategy": {"fast": 1948, "medium": 1949, "slow": 1950},
    "risk": {"max_daily_loss_pct": 1.0, "max_position_pct": 1.0, "max_trades_per_day": 78_000},
    "data": {"poll_interval_seconds": 3600.0, "warmup_bars": 1950},
    "orders": {"stale_order_minutes": 390},
    # The stop's whole budget: the longest grace beside the default flush.
    "shutdown": {"grace_seconds": STOP_BUDGET_SECONDS - NotificationsConfig().flush_seconds},
    "housekeeping": {"heartbeat_seconds": 3600.0, "bar_retention_days": 3660},
}
SMALLEST = {
    "strategy": {"fast": 1, "medium": 2, "slow": 3},
    "risk": {"max_daily_loss_pct": 1e-6, "max_position_pct": 1e-6, "max_trades_per_day": 1},
    "data": {"poll_interval_seconds": 0.001, "warmup_bars": 0},
    "orders": {"stale_order_minutes": 1},
    "shutdown": {"grace_seconds": 0.001},
    "housekeeping": {"heartbeat_seconds": 0.001, "bar_retention_days": 1},
}


def fleece(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ENV_NAMES}
    return subprocess.run(
        [sys.executable, "-m", "fleece", *args],
        cwd=root,
        env={**env, "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=600,  # a guard against hangs, not a measured expectation
        check=False,
    )


@pytest.mark.timeout(1200)
@pytest.mark.parametrize("sections", [EXTREMES, SMALLEST], ids=["largest", "smallest"])
def test_configurations_at_their_bounds_run_as_real_processes(
    tmp_path: Path, sections: dict[str, Any]
) -> None:
    document = {"symbols": {"list": ["SPY", "AAPL"]}, **sections}
    (tmp_path / "trading.yaml").write_text(yaml.safe_dump(document), encoding="utf-8")
    env = bot_env(tmp_path, SIM_SPEED="10000", SIM_DAYS="1", LOG_MAX_BYTES="1024")
    write_env(tmp_path, env)

    checked = fleece(tmp_path, "config", "check")
    ran = fleece(tmp_path, "run")
    demo = fleece(tmp_path, "demo", "--speed", "10000")
    tested = fleece(
        tmp_path,
        "backtest",
        "--synthetic",
        "--config",
        "trading.yaml",
        "--start",
        "2024-11-25",
        "--end",
        "2024-11-26",
        "--out",
        "bt",
    )

    assert checked.returncode == 0, checked.stderr
    for done in (ran, demo, tested):
        assert done.returncode == 0, done.stderr[-3000:]
        assert "Traceback" not in done.stderr
    logs = "".join(p.read_text() for p in (tmp_path / "logs").glob("orchestrator.out*"))
    assert "Traceback" not in logs
