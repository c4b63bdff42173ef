"""Incremental reads of the store, thinning of long curves, and the strategy's own SMAs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path

import pytest

from fleece.dashboard.series import StoreTail, thin
from fleece.models import Bar
from fleece.state_store import EquitySnapshot, StateStore

T0 = datetime(2024, 11, 26, 15, 0, tzinfo=UTC)


@pytest.fixture
def store(tmp_path: Path) -> StateStore:
    """An empty store."""
    return StateStore(tmp_path / "trades.db")


def snapshot(store: StateStore, minute: int, equity: float) -> None:
    """One equity point ``minute`` minutes after T0."""
    store.add_equity_snapshot(T0 + timedelta(minutes=minute), equity, equity, 0.0, 0, 0)


def equity_tail(store: StateStore) -> StoreTail[EquitySnapshot]:
    """The equity curve, read incrementally."""
    return StoreTail(store.equity_curve, lambda e: e.timestamp)


def test_a_tail_reads_only_what_is_new(store: StateStore) -> None:
    asked: list[datetime | None] = []

    def fetch(since: datetime | None) -> list[EquitySnapshot]:
        asked.append(since)
        return store.equity_curve(since)

    tail = StoreTail(fetch, lambda e: e.timestamp)
    snapshot(store, 0, 100.0)
    tail.refresh()
    snapshot(store, 1, 101.0)

    rows = tail.refresh()

    assert [r.equity for r in rows] == [100.0, 101.0]
    assert asked == [None, T0]


def test_a_tail_takes_a_row_replaced_at_its_newest_time(store: StateStore) -> None:
    tail = equity_tail(store)
    snapshot(store, 0, 100.0)
    snapshot(store, 1, 101.0)
    tail.refresh()
    snapshot(store, 1, 105.0)  # the same instant written again (INSERT OR REPLACE)

    assert [r.equity for r in tail.refresh()] == [100.0, 105.0]


def test_a_tail_neither_loses_nor_doubles_rows_sharing_a_time(store: StateStore) -> None:
    bars: StoreTail[Bar] = StoreTail(
        lambda since: store.bars_between(None, since or T0, T0 + timedelta(days=1)),
        lambda b: b.timestamp,
    )
    store.add_bars([Bar("AAA", T0, 1, 1, 1, 1, 1)])
    bars.refresh()
    store.add_bars(
        [Bar("BBB", T0, 2, 2, 2, 2, 2), Bar("AAA", T0 + timedelta(minutes=1), 3, 3, 3, 3, 3)]
    )

    assert [(b.symbol, b.close) for b in bars.refresh()] == [("AAA", 1), ("BBB", 2), ("AAA", 3)]


def test_a_tail_forgets_rows_before_a_time(store: StateStore) -> None:
    tail = equity_tail(store)
    for minute in range(3):
        snapshot(store, minute, 100.0 + minute)
    tail.refresh()

    tail.forget_before(T0 + timedelta(minutes=1))

    assert [r.equity for r in tail.items] == [101.0, 102.0]


def test_thin_keeps_short_series_whole() -> None:
    assert thin(3, 10) == [0, 1, 2]


def test_thin_spreads_points_evenly_and_keeps_both_ends() -> None:
    picked = thin(10_001, 101)

    assert len(picked) == 101 and picked[0] == 0 and picked[-1] == 10_000
    assert {b - a for a, b in pairwise(picked)} == {100}
