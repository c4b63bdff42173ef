"""The store checks itself when it opens, and a failing disk fails one transaction, loudly.

Real files throughout. The failing disk here is SQLite's own: ``PRAGMA max_page_count`` caps the
file, so the next write that needs a page gets SQLite's real ``SQLITE_FULL`` ("database or disk
is full"), through the store's real code; a real full filesystem and a real I/O error are in
``tests/runtime/test_runtime_disk_failure.py``.
"""

from __future__ import annotations

import hashlib
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest
from store_damage import DAMAGES, VERDICTS, healthy_store

from fleece.errors import ConfigError
from fleece.models import Refusal, Side
from fleece.state_store import StateStore
from fleece.store_health import StoreDiskError, StoreUnusableError, disk_error

NOW = datetime(2024, 11, 26, 15, 0, tzinfo=UTC)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("damage", DAMAGES)
def test_a_broken_or_foreign_file_is_refused_naming_it_and_what_to_do(
    tmp_path: Path, damage: str
) -> None:
    path = DAMAGES[damage](tmp_path / "trades.db")

    with pytest.raises(StoreUnusableError) as refused:
        StateStore(path)

    message = str(refused.value)
    assert isinstance(refused.value, ConfigError)  # one line, exit code 2 at the command line
    assert message.startswith(f"{path}: {VERDICTS[damage]}")
    assert "DATABASE_PATH" in message or "move it" in message
    assert "\n" not in message


@pytest.mark.parametrize("damage", ["not SQLite", "another app's SQLite"])
def test_a_file_that_is_not_ours_is_left_exactly_as_it_was(tmp_path: Path, damage: str) -> None:
    path = DAMAGES[damage](tmp_path / "trades.db")
    before = digest(path)

    with pytest.raises(StoreUnusableError):
        StateStore(path)

    assert digest(path) == before
    assert not path.with_name("trades.db-wal").exists()


def test_an_empty_file_becomes_a_new_store(tmp_path: Path) -> None:
    path = tmp_path / "trades.db"
    path.touch()

    with StateStore(path) as store:
        assert store.integrity_check() == "ok"


def test_a_healthy_store_opens_as_before(tmp_path: Path) -> None:
    path = healthy_store(tmp_path / "trades.db")

    with StateStore(path) as store:
        assert len(store.bars_between("SPY", datetime(2024, 1, 1, tzinfo=UTC), NOW)) == 600


def capped(store: StateStore) -> None:
    """Cap the file at its current size: the next write needing a page fails as on a full disk."""
    store._conn.execute("PRAGMA max_page_count = 1")  # SQLite keeps it at the current size


def refusal(i: int) -> Refusal:
    return Refusal("SPY", Side.BUY, "kill_switch", f"refusal number {i} " + "x" * 500, NOW)


def test_a_full_disk_fails_the_one_write_says_so_and_keeps_everything_committed(
    tmp_path: Path,
) -> None:
    path = healthy_store(tmp_path / "trades.db")
    told: list[StoreDiskError] = []
    with StateStore(path) as store:
        store.on_disk_error = told.append
        store.add_refusal(refusal(0))
        capped(store)

        with pytest.raises(StoreDiskError) as failed:
            for i in range(1, 200):  # until a page is needed
                store.add_refusal(refusal(i))
        kept = len(store.refusals())

    assert str(failed.value).startswith(f"{path}: the disk is full (database or disk is full")
    assert told == [failed.value]
    with StateStore(path) as reopened:
        assert len(reopened.refusals()) == kept >= 1
        assert reopened.integrity_check() == "ok"


def test_after_a_failed_commit_the_store_writes_again_once_there_is_room(tmp_path: Path) -> None:
    path = healthy_store(tmp_path / "trades.db")
    with StateStore(path) as store:
        capped(store)
        with pytest.raises(StoreDiskError):
            for i in range(200):
                store.add_refusal(refusal(i))
        store._conn.execute("PRAGMA max_page_count = 1073741823")  # space again

        store.add_refusal(refusal(999))  # no transaction was left open by the failure

        assert store.refusals()[-1].detail.startswith("refusal number 999")


@pytest.mark.parametrize(
    ("message", "what"),
    [
        ("database or disk is full", "the disk is full"),
        ("disk I/O error", "a disk I/O error"),
        ("database disk image is malformed", "the store is damaged"),
        ("attempt to write a readonly database", "the store cannot be written"),
    ],
)
def test_sqlites_disk_failures_are_told_apart_from_other_errors(message: str, what: str) -> None:
    failure = disk_error(Path("/data/trades.db"), sqlite3.OperationalError(message))

    assert failure is not None and failure.what == what
    assert disk_error(Path("x"), sqlite3.IntegrityError("UNIQUE constraint failed")) is None
    assert disk_error(Path("x"), sqlite3.OperationalError("no such table: nope")) is None
