"""``python daemon.py start|stop|status``: a double-forked daemon that becomes the bot.

One module-scoped run starts the real bot (FLEECE_MODE=sim) through daemon.py, inspects the
daemon's process attributes while it trades, stops it with SIGTERM and keeps every answer; the
edge cases use a stand-in bot.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from ops_helpers import (
    VENV_PYTHON,
    BotDir,
    controlling_tty,
    hold_positions,
    kill_leftover,
    make_bot_dir,
    open_files,
    process_exists,
    session_and_group,
    stat_fields,
    umask_of,
    wait_running,
)

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="needs /proc and fork")

STATUS_NOT_RUNNING = 3
PY = str(VENV_PYTHON)


@dataclass(frozen=True)
class DaemonRun:
    """What one start / look / stop of the real bot through daemon.py produced."""

    bot: BotDir
    start: subprocess.CompletedProcess[str]
    pid: int
    parent: int
    session_group: tuple[int, int]
    tty: int
    umask: int
    cwd: str
    files: dict[int, str]
    lock_was_held: bool
    leaked_marker: str
    status: subprocess.CompletedProcess[str]
    second_start: subprocess.CompletedProcess[str]
    bot_sh_start: subprocess.CompletedProcess[str]
    held_positions: dict[str, int]
    stop: subprocess.CompletedProcess[str]
    status_after: subprocess.CompletedProcess[str]


def lock_is_held(path: Path) -> bool:
    with path.open("rb") as pid_file:
        try:
            fcntl.flock(pid_file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(pid_file.fileno(), fcntl.LOCK_UN)
        return False


@pytest.fixture(scope="module")
def daemon_run(tmp_path_factory: pytest.TempPathFactory) -> DaemonRun:
    bot = make_bot_dir(tmp_path_factory.mktemp("daemon"))
    # An open file the launching shell passes down: a daemon must not keep it.
    marker = bot.root / "inherited-marker"
    marker_fd = os.open(marker, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        start = bot.run(PY, "daemon.py", "start", pass_fds=(marker_fd,))
        assert start.returncode == 0, start.stderr + bot.log()
        wait_running(bot)
        pid = bot.pid()
        facts = (
            int(stat_fields(pid)[1]),
            session_and_group(pid),
            controlling_tty(pid),
            umask_of(pid),
            os.readlink(f"/proc/{pid}/cwd"),
            open_files(pid),
            lock_is_held(bot.pid_file),
        )
        status = bot.run(PY, "daemon.py", "status")
        second_start = bot.run(PY, "daemon.py", "start")
        bot_sh_start = bot.run("./bot.sh", "start")
        held = hold_positions(bot)
        stop = bot.run(PY, "daemon.py", "stop")
    finally:
        os.close(marker_fd)
        kill_leftover(bot)
    return DaemonRun(
        bot,
        start,
        pid,
        *facts,
        leaked_marker=str(marker),
        status=status,
        second_start=second_start,
        bot_sh_start=bot_sh_start,
        held_positions=held,
        stop=stop,
        status_after=bot.run(PY, "daemon.py", "status", "--brief"),
    )


def test_start_reports_the_pid_and_exits_0(daemon_run: DaemonRun) -> None:
    assert daemon_run.start.returncode == 0
    assert f"started (PID {daemon_run.pid})" in daemon_run.start.stdout


def test_the_daemon_is_orphaned_no_session_leader_and_has_no_terminal(
    daemon_run: DaemonRun,
) -> None:
    session, group = daemon_run.session_group
    assert session != daemon_run.pid and group == session  # double fork: not the leader
    assert daemon_run.tty == 0
    assert daemon_run.parent != os.getpid()


def test_the_daemon_runs_in_the_bot_directory_with_umask_027(daemon_run: DaemonRun) -> None:
    assert daemon_run.cwd == str(daemon_run.bot.root.resolve())
    assert daemon_run.umask == 0o027


def test_stdin_is_dev_null_and_stdout_stderr_go_to_the_log(daemon_run: DaemonRun) -> None:
    log = str(daemon_run.bot.log_file.resolve())
    assert daemon_run.files[0] == "/dev/null"
    assert daemon_run.files[1] == log and daemon_run.files[2] == log


def test_inherited_file_descriptors_are_closed(daemon_run: DaemonRun) -> None:
    assert daemon_run.leaked_marker not in daemon_run.files.values()


def test_the_bot_holds_the_lock_on_its_pid_file(daemon_run: DaemonRun) -> None:
    assert daemon_run.lock_was_held
    assert str(daemon_run.bot.pid_file.resolve()) in daemon_run.files.values()


def test_status_exits_0_with_the_pid_then_the_store_report(daemon_run: DaemonRun) -> None:
    status = daemon_run.status
    assert status.returncode == 0
    assert status.stdout.splitlines()[0] == f"alpaca-bot is running (PID {daemon_run.pid})"
    assert f"running · PID {daemon_run.pid}" in status.stdout


def test_a_second_daemon_is_refused(daemon_run: DaemonRun) -> None:
    assert daemon_run.second_start.returncode == 1
    assert f"already running (PID {daemon_run.pid})" in daemon_run.second_start.stderr


def test_bot_sh_also_refuses_to_start_a_second_bot(daemon_run: DaemonRun) -> None:
    assert daemon_run.bot_sh_start.returncode == 1
    assert "already running" in daemon_run.bot_sh_start.stderr


def test_stop_sends_sigterm_and_the_bot_shuts_down_gracefully(daemon_run: DaemonRun) -> None:
    log = daemon_run.bot.log()
    assert daemon_run.stop.returncode == 0
    assert "signal SIGTERM received: shutting down gracefully" in log
    assert "shutdown complete" in log
    assert not process_exists(daemon_run.pid)
    assert not daemon_run.bot.pid_file.exists()


def test_shutdown_closed_the_positions_at_the_exchange(daemon_run: DaemonRun) -> None:
    bot = daemon_run.bot
    assert daemon_run.held_positions, "the bot never held shares while the market was open"
    closing = bot.intents("shutdown-")
    assert closing and {status for _, status in closing} == {"filled"}
    assert bot.net_positions() == {}


def test_status_exits_3_once_stopped(daemon_run: DaemonRun) -> None:
    assert daemon_run.status_after.returncode == STATUS_NOT_RUNNING


# --------------------------------------------------------------------------- edge cases


@pytest.fixture
def fake_bot(tmp_path: Path) -> Iterator[BotDir]:
    bot = make_bot_dir(tmp_path, fake=True)
    yield bot
    kill_leftover(bot)


def test_status_cleans_a_pid_file_whose_process_is_gone(fake_bot: BotDir) -> None:
    gone = subprocess.Popen(["true"])
    gone.wait()
    fake_bot.pid_file.parent.mkdir(parents=True)
    fake_bot.pid_file.write_text(f"{gone.pid}\n")

    result = fake_bot.run(PY, "daemon.py", "status", "--brief")

    assert result.returncode == STATUS_NOT_RUNNING
    assert "stale PID file" in result.stderr and "is not running" in result.stderr
    assert not fake_bot.pid_file.exists()


def test_status_cleans_a_pid_file_whose_pid_was_reused(fake_bot: BotDir) -> None:
    other = subprocess.Popen(["sleep", "60"])
    try:
        fake_bot.pid_file.parent.mkdir(parents=True)
        fake_bot.pid_file.write_text(f"{other.pid}\n")

        result = fake_bot.run(PY, "daemon.py", "status", "--brief")
        stop = fake_bot.run(PY, "daemon.py", "stop")

        assert result.returncode == STATUS_NOT_RUNNING
        assert "another program" in result.stderr
        assert stop.returncode == 0 and other.poll() is None
    finally:
        other.kill()
        other.wait()


def test_stop_escalates_to_sigkill_after_the_timeout_and_says_so(fake_bot: BotDir) -> None:
    assert fake_bot.run(PY, "daemon.py", "start", env={"FAKE_MODE": "stubborn"}).returncode == 0
    pid = fake_bot.pid()

    stopped = fake_bot.run(PY, "daemon.py", "stop", "--timeout", "1")

    assert stopped.returncode == 0
    assert "no exit 1s after SIGTERM: sending SIGKILL" in stopped.stderr
    assert "ERROR daemon.py no exit 1s after SIGTERM" in fake_bot.log()
    assert not process_exists(pid)


def test_a_bot_that_dies_at_start_up_is_reported_with_its_log(fake_bot: BotDir) -> None:
    started = fake_bot.run(PY, "daemon.py", "start", env={"FAKE_MODE": "fail"})

    assert started.returncode == 1
    assert "exited during start-up" in started.stderr
    assert "required key is missing" in started.stderr


def test_the_daemon_refuses_while_another_process_holds_the_lock(fake_bot: BotDir) -> None:
    fake_bot.pid_file.parent.mkdir(parents=True)
    with fake_bot.pid_file.open("w") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)

        started = fake_bot.run(PY, "daemon.py", "start")

    assert started.returncode == 1
    assert "lock" in started.stderr


def test_the_daemon_runs_under_a_python_without_the_bots_dependencies(fake_bot: BotDir) -> None:
    # `python daemon.py` may be the system Python: it only needs the standard library and
    # executes the bot with .venv/bin/python.
    base_python = Path(sys.base_prefix) / "bin" / "python3"
    started = fake_bot.run(str(base_python), "-I", "daemon.py", "start")
    try:
        assert started.returncode == 0, started.stderr
        argv = Path(f"/proc/{fake_bot.pid()}/cmdline").read_bytes().split(b"\0")
        assert argv[0].decode() == str(fake_bot.root.resolve() / ".venv/bin/python")
    finally:
        fake_bot.run(PY, "daemon.py", "stop")
