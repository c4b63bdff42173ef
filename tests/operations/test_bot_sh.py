"""``./bot.sh start|stop|status|restart``: the real bot on the built-in exchange, then edge cases.

One module-scoped run starts the bot (FLEECE_MODE=sim), looks at it while it trades, stops it
with SIGTERM and keeps every answer; each test then checks one behaviour of that run. The edge
cases (stale PID files, SIGKILL escalation, a bot failing at start-up) use a stand-in bot.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from ops_helpers import (
    VENV_PYTHON,
    BotDir,
    hold_positions,
    kill_leftover,
    make_bot_dir,
    process_exists,
    session_and_group,
    wait_running,
)

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="needs /proc and setsid")

STATUS_NOT_RUNNING = 3


@dataclass(frozen=True)
class Lifecycle:
    """What one start / look / stop of the real bot through bot.sh produced."""

    bot: BotDir
    start: subprocess.CompletedProcess[str]
    pid: int
    argv: list[str]
    session_group: tuple[int, int]
    status: subprocess.CompletedProcess[str]
    second_start: subprocess.CompletedProcess[str]
    daemon_start: subprocess.CompletedProcess[str]
    held_positions: dict[str, int]
    stop: subprocess.CompletedProcess[str]
    status_after: subprocess.CompletedProcess[str]


@pytest.fixture(scope="module")
def lifecycle(tmp_path_factory: pytest.TempPathFactory) -> Lifecycle:
    bot = make_bot_dir(tmp_path_factory.mktemp("botsh"))
    try:
        start = bot.run("./bot.sh", "start")
        assert start.returncode == 0, start.stderr + bot.log()
        wait_running(bot)
        pid = bot.pid()
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")[:-1]
        session_group = session_and_group(pid)
        status = bot.run("./bot.sh", "status")
        second_start = bot.run("./bot.sh", "start")
        daemon_start = bot.run(str(VENV_PYTHON), "daemon.py", "start")
        held = hold_positions(bot)
        stop = bot.run("./bot.sh", "stop")
    finally:
        kill_leftover(bot)  # a failed step above must not leave a bot running
    return Lifecycle(
        bot,
        start,
        pid,
        argv,
        session_group,
        status,
        second_start,
        daemon_start,
        held,
        stop,
        bot.run("./bot.sh", "status", "--brief"),
    )


def test_start_reports_the_pid_and_exits_0(lifecycle: Lifecycle) -> None:
    assert lifecycle.start.returncode == 0
    assert f"started (PID {lifecycle.pid})" in lifecycle.start.stdout


def test_the_bot_is_the_venv_python_running_orchestrator_py(lifecycle: Lifecycle) -> None:
    root = lifecycle.bot.root.resolve()
    assert lifecycle.argv == [str(root / ".venv/bin/python"), str(root / "orchestrator.py")]


def test_the_bot_leads_a_new_session_and_process_group(lifecycle: Lifecycle) -> None:
    assert lifecycle.session_group == (lifecycle.pid, lifecycle.pid)


def test_status_exits_0_with_the_pid_then_the_store_report(lifecycle: Lifecycle) -> None:
    status = lifecycle.status
    assert status.returncode == 0
    first, *rest = status.stdout.splitlines()
    assert first == f"alpaca-bot is running (PID {lifecycle.pid})"
    report = "\n".join(rest)
    assert f"running · PID {lifecycle.pid}" in report
    assert "trading state" in report and "ACTIVE" in report


def test_a_second_start_is_refused_while_the_bot_runs(lifecycle: Lifecycle) -> None:
    assert lifecycle.second_start.returncode == 1
    assert f"already running (PID {lifecycle.pid})" in lifecycle.second_start.stderr


def test_daemon_py_also_refuses_to_start_a_second_bot(lifecycle: Lifecycle) -> None:
    assert lifecycle.daemon_start.returncode == 1
    assert f"already running (PID {lifecycle.pid})" in lifecycle.daemon_start.stderr


def test_output_is_appended_to_logs_orchestrator_out_once(lifecycle: Lifecycle) -> None:
    log = lifecycle.bot.log()
    assert "INFO bot.sh starting" in log
    assert log.count(" bot running mode=sim") == 1  # stderr is the file: no doubled lines


def test_stop_sends_sigterm_and_the_bot_shuts_down_gracefully(lifecycle: Lifecycle) -> None:
    log = lifecycle.bot.log()
    assert lifecycle.stop.returncode == 0
    assert "alpaca-bot stopped" in lifecycle.stop.stdout
    assert "signal SIGTERM received: shutting down gracefully" in log
    assert "shutdown cancelled open orders" in log
    assert "shutdown complete" in log
    assert "SIGKILL" not in lifecycle.stop.stderr
    assert not process_exists(lifecycle.pid)
    assert not lifecycle.bot.pid_file.exists()


def test_shutdown_closed_the_positions_at_the_exchange(lifecycle: Lifecycle) -> None:
    bot = lifecycle.bot
    shutdown_lines = [line for line in bot.log().splitlines() if "shutdown" in line]
    assert lifecycle.held_positions, "the bot never held shares while the market was open"
    assert "shutdown begins market_open=True" in bot.log()
    closing = bot.intents("shutdown-")
    assert closing, (lifecycle.held_positions, shutdown_lines)
    assert {status for _, status in closing} == {"filled"}
    assert bot.net_positions() == {}
    assert bot.query("SELECT COUNT(*) FROM bot_runs WHERE exit_reason = 'signal SIGTERM'") == [(1,)]


def test_status_exits_3_once_stopped(lifecycle: Lifecycle) -> None:
    assert lifecycle.status_after.returncode == STATUS_NOT_RUNNING
    assert lifecycle.status_after.stdout.strip() == "alpaca-bot is not running"


# --------------------------------------------------------------------------- edge cases


@pytest.fixture
def fake_bot(tmp_path: Path) -> BotDir:
    return make_bot_dir(tmp_path, fake=True)


@pytest.fixture
def other_program() -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(["sleep", "60"])
    yield proc
    proc.kill()
    proc.wait()


def dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def test_status_cleans_a_pid_file_whose_process_is_gone(fake_bot: BotDir) -> None:
    fake_bot.pid_file.parent.mkdir(parents=True)
    fake_bot.pid_file.write_text(f"{dead_pid()}\n")

    result = fake_bot.run("./bot.sh", "status", "--brief")

    assert result.returncode == STATUS_NOT_RUNNING
    assert "is not running" in result.stderr and "stale PID file" in result.stderr
    assert not fake_bot.pid_file.exists()


def test_status_cleans_a_pid_file_whose_pid_was_reused_by_another_program(
    fake_bot: BotDir, other_program: subprocess.Popen[bytes]
) -> None:
    fake_bot.pid_file.parent.mkdir(parents=True)
    fake_bot.pid_file.write_text(f"{other_program.pid}\n")

    result = fake_bot.run("./bot.sh", "status", "--brief")

    assert result.returncode == STATUS_NOT_RUNNING
    assert "another program" in result.stderr
    assert not fake_bot.pid_file.exists()
    assert other_program.poll() is None


def test_stop_with_a_stale_pid_file_signals_nobody(
    fake_bot: BotDir, other_program: subprocess.Popen[bytes]
) -> None:
    fake_bot.pid_file.parent.mkdir(parents=True)
    fake_bot.pid_file.write_text(f"{other_program.pid}\n")

    result = fake_bot.run("./bot.sh", "stop")

    assert result.returncode == 0
    assert "not running" in result.stdout
    assert other_program.poll() is None


def test_start_replaces_a_stale_pid_file(fake_bot: BotDir) -> None:
    fake_bot.pid_file.parent.mkdir(parents=True)
    fake_bot.pid_file.write_text(f"{dead_pid()}\n")

    started = fake_bot.run("./bot.sh", "start")
    try:
        assert started.returncode == 0, started.stderr
        assert "stale PID file" in started.stderr
        assert process_exists(fake_bot.pid())
    finally:
        fake_bot.run("./bot.sh", "stop")


def test_stop_escalates_to_sigkill_after_the_timeout_and_says_so(fake_bot: BotDir) -> None:
    started = fake_bot.run("./bot.sh", "start", env={"FAKE_MODE": "stubborn"})
    assert started.returncode == 0, started.stderr
    pid = fake_bot.pid()

    stopped = fake_bot.run("./bot.sh", "stop", env={"BOT_STOP_TIMEOUT": "1"})

    assert stopped.returncode == 0
    assert "no exit 1s after SIGTERM: sending SIGKILL" in stopped.stderr
    assert "ERROR bot.sh no exit 1s after SIGTERM" in fake_bot.log()
    assert not process_exists(pid)
    assert not fake_bot.pid_file.exists()


def test_a_bot_that_dies_at_start_up_is_reported_with_its_log(fake_bot: BotDir) -> None:
    started = fake_bot.run("./bot.sh", "start", env={"FAKE_MODE": "fail"})

    assert started.returncode == 1
    assert "exited during start-up (exit code 2)" in started.stderr
    assert "error: config/trading.yaml: symbols: required key is missing" in started.stderr
    assert not fake_bot.pid_file.exists()


def test_a_deleted_pid_file_is_found_again_from_the_process_table(fake_bot: BotDir) -> None:
    assert fake_bot.run("./bot.sh", "start").returncode == 0
    pid = fake_bot.pid()
    try:
        fake_bot.pid_file.unlink()

        status = fake_bot.run("./bot.sh", "status", "--brief")
        second = fake_bot.run("./bot.sh", "start")

        assert status.returncode == 0 and f"(PID {pid})" in status.stdout
        assert fake_bot.pid() == pid
        assert second.returncode == 1
    finally:
        fake_bot.run("./bot.sh", "stop")


def test_restart_stops_then_starts_a_new_process(fake_bot: BotDir) -> None:
    assert fake_bot.run("./bot.sh", "start").returncode == 0
    first = fake_bot.pid()
    try:
        restarted = fake_bot.run("./bot.sh", "restart")

        assert restarted.returncode == 0, restarted.stderr
        assert "fake shutdown complete" in fake_bot.log()
        assert fake_bot.pid() != first and not process_exists(first)
    finally:
        fake_bot.run("./bot.sh", "stop")


def test_unknown_commands_print_the_usage(fake_bot: BotDir) -> None:
    result = fake_bot.run("./bot.sh", "launch")

    assert result.returncode == 2
    assert "usage:" in result.stderr
