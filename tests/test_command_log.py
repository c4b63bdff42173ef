"""Specification of the command log's statuses: one set, in the store and for whoever waits."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from fleece.control import commands
from fleece.state_store import COMMAND_FINAL, COMMAND_WAITING, StateStore

T0 = datetime(2024, 11, 26, 15, 0, tzinfo=UTC)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[StateStore]:
    with StateStore(tmp_path / "trades.db") as s:
        yield s


def test_a_command_has_a_finish_time_exactly_when_its_asker_stops_waiting(
    store: StateStore,
) -> None:
    for status in sorted(COMMAND_WAITING | COMMAND_FINAL):
        record = store.command(store.add_command(T0, "cli", "me", "halt", "", status))

        assert record is not None
        assert (record.finished_at is not None) is (status in commands.FINAL), status


def test_a_claimed_command_gets_its_finish_time_with_its_outcome(store: StateStore) -> None:
    asked = commands.request(store, "flatten", source="cli", sender="me", now=T0)
    assert store.set_command_status(asked, "running", None, T0, was="pending")

    store.set_command_status(asked, "done", "ok", T0, was="running")

    record = store.command(asked)
    assert record is not None and record.finished_at == T0


def test_the_schema_takes_exactly_the_command_statuses(store: StateStore) -> None:
    for status in COMMAND_WAITING | COMMAND_FINAL:
        store.add_command(T0, "cli", "me", "halt", "", status)

    with pytest.raises(sqlite3.IntegrityError):
        store.add_command(T0, "cli", "me", "halt", "", "finished")
