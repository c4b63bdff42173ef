"""Specification: a stop's wind-down and its last messages fit before the launchers' SIGKILL.

systemd, Docker, ``bot.sh`` and ``daemon.py`` kill the bot
:data:`~fleece.bot_process.STOP_TIMEOUT_SECONDS` after SIGTERM. A stop waits for its wind-down
(at most ``shutdown.grace_seconds``), then for its last messages, the run summary among them (at
most ``notifications.flush_seconds``). Before this rule each was bounded alone (grace 80, flush
120), so ``grace 80`` (flush 10 by default) or ``flush 120`` passed ``fleece config check`` and
the launcher could kill the bot while it sent its stop message.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from config_helpers import refusal_of
from fleece.bot_process import STOP_TIMEOUT_SECONDS
from fleece.config import NotificationsConfig, ShutdownConfig, load_trading_config
from fleece.config_bounds import STOP_BUDGET_SECONDS, STOP_MARGIN_SECONDS
from startup_helpers import bot_env, config_check, forget_ambient_settings, write_env


def trading_yaml(folder: Path, grace: float | None = None, flush: float | None = None) -> Path:
    """A trading.yaml setting only the stop's two waits given (the others take defaults)."""
    document: dict[str, Any] = {"symbols": {"list": ["SPY"]}}
    if grace is not None:
        document["shutdown"] = {"grace_seconds": grace}
    if flush is not None:
        document["notifications"] = {"flush_seconds": flush}
    path = folder / "trading.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    return path


def test_the_budget_is_the_launchers_stop_timeout_less_the_runs_record() -> None:
    assert STOP_BUDGET_SECONDS == STOP_TIMEOUT_SECONDS - STOP_MARGIN_SECONDS
    assert 0 < STOP_BUDGET_SECONDS < STOP_TIMEOUT_SECONDS


def test_the_default_stop_fits_the_budget() -> None:
    default_stop = ShutdownConfig().grace_seconds + NotificationsConfig().flush_seconds

    assert default_stop <= STOP_BUDGET_SECONDS


@pytest.mark.parametrize(
    ("grace", "flush"),
    [
        (STOP_BUDGET_SECONDS, 0.0),  # the whole budget for the wind-down
        (0.001, STOP_BUDGET_SECONDS - 0.001),  # nearly all of it for the last messages
        (STOP_BUDGET_SECONDS - 10.0, None),  # the default flush (10 s) takes the rest
        (None, STOP_BUDGET_SECONDS - 25.0),  # the default grace (25 s) takes the rest
    ],
)
def test_a_stop_that_fits_the_budget_is_accepted(
    tmp_path: Path, grace: float | None, flush: float | None
) -> None:
    config = load_trading_config(trading_yaml(tmp_path, grace, flush))

    assert config.shutdown.grace_seconds + config.notifications.flush_seconds <= STOP_BUDGET_SECONDS


def test_the_largest_grace_with_the_default_flush_is_refused_naming_the_grace(
    tmp_path: Path,
) -> None:
    error = refusal_of(trading_yaml(tmp_path, grace=80.0))

    assert error.key == "shutdown.grace_seconds"
    assert error.reason.startswith("must be at most 70 with notifications.flush_seconds 10: ")
    assert f"kill the bot {STOP_TIMEOUT_SECONDS} s after SIGTERM" in error.reason
    assert error.reason.endswith("(got 80.0)")


@pytest.mark.parametrize(
    ("grace", "flush", "room"),
    [(None, 120.0, 55), (None, 56.0, 55), (25.0, 120.0, 55), (80.0, 10.0, 0)],
)
def test_a_flush_beyond_what_the_grace_leaves_is_refused_naming_the_flush(
    tmp_path: Path, grace: float | None, flush: float, room: int
) -> None:
    error = refusal_of(trading_yaml(tmp_path, grace, flush))

    assert error.key == "notifications.flush_seconds"
    assert error.reason.startswith(f"must be at most {room} with shutdown.grace_seconds ")
    assert error.reason.endswith(f"(got {flush!r})")


@pytest.mark.parametrize("flush", [0.0, 10.0])
def test_a_grace_beyond_the_whole_budget_is_refused_naming_the_grace(
    tmp_path: Path, flush: float
) -> None:
    error = refusal_of(trading_yaml(tmp_path, grace=STOP_BUDGET_SECONDS + 0.5, flush=flush))

    assert error.key == "shutdown.grace_seconds"
    assert error.reason.startswith(f"must be at most {STOP_BUDGET_SECONDS - flush:g} with ")


@pytest.mark.parametrize("value", [".inf", ".nan"])
def test_an_endless_wait_is_refused(tmp_path: Path, value: str) -> None:
    path = tmp_path / "trading.yaml"
    path.write_text(f"symbols: {{list: [SPY]}}\nnotifications: {{flush_seconds: {value}}}\n")

    error = refusal_of(path)

    assert error.key == "notifications.flush_seconds"


def test_config_check_refuses_a_stop_over_budget_in_one_line_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    forget_ambient_settings(monkeypatch)
    trading_yaml(tmp_path, grace=25.0, flush=120.0)
    write_env(tmp_path, bot_env(tmp_path))

    checked = config_check(tmp_path)

    assert checked.exit_code == 2
    (line,) = checked.stderr.splitlines()
    assert "trading.yaml: notifications.flush_seconds: must be at most 55 with " in line


def test_the_readme_and_the_samples_state_the_budget() -> None:
    repo = Path(__file__).resolve().parents[1]
    readme = " ".join((repo / "README.md").read_text().split())
    flush = NotificationsConfig().flush_seconds

    assert f"`notifications.flush_seconds` ({flush:g} s by default)" in readme
    assert (
        f"kills the bot {STOP_TIMEOUT_SECONDS} s after SIGTERM, so the two together must stay "
        f"within {STOP_BUDGET_SECONDS} s ({STOP_MARGIN_SECONDS} s are left"
    ) in readme
    notifications = (repo / "docs" / "notifications.md").read_text()
    assert f"shutdown.grace_seconds + flush_seconds <= {STOP_BUDGET_SECONDS}" in notifications
    sample = (repo / "config" / "trading.yaml").read_text()
    assert f"flush_seconds at most {STOP_BUDGET_SECONDS}: the launchers kill at " in sample
