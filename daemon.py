#!/usr/bin/env python3
"""Run the bot as a classic Unix daemon: ``python daemon.py start|stop|status|restart``.

``start`` double-forks (``fork``, ``setsid``, ``fork``: the daemon is no session leader, so it can
never acquire a controlling terminal), sets ``umask 027``, changes to the bot directory (not
``/``: the bot's relative paths such as ``.env`` and ``data/`` are relative to it), points
stdin at ``/dev/null`` and stdout/stderr at ``logs/orchestrator.out``, closes every other
inherited file descriptor, takes an exclusive ``fcntl.flock`` on ``data/alpaca_bot.pid``, writes
its PID there and then *executes* ``.venv/bin/python orchestrator.py`` in place. The bot keeps
the PID and the locked descriptor, so the lock lives exactly as long as the bot: a second
``start`` (from here or from ``bot.sh``, which uses the same lock) is refused, and a PID file
whose lock is free is stale whatever PID it names.

SIGTERM (``stop``) reaches the bot itself, which shuts down gracefully (cancels open orders,
closes positions while the market is open); ``stop`` escalates to SIGKILL only after
``--timeout`` seconds, and says so.

``status`` exits 0 and prints the PID when the bot runs, 3 when it does not (LSB), then prints
``fleece status`` unless ``--brief``. Environment overrides, as for ``bot.sh``: ``BOT_ROOT``,
``BOT_PYTHON``, ``BOT_PID_FILE``, ``BOT_LOG_FILE``, ``BOT_STOP_TIMEOUT``, ``BOT_START_WAIT``.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import os
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(os.environ.get("BOT_ROOT") or Path(__file__).parent).resolve()
sys.path.insert(0, str(ROOT / "src"))

from fleece.bot_process import (  # noqa: E402 (stdlib only)
    DEFAULT_PID_FILE,
    START_WAIT_SECONDS,
    STOP_TIMEOUT_SECONDS,
    process_argv,
    read_pid,
)
from fleece.logs import DEFAULT_LOG_DIR, log_file  # noqa: E402 (stdlib only)

ENTRY = ROOT / "orchestrator.py"
PID_FILE = Path(os.environ.get("BOT_PID_FILE") or ROOT / DEFAULT_PID_FILE)
LOG_FILE = Path(os.environ.get("BOT_LOG_FILE") or log_file(ROOT / DEFAULT_LOG_DIR))
VENV_PYTHON = ROOT / ".venv" / "bin" / "python"
PYTHON = Path(
    os.environ.get("BOT_PYTHON") or (VENV_PYTHON if VENV_PYTHON.exists() else sys.executable)
)
STOP_TIMEOUT = float(os.environ.get("BOT_STOP_TIMEOUT") or STOP_TIMEOUT_SECONDS)
START_WAIT = float(os.environ.get("BOT_START_WAIT") or START_WAIT_SECONDS)
UMASK = 0o027

EXIT_OK = 0
EXIT_FAILED = 1
STATUS_NOT_RUNNING = 3
EXIT_NO_PRIVILEGE = 4
EXIT_NOT_INSTALLED = 5


def say(message: str) -> None:
    """Print a line for the operator."""
    print(message, flush=True)


def warn(message: str) -> None:
    """Print a warning line on stderr."""
    print(f"daemon.py: {message}", file=sys.stderr, flush=True)


def log_line(level: str, message: str) -> None:
    """Append a line to the bot's log in its own layout, so one file tells the whole story."""
    stamp = datetime.now().strftime("%Y-%m-%d %H:%M:%S,000")
    with contextlib.suppress(OSError), LOG_FILE.open("a", encoding="utf-8") as out:
        out.write(f"{stamp} {level} daemon.py {message}\n")


# --------------------------------------------------------------------------- the PID file


def is_our_bot(pid: int) -> bool:
    """True when ``pid`` is a Python running this directory's ``orchestrator.py``."""
    argv = process_argv(pid)
    if not argv:
        return False
    return Path(argv[0]).name.startswith("python") and str(ENTRY) in argv[1:]


def is_alive(pid: int) -> bool:
    """True while ``pid`` exists and is no zombie.

    Not judged by the command line, which reads empty for an instant during ``exec``.
    """
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    except OSError:
        return process_argv(pid) is not None  # no /proc: ask ps
    return stat[stat.rindex(")") + 2 :].split()[0] != "Z"


def lock_pid_file() -> int | None:
    """Open and exclusively lock the PID file; return its descriptor, or None if it is held.

    The descriptor is close-on-exec until :func:`become_bot` hands it to the bot.
    """
    PID_FILE.parent.mkdir(parents=True, exist_ok=True)
    while True:
        fd = os.open(PID_FILE, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        # A stale-file cleanup may have replaced the file between our open and our lock:
        # a lock on a file no longer at PID_FILE protects nothing, so try again.
        try:
            same = os.fstat(fd).st_ino == PID_FILE.stat().st_ino
        except FileNotFoundError:
            same = False
        if same:
            return fd
        os.close(fd)


def find_bot() -> int | None:
    """Return the running bot's PID, cleaning a stale PID file on the way."""
    pid = read_pid(PID_FILE)
    if pid is not None and is_our_bot(pid):
        return pid
    if PID_FILE.exists():
        try:
            fd = lock_pid_file()
        except PermissionError:
            return pid  # another user's bot directory: nothing to clean up from here
        if fd is None:
            # Held, so a bot is starting (locked, not yet executed) or runs: trust the lock.
            return pid
        try:
            if pid is None:
                warn(f"removing empty PID file {PID_FILE}")
            elif process_argv(pid) is not None:
                warn(f"removing stale PID file {PID_FILE}: PID {pid} is another program")
            else:
                warn(f"removing stale PID file {PID_FILE}: PID {pid} is not running")
            PID_FILE.unlink(missing_ok=True)
        finally:
            os.close(fd)
    return scan_for_bot()


def scan_for_bot() -> int | None:
    """Find this directory's bot without its PID file (someone deleted it), and rewrite it."""
    proc = Path("/proc")
    if not proc.is_dir():
        return None
    for entry in proc.iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid() and is_our_bot(int(entry.name)):
            pid = int(entry.name)
            warn(f"found the bot running without its PID file (PID {pid}): rewriting {PID_FILE}")
            PID_FILE.write_text(f"{pid}\n", encoding="ascii")
            return pid
    return None


# --------------------------------------------------------------------------- start


def start(wait_seconds: float) -> int:
    """Daemonise and execute the bot; wait until it runs, fails, or ``wait_seconds`` pass."""
    pid = find_bot()
    if pid is not None:
        warn(f"already running (PID {pid}): refusing to start a second instance")
        return EXIT_FAILED
    if not os.access(PYTHON, os.X_OK) or not ENTRY.is_file():
        warn(f"cannot run {PYTHON} {ENTRY}: run 'make sync' (or 'uv sync --frozen') first")
        return EXIT_NOT_INSTALLED
    LOG_FILE.parent.mkdir(parents=True, exist_ok=True)
    offset = log_size()
    log_line("INFO", f"starting {ENTRY} (root {ROOT})")
    sys.stdout.flush()
    sys.stderr.flush()
    read_end, write_end = os.pipe()  # the daemon reports its PID (or why it failed) here
    first = os.fork()
    if first == 0:
        os.close(read_end)
        os.setsid()
        if os.fork() != 0:
            os._exit(0)  # the session leader leaves; its child can never get a terminal
        become_bot(write_end)
    os.close(write_end)
    os.waitpid(first, 0)
    with os.fdopen(read_end, encoding="utf-8") as reports:
        report = reports.read()  # until the daemon executes the bot (close-on-exec) or exits
    if not report.startswith("pid "):
        warn(report.strip() or "the daemon died before reporting")
        return EXIT_FAILED
    words = report.split()
    pid = int(words[1])
    if len(words) > 2:
        warn(" ".join(words[2:]))
        return EXIT_FAILED
    return watch_start(pid, offset, wait_seconds)


def become_bot(report_fd: int) -> None:
    """In the daemon process: set up the process, lock the PID file and execute the bot."""
    os.write(report_fd, f"pid {os.getpid()}".encode())
    try:
        os.chdir(ROOT)
        os.umask(UMASK)
        lock_fd = lock_pid_file()
        if lock_fd is None:
            raise RuntimeError(f"another bot holds the lock on {PID_FILE}: refusing to start")
        os.ftruncate(lock_fd, 0)
        os.write(lock_fd, f"{os.getpid()}\n".encode())
        redirect_standard_streams()
        close_other_descriptors(keep={lock_fd, report_fd})
        os.set_inheritable(lock_fd, True)  # the bot holds the lock for as long as it lives
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, signal.SIG_DFL)
        os.execv(PYTHON, [str(PYTHON), str(ENTRY)])  # noqa: S606 (fixed argv, no shell)
    except BaseException as exc:  # report anything: the operator's terminal is the parent's
        os.write(report_fd, f" {type(exc).__name__}: {exc}".encode())
        os._exit(EXIT_FAILED)


def redirect_standard_streams() -> None:
    """stdin from /dev/null; stdout and stderr appended to the log file."""
    null = os.open(os.devnull, os.O_RDONLY)
    out = os.open(LOG_FILE, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
    os.dup2(null, 0)
    os.dup2(out, 1)
    os.dup2(out, 2)
    os.close(null)
    os.close(out)


def close_other_descriptors(keep: set[int]) -> None:
    """Close every descriptor above 2 except ``keep`` (what we inherited must not leak)."""
    fd_dir = Path("/proc/self/fd")
    if fd_dir.is_dir():
        candidates = sorted(int(p.name) for p in fd_dir.iterdir() if p.name.isdigit())
    else:
        limit = os.sysconf("SC_OPEN_MAX") if hasattr(os, "sysconf") else 1024
        candidates = list(range(3, min(limit, 65536)))
    for fd in candidates:
        if fd > 2 and fd not in keep:
            with contextlib.suppress(OSError):
                os.close(fd)


def log_size() -> int:
    """The log file's size in bytes (0 when missing)."""
    try:
        return LOG_FILE.stat().st_size
    except OSError:
        return 0


def log_since(offset: int) -> str:
    """What the log gained since byte ``offset`` (all of it if it rotated meanwhile)."""
    try:
        with LOG_FILE.open("rb") as log:
            size = log.seek(0, os.SEEK_END)
            log.seek(offset if offset <= size else 0)
            return log.read().decode(errors="replace")
    except OSError:
        return ""


def watch_start(pid: int, offset: int, wait_seconds: float) -> int:
    """Report whether the fresh bot reached ``bot running``, died, or is still starting."""
    deadline = time.monotonic() + wait_seconds
    while True:
        if not is_alive(pid):
            warn("the bot exited during start-up; last log lines:")
            print("\n".join(log_since(offset).splitlines()[-15:]), file=sys.stderr)
            return EXIT_FAILED
        if " bot running " in log_since(offset):
            say(f"alpaca-bot started (PID {pid}); log: {LOG_FILE}")
            return EXIT_OK
        if time.monotonic() >= deadline:
            say(f"alpaca-bot started (PID {pid}), still starting up; log: {LOG_FILE}")
            return EXIT_OK
        time.sleep(0.25)


# --------------------------------------------------------------------------- stop, status


def stop(timeout: float) -> int:
    """SIGTERM the bot and wait for its graceful shutdown; SIGKILL after ``timeout`` seconds."""
    pid = find_bot()
    if pid is None:
        say("alpaca-bot is not running")
        return EXIT_OK
    say(f"stopping alpaca-bot (PID {pid}): SIGTERM, graceful shutdown (up to {timeout:g}s)")
    log_line("INFO", f"sending SIGTERM to PID {pid}")
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        pass  # it ended on its own meanwhile
    except PermissionError:
        warn(f"cannot signal PID {pid}: run as the user the bot runs as")
        return EXIT_NO_PRIVILEGE
    if not wait_gone(pid, timeout):
        warn(f"no exit {timeout:g}s after SIGTERM: sending SIGKILL to PID {pid} and its group")
        warn("the graceful shutdown did not finish: check open orders and positions")
        log_line("ERROR", f"no exit {timeout:g}s after SIGTERM: SIGKILL sent to PID {pid}")
        kill_hard(pid)
        if not wait_gone(pid, 5.0):
            warn(f"PID {pid} is still alive")
            return EXIT_FAILED
    if read_pid(PID_FILE) == pid:
        PID_FILE.unlink(missing_ok=True)
    say("alpaca-bot stopped")
    return EXIT_OK


def wait_gone(pid: int, seconds: float) -> bool:
    """Wait up to ``seconds`` for ``pid`` to stop being the bot; True once it has."""
    deadline = time.monotonic() + seconds
    while is_our_bot(pid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.2)
    return True


def kill_hard(pid: int) -> None:
    """SIGKILL the bot's process group (never our own), or the bot alone."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        group = os.getpgid(pid)
        if group != os.getpgid(0):
            os.killpg(group, signal.SIGKILL)
            return
        os.kill(pid, signal.SIGKILL)


def status(brief: bool) -> int:
    """Print whether the bot runs (exit 0) or not (exit 3), then ``fleece status``."""
    pid = find_bot()
    if pid is not None:
        say(f"alpaca-bot is running (PID {pid})")
    else:
        say("alpaca-bot is not running")
    if not brief and os.access(PYTHON, os.X_OK):
        env = {**os.environ, "BOT_PID_FILE": str(PID_FILE)}
        done = subprocess.run(
            [str(PYTHON), "-m", "fleece", "status"], cwd=ROOT, env=env, check=False
        )
        if done.returncode != 0:
            warn("fleece status could not read the store (see above)")
    return EXIT_OK if pid is not None else STATUS_NOT_RUNNING


def main(argv: list[str] | None = None) -> int:
    """Parse the command and run it; returns the exit code."""
    parser = argparse.ArgumentParser(prog="daemon.py", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    start_cmd = commands.add_parser("start", help="start the bot as a daemon")
    start_cmd.add_argument("--wait", type=float, default=START_WAIT, help="seconds to watch")
    stop_cmd = commands.add_parser("stop", help="stop it gracefully (SIGTERM)")
    stop_cmd.add_argument("--timeout", type=float, default=STOP_TIMEOUT, help="before SIGKILL")
    status_cmd = commands.add_parser("status", help="exit 0 when running, 3 when not")
    status_cmd.add_argument("--brief", action="store_true", help="the PID line only")
    restart_cmd = commands.add_parser("restart", help="stop, then start")
    restart_cmd.add_argument("--wait", type=float, default=START_WAIT)
    restart_cmd.add_argument("--timeout", type=float, default=STOP_TIMEOUT)
    args = parser.parse_args(argv)
    if args.command == "start":
        return start(args.wait)
    if args.command == "stop":
        return stop(args.timeout)
    if args.command == "status":
        return status(args.brief)
    code = stop(args.timeout)
    return start(args.wait) if code == EXIT_OK else code


if __name__ == "__main__":
    sys.exit(main())
