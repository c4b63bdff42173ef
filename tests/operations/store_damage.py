"""Broken stores, as a careless operator, a dying disk or a wrong DATABASE_PATH produce them.

Each builder writes a file at the path it is given: a real store the bot wrote (with enough bars
to span many pages), then damaged in one way; or something that is no store at all.
"""

from __future__ import annotations

import os
import random
import sqlite3
from collections.abc import Callable
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fleece.models import Bar
from fleece.state_store import StateStore

PAGE = 4096
SYMBOLS = ("AAPL", "MSFT", "SPY", "NVDA")


def healthy_store(path: Path, minutes: int = 600) -> Path:
    """A real store with ``minutes`` of bars for four symbols (a few hundred pages)."""
    start = datetime(2024, 11, 25, 14, 30, tzinfo=UTC)
    bars = [
        Bar(symbol, start + timedelta(minutes=m), 100.0, 101.0, 99.0, 100.5, 1_000, 10, 100.2)
        for m in range(minutes)
        for symbol in SYMBOLS
    ]
    with StateStore(path) as store:
        store.add_bars(bars)
        store.set_kill_switch(False, "", start)
    with closing(sqlite3.connect(path)) as conn:  # everything into the main file, no WAL left
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return path


def garbage_pages(path: Path) -> Path:
    """A real store with three pages in its middle overwritten with random bytes."""
    healthy_store(path)
    size = path.stat().st_size
    with path.open("r+b") as file:
        file.seek((size // PAGE // 2) * PAGE)
        file.write(random.Random(13).randbytes(3 * PAGE))
    return path


def truncated(path: Path) -> Path:
    """A real store cut in half (a copy interrupted, a disk that lost its tail)."""
    healthy_store(path)
    os.truncate(path, path.stat().st_size // 2)
    return path


def not_sqlite(path: Path) -> Path:
    """Some other file where the store should be."""
    path.write_text("symbol,timestamp,close\nSPY,2024-11-26T14:30:00Z,600.1\n" * 50)
    return path


def zeros(path: Path) -> Path:
    """A file of zero bytes' worth of blocks (a preallocated or wiped file)."""
    path.write_bytes(bytes(8 * PAGE))
    return path


def foreign_sqlite(path: Path) -> Path:
    """The SQLite database of another application."""
    with closing(sqlite3.connect(path)) as conn:
        conn.execute("CREATE TABLE photos (id INTEGER PRIMARY KEY, path TEXT)")
        conn.execute("INSERT INTO photos (path) VALUES ('holiday.jpg')")
        conn.commit()
    return path


def half_ours(path: Path) -> Path:
    """SQLite with our version table but not our tables (another tool using the name)."""
    with closing(sqlite3.connect(path)) as conn:
        conn.execute("CREATE TABLE schema_version (version INTEGER PRIMARY KEY)")
        conn.execute("INSERT INTO schema_version VALUES (2)")
        conn.execute("CREATE TABLE notes (body TEXT)")
        conn.commit()
    return path


DAMAGES: dict[str, Callable[[Path], Path]] = {
    "garbage in its pages": garbage_pages,
    "truncated": truncated,
    "not SQLite": not_sqlite,
    "zeroed": zeros,
    "another app's SQLite": foreign_sqlite,
    "our table names, not our store": half_ours,
}
# What the one line says for each (after the file's path).
VERDICTS = {
    "garbage in its pages": "the store is damaged",
    "truncated": "the store is damaged",
    "not SQLite": "is not an SQLite database",
    "zeroed": "is not an SQLite database",
    "another app's SQLite": "is the SQLite database of another application",
    "our table names, not our store": "is the SQLite database of another application",
}
