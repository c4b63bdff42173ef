"""Builders for the operations specifications: a throw-away bot directory, and ways to look at it.

A bot directory is what ``bot.sh`` and ``daemon.py`` expect: the scripts and ``orchestrator.py``
copied from the repository, ``.venv`` and ``src`` linked to it, a small ``config/trading.yaml``
and a ``.env`` selecting the built-in exchange (``FLEECE_MODE=sim``). The scripts find
everything relative to their own directory, so each test runs them in its own copy and never
touches the repository's ``data/`` or ``logs/``.
"""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from new_user import user_environ

REPO = Path(__file__).resolve().parents[2]
VENV_PYTHON = REPO / ".venv" / "bin" / "python"

# Few symbols and short windows: the bot trades within simulated minutes of the open.
TRADING_YAML = """\
symbols:
  list: [AAPL, MSFT, NVDA, SPY, QQQ]
strategy:
  fast: 2
  medium: 3
  slow: 5
shutdown:
  grace_seconds: 20
"""

# Beyond the bot's settings, the launchers' own variables (bot.sh's BOT_*, systemd's socket) must
# not leak from the developer's shell into the launcher under test either.
_LAUNCHER_VARIABLES = ("BOT_", "NOTIFY_SOCKET")

# A stand-in for orchestrator.py, for the launcher mechanics that need no market: it logs like
# the bot, then waits. FAKE_MODE=good exits 0 on SIGTERM, stubborn ignores SIGTERM, fail exits 2
# at once with the bot's one-line config error.
FAKE_ORCHESTRATOR = """\
import os, signal, sys, time
mode = os.environ.get("FAKE_MODE", "good")
if mode == "fail":
    print("error: config/trading.yaml: symbols: required key is missing", file=sys.stderr)
    sys.exit(2)
def stop(signum, frame):
    print("2024-01-01 00:00:00,000 INFO fake shutdown complete", flush=True)
    sys.exit(0)
signal.signal(signal.SIGTERM, signal.SIG_IGN if mode == "stubborn" else stop)
print("2024-01-01 00:00:00,000 INFO fake bot running mode=fake", flush=True)
while True:
    time.sleep(0.1)
"""


def clean_environ(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The user's environment (:func:`new_user.user_environ`) without the launchers' variables,
    plus ``extra``."""
    env = {k: v for k, v in user_environ().items() if not k.startswith(_LAUNCHER_VARIABLES)}
    env.update(extra or {})
    return env


@dataclass(frozen=True)
class BotDir:
    """A bot directory under test."""

    root: Path

    @property
    def pid_file(self) -> Path:
        return self.root / "data" / "alpaca_bot.pid"

    @property
    def log_file(self) -> Path:
        return self.root / "logs" / "orchestrator.out"

    @property
    def db(self) -> Path:
        return self.root / "data" / "trades.db"

    def run(
        self, *args: str, env: Mapping[str, str] | None = None, timeout: float = 180, **kw: object
    ) -> subprocess.CompletedProcess[str]:
        """Run a command in the bot directory; output captured as text."""
        return subprocess.run(
            list(args),
            cwd=self.root,
            env=clean_environ(env),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            **kw,  # type: ignore[arg-type]
        )

    def pid(self) -> int:
        return int(self.pid_file.read_text().strip())

    def log(self) -> str:
        return self.log_file.read_text(errors="replace") if self.log_file.exists() else ""

    def query(self, sql: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
        """Read the store without writing to it (the bot may be running)."""
        if not self.db.exists():
            return []
        conn = sqlite3.connect(self.db.as_uri() + "?mode=ro", uri=True, timeout=10)
        try:
            return conn.execute(sql, params).fetchall()
        except sqlite3.OperationalError:
            return []  # tables not created yet
        finally:
            conn.close()

    def net_positions(self) -> dict[str, int]:
        """Shares held per symbol according to the recorded fills."""
        rows = self.query(
            "SELECT symbol, SUM(CASE side WHEN 'buy' THEN qty ELSE -qty END) FROM trades"
            " GROUP BY symbol"
        )
        return {str(s): int(q) for s, q in rows if q}  # type: ignore[call-overload]

    def intents(self, prefix: str) -> list[tuple[str, str]]:
        """(client_order_id, status) of the intents whose id starts with ``prefix``."""
        rows = self.query(
            "SELECT client_order_id, status FROM order_intents WHERE client_order_id LIKE ?",
            (prefix + "%",),
        )
        return [(str(c), str(s)) for c, s in rows]


def make_bot_dir(
    parent: Path, *, speed: float = 60, fake: bool = False, env_lines: str = ""
) -> BotDir:
    """Build a bot directory in ``parent``; ``fake`` puts the stand-in bot in orchestrator.py."""
    root = parent / "bot"
    (root / "config").mkdir(parents=True)
    for name in ("bot.sh", "daemon.py"):
        shutil.copy2(REPO / name, root / name)
    if fake:
        (root / "orchestrator.py").write_text(FAKE_ORCHESTRATOR)
    else:
        shutil.copy2(REPO / "orchestrator.py", root / "orchestrator.py")
    (root / ".venv").symlink_to(REPO / ".venv")
    (root / "src").symlink_to(REPO / "src")
    (root / "config" / "trading.yaml").write_text(TRADING_YAML)
    # No dashboard: bots of parallel tests would compete for its port (8080).
    (root / ".env").write_text(
        f"FLEECE_MODE=sim\nSIM_SPEED={speed}\nSIM_START=2024-11-25\nSIM_DAYS=2\n"
        f"DASHBOARD_ENABLED=false\n{env_lines}"
    )
    return BotDir(root)


def wait_until(condition: Callable[[], bool], timeout: float, interval: float = 0.2) -> bool:
    """Poll ``condition`` until it holds (True) or ``timeout`` seconds pass (False)."""
    deadline = time.monotonic() + timeout
    while True:
        if condition():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


def wait_running(bot: BotDir, timeout: float = 180) -> None:
    """Wait until the bot started in ``bot`` logs ``bot running`` (phases 1 to 3 done).

    ``bot.sh start`` and ``daemon.py start`` return after BOT_START_WAIT (20 s) even when the
    bot is still starting, which on a loaded machine it may be: the store's lock, its state and
    its first heartbeat come later.
    """
    if not wait_until(lambda: " bot running " in bot.log(), timeout):
        raise AssertionError(f"the bot never logged 'bot running':\n{bot.log()[-3000:]}")


def process_exists(pid: int) -> bool:
    """True while ``pid`` is a live process (a zombie counts as gone)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return "\nState:\tZ" not in status


def stat_fields(pid: int) -> list[str]:
    """Fields of /proc/PID/stat after the command name (index 0 is the state)."""
    text = Path(f"/proc/{pid}/stat").read_text()
    return text[text.rindex(")") + 2 :].split()


def session_and_group(pid: int) -> tuple[int, int]:
    """(session id, process group id) of ``pid``."""
    fields = stat_fields(pid)
    return int(fields[3]), int(fields[2])


def controlling_tty(pid: int) -> int:
    """The tty_nr of ``pid`` (0: no controlling terminal)."""
    return int(stat_fields(pid)[4])


def open_files(pid: int) -> dict[int, str]:
    """File descriptor -> what it points at, for ``pid``."""
    fd_dir = Path(f"/proc/{pid}/fd")
    found = {}
    for entry in fd_dir.iterdir():
        try:
            found[int(entry.name)] = os.readlink(entry)
        except OSError:
            continue
    return found


def umask_of(pid: int) -> int:
    """The umask of ``pid`` (from /proc/PID/status)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Umask:"):
            return int(line.split()[1], 8)
    raise LookupError("no Umask line")


def market_open_at_last_heartbeat(bot: BotDir) -> bool:
    """True when the latest heartbeat's (simulated) time lies in a regular session."""
    from fleece.calendar import MarketCalendar
    from fleece.state_store import parse_ts

    rows = bot.query("SELECT timestamp_utc FROM heartbeats ORDER BY id DESC LIMIT 1")
    return bool(rows) and MarketCalendar().is_open(parse_ts(str(rows[0][0])))


def hold_positions(bot: BotDir, symbols: int = 2, timeout: float = 120) -> dict[str, int]:
    """Wait until the bot holds ``symbols`` positions while the simulated market is open.

    Stopping then gives the graceful shutdown positions to close: between this look and the
    SIGTERM the bot has a fraction of a simulated minute to sell them all, which it can only do
    on a new minute bar, and rarely for all of them at once. Returns the holdings seen ({} if
    the wait timed out).
    """
    seen: dict[str, int] = {}
    market_open_at_last_heartbeat(bot)  # loads the NYSE calendar now, not between look and stop

    def holding() -> bool:
        nonlocal seen
        if not market_open_at_last_heartbeat(bot):
            return False
        seen = bot.net_positions()  # looked at last: what the SIGTERM will find
        return len(seen) >= symbols

    return seen if wait_until(holding, timeout) else {}


def kill_leftover(bot: BotDir) -> None:
    """SIGKILL the bot named by the PID file, if a failed test left one running."""
    try:
        pid = bot.pid()
    except (OSError, ValueError):
        return
    if process_exists(pid):
        os.kill(pid, signal.SIGKILL)
