"""The connection every part of the store shares: opening checks, migrations, transactions."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from fleece.closable import Closable
from fleece.store.schema import MIGRATIONS, SCHEMA_VERSION, TABLES, StateStoreError, tables_up_to
from fleece.store_health import (
    StoreDiskError,
    check_complete,
    check_file,
    check_foreign,
    disk_error,
    quick_check,
    unusable,
)

BUSY_TIMEOUT_MS = 10_000


class StoreBase(Closable):
    """One SQLite connection behind a lock: opened, checked, migrated; reads and transactions.

    The tables' own classes (:mod:`fleece.store.orders` ...) build on it, and
    :class:`~fleece.store.facade.StateStore` joins them.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        # Told of every disk or file failure before it is raised (the runtime halts on it).
        self.on_disk_error: Callable[[StoreDiskError], None] | None = None
        path.parent.mkdir(parents=True, exist_ok=True)
        check_file(path)
        self._lock = threading.RLock()
        try:
            # isolation_level=None: we issue BEGIN/COMMIT ourselves, so a transaction is
            # exactly what _write() brackets. check_same_thread=False: the lock serialises all.
            self._conn = sqlite3.connect(
                str(path),
                isolation_level=None,
                check_same_thread=False,
                timeout=BUSY_TIMEOUT_MS / 1000,
            )
        except sqlite3.Error as exc:
            raise unusable(path, exc) from None
        self._conn.row_factory = sqlite3.Row
        try:
            self._open_checked()
        except BaseException:
            self._conn.close()
            raise

    def _open_checked(self) -> None:
        try:
            # Reads first: another application's file is refused before WAL mode changes it.
            check_foreign(self.path, self._tables(), "schema_version")
            quick_check(self._conn, self.path)
            self._configure()
            self._migrate()
            check_complete(self.path, self._tables(), TABLES)
        except sqlite3.DatabaseError as exc:
            raise unusable(self.path, exc) from None
        except StoreDiskError as exc:  # from _write(), during the migration
            if isinstance(exc.__cause__, sqlite3.Error):
                raise unusable(self.path, exc.__cause__) from None
            raise

    def _tables(self) -> set[str]:
        rows = self._conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        )
        return {str(row[0]) for row in rows}

    def _configure(self) -> None:
        mode = self._conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise StateStoreError(f"{self.path}: cannot enable WAL journal mode (got {mode})")
        # WAL already keeps every committed transaction across a process crash (SIGKILL, OOM).
        # FULL also fsyncs the WAL at each commit, so an intent written before a submit, or a
        # fill, survives a power cut or kernel panic too: losing either could double-send an
        # order or forget a position. The cost (one fsync per write) is small at our rate.
        self._conn.execute("PRAGMA synchronous=FULL")
        self._conn.execute("PRAGMA foreign_keys=ON")
        self._conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")

    def _migrate(self) -> None:
        with self._write() as conn:
            conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY)")
            current = conn.execute(
                "SELECT COALESCE(MAX(version), 0) FROM schema_version"
            ).fetchone()[0]
            # A file claiming a version must have that version's tables before any step runs on
            # it (another tool's "schema_version", or a damaged store).
            check_complete(self.path, self._tables(), tables_up_to(min(current, SCHEMA_VERSION)))
            if current > SCHEMA_VERSION:
                raise StateStoreError(
                    f"{self.path}: database schema version {current} is newer than this code "
                    f"knows ({SCHEMA_VERSION}); upgrade alpaca-fleece or use another database"
                )
            for version in range(current + 1, SCHEMA_VERSION + 1):
                for statement in MIGRATIONS[version - 1]:
                    conn.execute(statement)
                conn.execute("INSERT INTO schema_version (version) VALUES (?)", (version,))

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """Run the block as one IMMEDIATE transaction (the write lock is taken up front).

        Any failure rolls the transaction back, COMMIT's own included (a full disk or an I/O
        error shows there first, when the WAL is written): what was committed before stays.
        """
        with self._lock, self._disk_failures():
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
                self._conn.execute("COMMIT")
            except BaseException:
                if self._conn.in_transaction:
                    # SQLite may already have rolled back (full disk, I/O error): no harm.
                    with suppress(sqlite3.Error):
                        self._conn.execute("ROLLBACK")
                raise

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        with self._lock, self._disk_failures():
            return self._conn.execute(sql, params).fetchall()

    @contextmanager
    def _disk_failures(self) -> Iterator[None]:
        """Turn SQLite's disk and file failures into :class:`StoreDiskError` (others pass)."""
        try:
            yield
        except sqlite3.DatabaseError as exc:
            failure = disk_error(self.path, exc)
            if failure is None:
                raise
            if self.on_disk_error is not None:
                self.on_disk_error(failure)
            raise failure from exc

    # -- lifecycle -------------------------------------------------------------------------

    def close(self) -> None:
        """Close the connection (idempotent)."""
        with self._lock, self._disk_failures():
            self._conn.close()

    def schema_version(self) -> int:
        """Return the schema version of the open database."""
        return int(self._read("SELECT MAX(version) FROM schema_version")[0][0])

    def integrity_check(self) -> str:
        """Return SQLite's integrity check verdict: ``"ok"`` or the problems found."""
        return "\n".join(str(row[0]) for row in self._read("PRAGMA integrity_check"))
