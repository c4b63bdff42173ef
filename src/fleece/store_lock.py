"""One bot per store: an exclusive lock on a sidecar file next to the database, held for life.

Two bots on one store would both trade one account from one memory, and both send closing
orders at shutdown. So the bot takes ``fcntl.flock(LOCK_EX | LOCK_NB)`` on ``<database>.lock``
before it builds its broker, and holds it until the process ends; however it was started
(``fleece run``, ``orchestrator.py``, ``fleece demo``, ``bot.sh``, ``daemon.py``, systemd), a
second bot on the same store meets the lock and stops with one line naming the store and the
PID written in the lock file, exit code 2.

Only bots take the lock. ``fleece status``, ``halt``, ``resume``, ``reset-breaker``, ``replay``
and ``fleece dashboard --db`` open the store beside a running bot, as SQLite allows.

Why a sidecar file and not the database: SQLite takes its own POSIX locks on the database, and
closing any descriptor of a file drops every POSIX lock the process holds on it; ``flock`` on a
file SQLite never opens cannot interfere. The kernel releases the lock when the process dies,
however it dies (SIGKILL included), so a stale lock cannot exist. The lock file is never
deleted: deleting it while held would let a second bot lock a new file of the same name.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path

from fleece.closable import Closable
from fleece.errors import ConfigError, FleeceError

SUFFIX = ".lock"


class StoreBusyError(ConfigError):
    """Another bot holds the store's lock.

    Args:
        db: the store.
        pid: the PID the lock file names, or None when it names none.
    """

    def __init__(self, db: Path, pid: int | None) -> None:
        who = f"PID {pid}" if pid is not None else "PID unknown"
        reason = (
            f"another bot is running on this store ({who}); stop it first, or set "
            "DATABASE_PATH to another store"
        )
        FleeceError.__init__(self, f"{db}: {reason}")
        self.source, self.key, self.reason = str(db), "DATABASE_PATH", reason
        self.pid = pid


def lock_path(db: Path) -> Path:
    """The lock file of the store ``db`` (``trades.db`` -> ``trades.db.lock``)."""
    return db.with_name(db.name + SUFFIX)


def holder(db: Path) -> int | None:
    """The PID of the bot holding ``db``'s lock, or None when no process holds it."""
    path = lock_path(db)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _pid_in(fd) or 0
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def _pid_in(fd: int) -> int | None:
    text = os.pread(fd, 32, 0).decode("ascii", errors="replace").strip()
    return int(text) if text.isdigit() else None


class StoreLock(Closable):
    """The exclusive lock of one store, held until :meth:`release` or the process's end."""

    def __init__(self, db: Path, fd: int) -> None:
        self.db = db
        self._fd: int | None = fd

    @classmethod
    def acquire(cls, db: Path) -> StoreLock:
        """Take the lock of the store ``db`` now, without waiting, and write our PID in it.

        Raises:
            StoreBusyError: another process holds it.
            ConfigError: the lock file cannot be created (an unwritable folder).
        """
        path = lock_path(db)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            reason = f"cannot create the lock file {path} ({exc.strerror or type(exc).__name__})"
            raise ConfigError(str(db), "DATABASE_PATH", reason) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = _pid_in(fd)
            os.close(fd)
            raise StoreBusyError(db, pid) from None
        except BaseException:
            os.close(fd)
            raise
        with contextlib.suppress(OSError):  # a full disk: the lock holds, the PID is unsaid
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
        return cls(db, fd)

    @property
    def held(self) -> bool:
        """True until released."""
        return self._fd is not None

    def release(self) -> None:
        """Give the lock up (idempotent). The file stays, empty, for the next bot."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)  # no PID of a bot that is gone
        os.close(fd)  # closing the only descriptor releases the flock

    close = release  # what ``with`` calls on the way out (Closable)
