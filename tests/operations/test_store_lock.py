"""One bot per store: a second bot, however started, refuses in one line; the tools work beside it.

Two bot directories share one ``DATABASE_PATH``. The first bot runs for real (``./bot.sh start``,
FLEECE_MODE=sim); from the second directory every way of starting a bot is tried (``fleece run``,
``python orchestrator.py``, ``./bot.sh start``, ``python daemon.py start``), each a real process
against the lock the first one holds, then the operator's tools that must keep working beside it.
A second ``fleece demo`` beside a running one must neither run nor delete the first one's store.
"""

from __future__ import annotations

import re
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from ops_helpers import (
    TRADING_YAML,
    VENV_PYTHON,
    BotDir,
    clean_environ,
    kill_leftover,
    make_bot_dir,
    process_exists,
    wait_running,
    wait_until,
)

from fleece.state_store import StateStore
from fleece.store_lock import holder

WAIT_S = 120


@dataclass
class Beside:
    """A bot from one directory, and what bots and tools from another did beside it."""

    first: BotDir
    second: BotDir
    db: Path
    pid: int
    starts: dict[str, subprocess.CompletedProcess[str]] = field(default_factory=dict)
    second_log: str = ""
    tools: dict[str, subprocess.CompletedProcess[str]] = field(default_factory=dict)
    kill_switch_seen: tuple[bool, str] = (False, "")
    dashboard_status: int = 0
    dashboard_exit: int | None = None
    first_alive: bool = False
    holder_seen: int | None = None
    stop: subprocess.CompletedProcess[str] | None = None


def fleece(bot: BotDir, *args: str) -> subprocess.CompletedProcess[str]:
    """``python -m fleece ARGS`` in ``bot``'s directory (its .env, its logs)."""
    return bot.run(str(VENV_PYTHON), "-m", "fleece", *args, timeout=WAIT_S)


@pytest.fixture(scope="module")
def beside(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Beside]:
    root = tmp_path_factory.mktemp("store-lock")
    db = root / "shared" / "trades.db"
    first = make_bot_dir(root / "a", speed=20, env_lines=f"DATABASE_PATH={db}\n")
    second = make_bot_dir(root / "b", speed=20, env_lines=f"DATABASE_PATH={db}\n")
    try:
        start = first.run("./bot.sh", "start")
        assert start.returncode == 0, start.stderr + first.log()
        wait_running(first)  # it holds the store's lock from then on
        found = Beside(first, second, db, first.pid())
        found.starts["fleece run"] = fleece(second, "run")
        found.starts["orchestrator.py"] = second.run(str(VENV_PYTHON), "orchestrator.py")
        found.starts["bot.sh"] = second.run("./bot.sh", "start")
        found.starts["daemon.py"] = second.run(str(VENV_PYTHON), "daemon.py", "start")
        found.second_log = second.log()
        found.holder_seen = holder(db)
        for tool in ("status", "reset-breaker"):
            found.tools[tool] = fleece(second, tool)
        found.tools["halt"] = fleece(second, "halt", "--reason", "beside the bot")
        with StateStore(db) as store:
            found.kill_switch_seen = store.kill_switch()
        found.tools["resume"] = fleece(second, "resume")
        found.dashboard_status, found.dashboard_exit = _dashboard_beside(second, db)
        found.first_alive = process_exists(found.pid)
        found.stop = first.run("./bot.sh", "stop")
        yield found
    finally:
        kill_leftover(first)
        kill_leftover(second)


def _dashboard_beside(bot: BotDir, db: Path) -> tuple[int, int | None]:
    """``fleece dashboard --db`` over the running bot's store: one API answer, then SIGTERM."""
    command = [str(VENV_PYTHON), "-m", "fleece", "dashboard", "--port", "0", "--db", str(db)]
    process = subprocess.Popen(
        command, cwd=bot.root, env=clean_environ(), stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        found = re.search(r"listening on (http://\S+)", line)
        assert found is not None, line
        answer = httpx.get(f"{found[1]}/api/status", timeout=30)
    finally:
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=60)
    return answer.status_code, code


@pytest.mark.parametrize("how", ["fleece run", "orchestrator.py"])
def test_a_second_bot_on_the_store_refuses_in_one_line_naming_the_store_and_the_pid(
    beside: Beside, how: str
) -> None:
    refused = beside.starts[how]

    assert refused.returncode == 2
    lines = refused.stderr.strip().splitlines()
    assert len(lines) == 1, refused.stderr
    assert f"{beside.db}: another bot is running on this store (PID {beside.pid})" in lines[0]
    assert "Traceback" not in refused.stderr


@pytest.mark.parametrize("how", ["bot.sh", "daemon.py"])
def test_a_second_bot_started_in_the_background_dies_with_the_same_line(
    beside: Beside, how: str
) -> None:
    refused = beside.starts[how]

    assert refused.returncode == 1  # the launcher's "the bot died during start-up"
    assert f"another bot is running on this store (PID {beside.pid})" in refused.stderr


def test_the_refused_bots_start_nothing_and_send_nothing(beside: Beside) -> None:
    log = beside.second_log

    assert log.count("another bot is running on this store") == 4
    assert "built-in exchange started" not in log and "bot running" not in log


def test_the_lock_names_the_running_bot(beside: Beside) -> None:
    assert beside.holder_seen == beside.pid


def test_status_halt_resume_and_reset_breaker_work_beside_the_running_bot(
    beside: Beside,
) -> None:
    codes = {tool: done.returncode for tool, done in beside.tools.items()}

    assert codes == {"status": 0, "reset-breaker": 0, "halt": 0, "resume": 0}
    assert f"running · PID {beside.pid}" in beside.tools["status"].stdout
    assert beside.kill_switch_seen == (True, "beside the bot")


def test_the_dashboard_over_the_running_bots_store_works_beside_it(beside: Beside) -> None:
    assert beside.dashboard_status == 200 and beside.dashboard_exit == 0


def test_the_first_bot_ran_on_and_stopped_gracefully(beside: Beside) -> None:
    assert beside.first_alive
    assert beside.stop is not None and beside.stop.returncode == 0
    assert holder(beside.db) is None  # released with the process


def test_a_second_demo_neither_runs_nor_deletes_the_first_demos_store(tmp_path: Path) -> None:
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "trading.yaml").write_text(TRADING_YAML)
    env = clean_environ({"DASHBOARD_ENABLED": "false", "PYTHONUNBUFFERED": "1"})
    command = [str(VENV_PYTHON), "-m", "fleece", "demo", "--speed", "20"]
    first = subprocess.Popen(
        command, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    db = tmp_path / "data" / "demo" / "trades.db"
    log = tmp_path / "logs" / "orchestrator.out"
    try:
        assert wait_until(lambda: log.exists() and "bot running" in log.read_text(), WAIT_S)
        inode = db.stat().st_ino
        second = subprocess.run(
            command,
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=WAIT_S,
            check=False,
        )
        still_running = first.poll() is None
        same_store = db.stat().st_ino == inode
    finally:
        first.send_signal(signal.SIGTERM)
        first_code = first.wait(timeout=WAIT_S)

    assert second.returncode == 2
    assert second.stderr.strip().splitlines() == [
        f"error: {db}: another bot is running on this store (PID {first.pid}); stop it first, "
        "or set DATABASE_PATH to another store"
    ]
    assert still_running and same_store
    assert first_code == 0
