"""Is this file the bot's store, whole and writable? Checks and errors of broken stores and disks.

Two kinds of failure, two errors:

* :class:`StoreUnusableError` (a :class:`~fleece.errors.ConfigError`: one line, exit code 2,
  systemd does not restart): the file is not an SQLite database, is another application's
  database, or is damaged (SQLite's ``quick_check`` finds a problem, or a page cannot be read).
  Found when the store is opened, by every command, before anything is sent or written.
* :class:`StoreDiskError` (exit code 1, a restart may succeed): the disk is full, or reading or
  writing the file failed (an I/O error), or SQLite found damage while the bot ran. The store
  raises it for any such failure of a read or a write; SQLite has then rolled the transaction
  back, so everything committed before is intact.

``quick_check`` reads every page once (about 0.1 s for a 30-day store on an ordinary disk); the
slower ``integrity_check`` also cross-checks every index and is left to ``StateStore
.integrity_check`` and the operator.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Collection
from pathlib import Path

from fleece.errors import ConfigError, FleeceError

SQLITE_MAGIC = b"SQLite format 3\x00"
HEADER_BYTES = 100
# Primary result codes (the low byte of an extended code), from sqlite3.h.
SQLITE_READONLY = 8
SQLITE_IOERR = 10
SQLITE_CORRUPT = 11
SQLITE_FULL = 13
SQLITE_CANTOPEN = 14
SQLITE_NOTADB = 26

# What each failure of the disk or the file means, by result code, and by message for errors
# raised without a code (Python code re-raising SQLite's words).
_DISK_FAILURES = {
    SQLITE_FULL: "the disk is full",
    SQLITE_IOERR: "a disk I/O error",
    SQLITE_CORRUPT: "the store is damaged",
    SQLITE_NOTADB: "the store is damaged",
    SQLITE_READONLY: "the store cannot be written",
    SQLITE_CANTOPEN: "the store cannot be opened",
}
_DISK_MESSAGES = {
    "database or disk is full": SQLITE_FULL,
    "disk i/o error": SQLITE_IOERR,
    "database disk image is malformed": SQLITE_CORRUPT,
    "file is not a database": SQLITE_NOTADB,
    "attempt to write a readonly database": SQLITE_READONLY,
    "unable to open database file": SQLITE_CANTOPEN,
}
_MOVE_ASIDE = (
    "stop every bot using it, move it (with its -wal and -shm files) aside and start again "
    "with a new store (reconciliation re-reads orders and positions from the broker)"
)


class StoreUnusableError(ConfigError):
    """The file at DATABASE_PATH cannot be the bot's store (damaged, foreign, not SQLite).

    Args:
        path: the store's file.
        reason: what is wrong and what to do, in plain words.
    """

    def __init__(self, path: Path, reason: str) -> None:
        # Not ConfigError's "source: key: reason": the file is the whole story here.
        FleeceError.__init__(self, f"{path}: {reason}")
        self.source, self.key, self.reason = str(path), "DATABASE_PATH", reason
        self.path = path


class StoreDiskError(FleeceError):
    """A read or write of the store failed: full disk, I/O error, damage found while running.

    Args:
        path: the store's file.
        what: the failure in plain words (``the disk is full``).
        detail: SQLite's own message.
    """

    def __init__(self, path: Path, what: str, detail: str) -> None:
        super().__init__(f"{path}: {what} ({detail})")
        self.path = path
        self.what = what


def failure_code(exc: sqlite3.Error) -> int | None:
    """The primary SQLite result code of a disk or file failure, or None for any other error."""
    code = getattr(exc, "sqlite_errorcode", None)
    if isinstance(code, int) and (code & 0xFF) in _DISK_FAILURES:
        return code & 0xFF
    text = str(exc).lower()
    return next((c for message, c in _DISK_MESSAGES.items() if message in text), None)


def disk_error(path: Path, exc: sqlite3.Error) -> StoreDiskError | None:
    """The :class:`StoreDiskError` that ``exc`` is, or None when it is no disk or file failure."""
    code = failure_code(exc)
    if code is None:
        return None
    if code == SQLITE_IOERR and _no_space_left(path):
        code = SQLITE_FULL  # SQLite says "disk I/O error" when it cannot even size its -shm file
    return StoreDiskError(path, _DISK_FAILURES[code], " ".join(str(exc).split()))


def _no_space_left(path: Path) -> bool:
    try:
        return os.statvfs(path.parent).f_bavail == 0
    except OSError:
        return False


def check_file(path: Path) -> None:
    """Refuse a file that is not an SQLite database before SQLite opens it.

    A missing or empty file is a new store. Reading the header first keeps SQLite from ever
    writing into someone else's file (opening in WAL mode would).

    Raises:
        StoreUnusableError: the file is not an SQLite database.
    """
    try:
        with path.open("rb") as file:
            header = file.read(HEADER_BYTES)
    except FileNotFoundError:
        return
    except IsADirectoryError:
        reason = "is a directory, not a store; set DATABASE_PATH to a file"
        raise StoreUnusableError(path, reason) from None
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        message = f"cannot be read ({reason}); check its owner and mode"
        raise StoreUnusableError(path, message) from None
    if not header:
        return
    if not header.startswith(SQLITE_MAGIC) or len(header) < HEADER_BYTES:
        raise StoreUnusableError(
            path,
            "is not an SQLite database, so not an alpaca-fleece store; set DATABASE_PATH to the "
            "bot's store, or move this file aside to start a new one",
        )


def unusable(path: Path, exc: sqlite3.Error) -> FleeceError:
    """The error to raise for ``exc`` met while opening and checking the store."""
    failure = disk_error(path, exc)
    if failure is not None and failure_code(exc) in (SQLITE_FULL, SQLITE_IOERR):
        return failure  # maybe passing: free space or fix the disk, then start again
    detail = " ".join(str(exc).split())
    if failure is not None and failure_code(exc) in (SQLITE_CORRUPT, SQLITE_NOTADB):
        return StoreUnusableError(path, f"the store is damaged ({detail}); {_MOVE_ASIDE}")
    return StoreUnusableError(path, f"cannot be used as the store ({detail}); check the file")


def check_foreign(path: Path, tables: Collection[str], marker: str) -> None:
    """Refuse another application's SQLite database (tables, but not the store's ``marker``).

    Raises:
        StoreUnusableError: the database has tables and none is ``marker``.
    """
    if tables and marker not in tables:
        raise StoreUnusableError(path, foreign_reason(tables))


def check_complete(path: Path, tables: Collection[str], expected: Collection[str]) -> None:
    """Refuse a store whose schema says it is ours but lacks tables ours always have.

    Raises:
        StoreUnusableError: one of ``expected`` is missing.
    """
    missing = sorted(set(expected) - set(tables))
    if missing:
        raise StoreUnusableError(path, foreign_reason(tables, missing))


def foreign_reason(tables: Collection[str], missing: Collection[str] = ()) -> str:
    """Why a database is not an alpaca-fleece store, naming a few of its tables."""
    shown = ", ".join(sorted(tables)[:5]) + (", ..." if len(tables) > 5 else "")
    lacking = f", without {', '.join(missing)}" if missing else ""
    return (
        f"is the SQLite database of another application (tables: {shown}{lacking}), not an "
        "alpaca-fleece store; set DATABASE_PATH to the bot's store, or move this file aside"
    )


def quick_check(conn: sqlite3.Connection, path: Path) -> None:
    """Run SQLite's ``quick_check`` (every page read once).

    Raises:
        StoreUnusableError: it reports a problem.
        sqlite3.DatabaseError: a page could not be read at all (see :func:`unusable`).
    """
    rows = [str(row[0]) for row in conn.execute("PRAGMA quick_check")]
    if rows != ["ok"]:
        first = " ".join(" ".join(rows[:2]).split())
        first = first if len(first) <= 160 else first[:157] + "..."
        reason = f"the store is damaged (quick_check: {first}); {_MOVE_ASIDE}"
        raise StoreUnusableError(path, reason)
