"""Which process is the bot: its PID file, ``/proc`` (or ``ps``) and its command line.

The PID in ``data/alpaca_bot.pid`` (written by ``bot.sh`` and ``daemon.py``) counts only while
that process is alive and its command line is the bot's (``orchestrator.py`` or ``fleece run``):
a PID file left by a crash, or a PID since reused by another program, is stale. A bot started
without a PID file (``fleece run``, systemd, Docker) is found through the PID of the store's
latest unfinished run, which the caller reads.

Standard library only: ``daemon.py`` imports it before the bot's dependencies are checked.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

DEFAULT_PID_FILE = Path("data/alpaca_bot.pid")
"""Where ``bot.sh`` and ``daemon.py`` write the bot's PID, relative to the bot directory."""
STOP_TIMEOUT_SECONDS = 90
"""How long every launcher waits after SIGTERM before it sends SIGKILL: systemd's
``TimeoutStopSec``, Docker's ``stop_grace_period`` and ``BOT_STOP_TIMEOUT``'s default in
``bot.sh`` and ``daemon.py``. The graceful shutdown and its last messages are bounded below it
(:data:`fleece.config_bounds.STOP_BUDGET_SECONDS`)."""
START_WAIT_SECONDS = 20
"""How long ``bot.sh`` and ``daemon.py`` watch a fresh start (``BOT_START_WAIT``'s default)."""


def read_pid(path: Path) -> int | None:
    """Return the PID written in ``path``, or None if it is missing, empty or not a PID."""
    try:
        text = path.read_text(encoding="ascii", errors="replace").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() and int(text) > 0 else None


def process_argv(pid: int) -> list[str] | None:
    """Return the command line of process ``pid``, or None when no such process exists.

    A zombie (exited, not yet reaped) has an empty command line, so it never looks like the bot.
    """
    proc = Path("/proc")
    if proc.is_dir():
        try:
            raw = (proc / str(pid) / "cmdline").read_bytes()
        except (FileNotFoundError, ProcessLookupError):
            return None
        except OSError:
            return []
        return [part.decode(errors="replace") for part in raw.split(b"\0") if part]
    # No /proc (macOS): ask ps, which loses the argument boundaries but keeps the words.
    done = subprocess.run(
        ["ps", "-p", str(pid), "-o", "args="], capture_output=True, text=True, check=False
    )
    return done.stdout.split() if done.returncode == 0 and done.stdout.strip() else None


def is_bot_argv(argv: list[str]) -> bool:
    """True when a command line runs the bot: ``python ... orchestrator.py`` or ``fleece run``.

    An editor or ``tail`` with ``orchestrator.py`` among its arguments is not the bot.
    """
    names = [Path(arg).name for arg in argv]
    if names and names[0].startswith("python") and "orchestrator.py" in names[1:]:
        return True
    return "fleece" in names and "run" in names[names.index("fleece") + 1 :]


@dataclass(frozen=True, slots=True)
class ProcessStatus:
    """Whether the bot runs, and how we know.

    Attributes:
        running: a live bot process was found.
        pid: its PID (None when not running).
        source: ``pid file`` or ``store`` (the latest unfinished run), or ``""``.
        pid_file: the PID file consulted.
        stale_pid: a PID from the PID file that is not (or no longer) the bot.
    """

    running: bool
    pid: int | None
    source: str
    pid_file: str
    stale_pid: int | None = None


def bot_pid_from_file(pid_file: Path) -> tuple[int | None, int | None]:
    """Return (live bot PID, stale PID) from a PID file; at most one of them is set."""
    pid = read_pid(pid_file)
    if pid is None:
        return None, None
    argv = process_argv(pid)
    if argv is not None and is_bot_argv(argv):
        return pid, None
    return None, pid


def find_bot_process(pid_file: Path, unfinished_run_pid: int | None) -> ProcessStatus:
    """Find the running bot from the PID file, else from the store's unfinished run."""
    shown = str(pid_file)
    live, stale = bot_pid_from_file(pid_file)
    if live is not None:
        return ProcessStatus(True, live, "pid file", shown)
    if unfinished_run_pid is not None:
        argv = process_argv(unfinished_run_pid)
        if argv is not None and is_bot_argv(argv):
            return ProcessStatus(True, unfinished_run_pid, "store", shown, stale)
    return ProcessStatus(False, None, "", shown, stale)


__all__ = [
    "DEFAULT_PID_FILE",
    "START_WAIT_SECONDS",
    "STOP_TIMEOUT_SECONDS",
    "ProcessStatus",
    "bot_pid_from_file",
    "find_bot_process",
    "is_bot_argv",
    "process_argv",
    "read_pid",
]
