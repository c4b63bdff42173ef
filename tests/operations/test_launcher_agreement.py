"""Specification: the launchers agree with the bot on where its files are and how long a stop is.

``bot.sh`` is shell and the systemd unit is data, so they cannot import the bot's constants;
``daemon.py`` imports them (standard-library modules only). These specs hold every copy to the
one rule: the PID file is :data:`fleece.bot_process.DEFAULT_PID_FILE`, the log file is
:func:`fleece.logs.log_file` of ``LOG_DIR``, whose default is :data:`fleece.logs.DEFAULT_LOG_DIR`;
every launcher kills the bot :data:`fleece.bot_process.STOP_TIMEOUT_SECONDS` after SIGTERM
(systemd's unit and docker-compose.yml are checked in their own specs), and the configuration
bounds the graceful shutdown below that. README.md states the same figures.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from types import ModuleType

import pytest
from ops_helpers import REPO

from fleece.bot_process import DEFAULT_PID_FILE, START_WAIT_SECONDS, STOP_TIMEOUT_SECONDS
from fleece.config import Settings, ShutdownConfig
from fleece.config_bounds import STOP_BUDGET_SECONDS
from fleece.logs import DEFAULT_LOG_DIR, log_file

BOT_SH = REPO / "bot.sh"
UNIT = REPO / "alpaca-bot.service"


def bot_sh_default(variable: str) -> str:
    """The default bot.sh gives ``NAME="${BOT_NAME:-default}"``, with ``$ROOT`` as ``ROOT``."""
    found = re.search(rf'^\w+="\$\{{{variable}:-(.*)\}}"$', BOT_SH.read_text(), re.MULTILINE)
    assert found is not None, f"bot.sh sets no default for {variable}"
    return found.group(1).replace("$ROOT/", "")


@pytest.fixture
def daemon(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """daemon.py as a module, read with none of its environment overrides set."""
    for name in ("BOT_ROOT", "BOT_PID_FILE", "BOT_LOG_FILE", "BOT_PYTHON", "BOT_STOP_TIMEOUT"):
        monkeypatch.delenv(name, raising=False)
    spec = importlib.util.spec_from_file_location("daemon_under_test", REPO / "daemon.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_log_dir_default_is_the_one_the_logs_module_names() -> None:
    assert Settings().log_dir == DEFAULT_LOG_DIR.absolute()


def test_bot_sh_writes_the_pid_file_and_the_log_where_the_bot_reads_them() -> None:
    assert Path(bot_sh_default("BOT_PID_FILE")) == DEFAULT_PID_FILE
    assert Path(bot_sh_default("BOT_LOG_FILE")) == log_file(DEFAULT_LOG_DIR)


def test_daemon_py_writes_the_pid_file_and_the_log_where_the_bot_reads_them(
    daemon: ModuleType,
) -> None:
    assert daemon.PID_FILE == REPO / DEFAULT_PID_FILE
    assert log_file(REPO / DEFAULT_LOG_DIR) == daemon.LOG_FILE


def test_the_systemd_unit_logs_into_the_default_log_dir_of_bot_root() -> None:
    assert f"LOG_DIR=${{BOT_ROOT}}/{DEFAULT_LOG_DIR}" in UNIT.read_text()


def test_bot_sh_waits_the_launchers_stop_timeout_before_sigkill() -> None:
    assert int(bot_sh_default("BOT_STOP_TIMEOUT")) == STOP_TIMEOUT_SECONDS
    assert int(bot_sh_default("BOT_START_WAIT")) == START_WAIT_SECONDS


def test_daemon_py_waits_the_launchers_stop_timeout_before_sigkill(daemon: ModuleType) -> None:
    assert daemon.STOP_TIMEOUT == STOP_TIMEOUT_SECONDS
    assert daemon.START_WAIT == START_WAIT_SECONDS


def test_the_graceful_shutdown_is_bounded_below_the_stop_timeout() -> None:
    assert 0 < STOP_BUDGET_SECONDS < STOP_TIMEOUT_SECONDS


def test_the_readme_states_the_launchers_figures() -> None:
    readme = (REPO / "README.md").read_text()

    assert f"waits up to {STOP_TIMEOUT_SECONDS} s for the graceful shutdown" in readme
    assert f"`BOT_STOP_TIMEOUT` (whole seconds, default {STOP_TIMEOUT_SECONDS})" in readme
    assert f"--timeout SECONDS before SIGKILL ({STOP_TIMEOUT_SECONDS})" in readme
    assert f"`stop_grace_period: {STOP_TIMEOUT_SECONDS}s`" in readme
    assert f"waits {STOP_TIMEOUT_SECONDS} s for the graceful shutdown" in readme
    assert f"for up to {START_WAIT_SECONDS} s" in readme
    assert f"`BOT_START_WAIT` (whole seconds, default {START_WAIT_SECONDS})" in readme


def test_the_docker_files_state_the_stop_timeout_and_the_shutdown_grace() -> None:
    grace = ShutdownConfig().grace_seconds

    assert f"docker stop -t {STOP_TIMEOUT_SECONDS}" in (REPO / "Dockerfile").read_text()
    compose = (REPO / "docker-compose.yml").read_text()
    assert f"shutdown.grace_seconds is {grace:g} by default" in compose
    readme = (REPO / "README.md").read_text()
    assert f"`shutdown.grace_seconds` in `trading.yaml` ({grace:g} s by default)" in readme
