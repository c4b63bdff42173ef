"""Specification of the SQLite state store: schema, durability, and one behaviour per API."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fleece.errors import FleeceError
from fleece.models import Bar, Fill, OrderIntent, Refusal, Side, TradingState, to_ticks
from fleece.state_store import (
    MIGRATIONS,
    SCHEMA_VERSION,
    IntentStatus,
    StateStore,
    StateStoreError,
)

T0 = datetime(2024, 11, 29, 14, 30, tzinfo=UTC)
DAY = date(2024, 11, 29)

SEED_QUERIES = (
    "SELECT * FROM trades ORDER BY timestamp_utc DESC LIMIT 10;",
    "SELECT * FROM equity_curve ORDER BY timestamp_utc DESC LIMIT 10;",
    "SELECT * FROM order_intents WHERE status IN ('new', 'submitted', 'accepted');",
)

SEED_COLUMNS = {
    "order_intents": {
        "client_order_id",
        "strategy",
        "symbol",
        "side",
        "qty",
        "signal_timestamp_utc",
        "created_at_utc",
        "updated_at_utc",
        "status",
        "broker_order_id",
        "filled_qty",
        "filled_avg_price",
        "dry_run",
        "last_error",
        "submit_attempts",
    },
    "trades": {
        "id",
        "timestamp_utc",
        "symbol",
        "side",
        "qty",
        "price",
        "client_order_id",
        "broker_order_id",
        "cumulative_qty",
    },
    "equity_curve": {
        "timestamp_utc",
        "equity",
        "cash",
        "long_market_value",
        "positions",
        "open_orders",
    },
    "refusals": {"id", "timestamp_utc", "symbol", "side", "reason", "detail"},
    "bot_state": {"key", "value", "updated_at_utc"},
    "daily_counters": {"session_date", "trades_submitted", "start_equity"},
    "bot_runs": {"id", "started_at_utc", "stopped_at_utc", "pid", "mode", "exit_reason"},
    "heartbeats": {"timestamp_utc", "equity", "positions", "open_orders", "state"},
    "bars": {"symbol", "timestamp_utc", "open", "high", "low", "close", "volume"},
    "reconciliation_events": {
        "id",
        "timestamp_utc",
        "kind",
        "client_order_id",
        "symbol",
        "detail",
    },
}


# -- builders --------------------------------------------------------------------------------


def an_intent(
    cid: str = "sma-AAPL-buy-1", qty: int = 100, side: Side = Side.BUY, at: datetime = T0
) -> OrderIntent:
    return OrderIntent(
        client_order_id=cid,
        strategy="sma_crossover",
        symbol="AAPL",
        side=side,
        qty=qty,
        signal_timestamp=at,
        created_at=at + timedelta(seconds=1),
    )


def a_bar(symbol: str = "AAPL", at: datetime = T0, close: float = 100.0) -> Bar:
    return Bar(symbol, at, close, close + 0.5, close - 0.5, close, 1_000, 12, close + 0.01)


def a_refusal(reason: str, at: datetime = T0) -> Refusal:
    return Refusal("AAPL", Side.BUY, reason, "detail", at)


def fill(
    store: StateStore, cid: str, cumulative: int, avg: float, at: datetime = T0
) -> Fill | None:
    return store.record_fill(cid, "broker-1", "AAPL", Side.BUY, cumulative, avg, at)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "trades.db"


@pytest.fixture
def store(db_path: Path) -> Iterator[StateStore]:
    with StateStore(db_path) as s:
        yield s


def raw(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(str(path))


# -- schema and durability -------------------------------------------------------------------


def test_creates_missing_parent_directories(db_path: Path) -> None:
    with StateStore(db_path):
        pass
    assert db_path.is_file()


@pytest.mark.parametrize("table", sorted(SEED_COLUMNS))
def test_table_has_the_expected_columns(store: StateStore, db_path: Path, table: str) -> None:
    with raw(db_path) as conn:
        columns = {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}
    assert SEED_COLUMNS[table] <= columns


def test_seed_monitoring_queries_run_via_python_sqlite3(store: StateStore, db_path: Path) -> None:
    store.add_intent(an_intent())
    fill(store, "sma-AAPL-buy-1", 40, 100.1)
    store.add_equity_snapshot(T0, 100_000.0, 90_000.0, 10_000.0, 1, 1)
    with raw(db_path) as conn:
        results = [conn.execute(q).fetchall() for q in SEED_QUERIES]
    assert [len(r) for r in results] == [1, 1, 0]


@pytest.mark.skipif(
    shutil.which("sqlite3") is None and not os.environ.get("CI"),
    reason="sqlite3 missing (make test installs it with apt-get; CI always runs this)",
)
def test_seed_monitoring_queries_run_via_sqlite3_cli(store: StateStore, db_path: Path) -> None:
    store.add_intent(an_intent("cid-new"))
    store.add_intent(an_intent("cid-filled"))
    fill(store, "cid-filled", 100, 100.25)
    store.add_equity_snapshot(T0, 100_000.0, 90_000.0, 10_000.0, 1, 0)
    outputs = [
        subprocess.run(
            ["sqlite3", str(db_path), q], check=True, capture_output=True, text=True
        ).stdout
        for q in SEED_QUERIES
    ]
    assert "cid-filled" in outputs[0] and "100.25" in outputs[0]
    assert outputs[1].startswith("2024-11-29T14:30:00.000000Z|100000.0")
    assert "cid-new" in outputs[2] and "cid-filled" not in outputs[2]


def test_database_is_in_wal_mode(store: StateStore, db_path: Path) -> None:
    with raw(db_path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_fresh_database_is_at_the_latest_schema_version(store: StateStore) -> None:
    assert store.schema_version() == SCHEMA_VERSION == len(MIGRATIONS)
    assert store.integrity_check() == "ok"


def test_version_1_database_is_upgraded_and_keeps_its_rows(db_path: Path) -> None:
    db_path.parent.mkdir(parents=True)
    with raw(db_path) as conn:
        conn.execute("CREATE TABLE schema_version (version INTEGER PRIMARY KEY)")
        for statement in MIGRATIONS[0]:
            conn.execute(statement)
        conn.execute("INSERT INTO schema_version VALUES (1)")
        conn.execute(
            "INSERT INTO order_intents (client_order_id, strategy, symbol, side, qty,"
            " signal_timestamp_utc, created_at_utc, updated_at_utc, status)"
            " VALUES ('old-1', 'sma', 'MSFT', 'sell', 5, '2024-11-28T15:00:00.000000Z',"
            " '2024-11-28T15:00:01.000000Z', '2024-11-28T15:00:01.000000Z', 'new')"
        )

    with StateStore(db_path) as store:
        version = store.schema_version()
        old = store.get_intent("old-1")
        store.add_bars([a_bar()])

    assert version == SCHEMA_VERSION
    assert old is not None and old.side is Side.SELL and old.qty == 5
    assert old.created_at == datetime(2024, 11, 28, 15, 0, 1, tzinfo=UTC)


def test_database_from_a_newer_version_is_refused(db_path: Path) -> None:
    with StateStore(db_path):
        pass
    with raw(db_path) as conn:
        conn.execute("INSERT INTO schema_version VALUES (?)", (SCHEMA_VERSION + 1,))

    with pytest.raises(FleeceError, match="newer"):
        StateStore(db_path)


def test_reopening_does_not_reapply_migrations(db_path: Path) -> None:
    with StateStore(db_path) as first:
        first.add_intent(an_intent())
    with StateStore(db_path) as second:
        assert second.schema_version() == SCHEMA_VERSION
        assert len(second.all_intents()) == 1


def test_timestamps_are_stored_as_fixed_width_utc_text(store: StateStore, db_path: Path) -> None:
    new_york = timezone(timedelta(hours=-5))
    store.add_equity_snapshot(datetime(2024, 11, 29, 9, 30, tzinfo=new_york), 1.0, 1.0, 0.0, 0, 0)
    with raw(db_path) as conn:
        text = conn.execute("SELECT timestamp_utc FROM equity_curve").fetchone()[0]
    assert text == "2024-11-29T14:30:00.000000Z"
    assert store.equity_curve()[0].timestamp == T0
    assert store.equity_curve()[0].timestamp.tzinfo is UTC


def test_naive_timestamps_are_refused(store: StateStore) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        store.add_equity_snapshot(datetime(2024, 11, 29, 14, 30), 1.0, 1.0, 0.0, 0, 0)


def test_store_is_safe_to_share_between_threads(store: StateStore) -> None:
    def work() -> None:
        for _ in range(25):
            store.increment_trades_submitted(DAY)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert store.trades_submitted(DAY) == 200


# -- order intents ---------------------------------------------------------------------------


def test_add_intent_writes_a_new_intent_with_every_field(store: StateStore) -> None:
    intent = an_intent()

    added = store.add_intent(intent)

    record = store.get_intent(intent.client_order_id)
    assert added is True
    assert record is not None
    assert record.to_intent() == intent
    assert record.status is IntentStatus.NEW
    assert (record.filled_qty, record.filled_avg_price, record.submit_attempts) == (0, None, 0)
    assert record.updated_at == intent.created_at


def test_add_intent_is_idempotent_on_client_order_id(store: StateStore) -> None:
    store.add_intent(an_intent(qty=100))
    store.mark_submit_attempt("sma-AAPL-buy-1", T0)

    again = store.add_intent(an_intent(qty=999))

    record = store.get_intent("sma-AAPL-buy-1")
    assert again is False
    assert record is not None and record.qty == 100 and record.status is IntentStatus.SUBMITTED


def test_an_intent_written_with_its_day_is_counted_with_it_and_only_once(
    store: StateStore,
) -> None:
    # One transaction: an order that was written (and so may be sent) is always in the count.
    first = store.add_intent(an_intent(), count_on=DAY)
    replayed = store.add_intent(an_intent(), count_on=DAY)

    assert (first, replayed) == (True, False)
    assert store.trades_submitted(DAY) == 1


def test_an_intent_written_without_a_day_counts_no_trade(store: StateStore) -> None:
    store.add_intent(an_intent())

    assert store.trades_submitted(DAY) == 0


def test_get_intent_of_unknown_id_is_none(store: StateStore) -> None:
    assert store.get_intent("nope") is None


def test_mark_submit_attempt_sets_submitted_and_counts_attempts(store: StateStore) -> None:
    store.add_intent(an_intent())

    store.mark_submit_attempt("sma-AAPL-buy-1", T0)
    attempts = store.mark_submit_attempt("sma-AAPL-buy-1", T0 + timedelta(seconds=5))

    record = store.get_intent("sma-AAPL-buy-1")
    assert attempts == 2
    assert record is not None
    assert record.status is IntentStatus.SUBMITTED and record.submit_attempts == 2
    assert record.updated_at == T0 + timedelta(seconds=5)


def test_set_intent_status_records_broker_id_and_error(store: StateStore) -> None:
    store.add_intent(an_intent())
    store.set_intent_status("sma-AAPL-buy-1", "accepted", broker_order_id="b-1", now=T0)

    store.set_intent_status("sma-AAPL-buy-1", IntentStatus.REJECTED, error="no funds", now=T0)

    record = store.get_intent("sma-AAPL-buy-1")
    assert record is not None
    assert (record.status, record.broker_order_id, record.last_error) == (
        IntentStatus.REJECTED,
        "b-1",
        "no funds",
    )


def test_set_intent_status_of_unknown_intent_raises(store: StateStore) -> None:
    with pytest.raises(StateStoreError, match="unknown"):
        store.set_intent_status("nope", "failed", now=T0)


def test_unknown_status_is_refused(store: StateStore) -> None:
    store.add_intent(an_intent())
    with pytest.raises(ValueError, match="bogus"):
        store.set_intent_status("sma-AAPL-buy-1", "bogus", now=T0)


def test_unfinished_intents_are_those_the_broker_may_still_act_on(store: StateStore) -> None:
    statuses = [s.value for s in IntentStatus]
    for i, status in enumerate(statuses):
        store.add_intent(an_intent(f"cid-{status}", at=T0 + timedelta(seconds=i)), status)

    unfinished = [r.status.value for r in store.unfinished_intents()]

    assert unfinished == ["new", "submitted", "accepted", "pending_new", "partially_filled"]


def test_intents_by_status_and_all_intents(store: StateStore) -> None:
    store.add_intent(an_intent("a", at=T0))
    store.add_intent(an_intent("b", at=T0 + timedelta(minutes=1)), IntentStatus.DRY_RUN)

    assert [r.client_order_id for r in store.intents_by_status("dry_run")] == ["b"]
    assert [r.client_order_id for r in store.all_intents()] == ["a", "b"]
    assert store.intents_by_status() == []


# -- fills -----------------------------------------------------------------------------------


def test_partial_fills_then_full_fill_are_three_exact_rows(store: StateStore) -> None:
    store.add_intent(an_intent(qty=100))
    avg2 = (30 * 100.10 + 40 * 100.20) / 70
    avg3 = (30 * 100.10 + 40 * 100.20 + 30 * 100.05) / 100

    written = [
        fill(store, "sma-AAPL-buy-1", 30, 100.10),
        fill(store, "sma-AAPL-buy-1", 70, avg2),
        fill(store, "sma-AAPL-buy-1", 100, avg3),
    ]

    rows = store.fills_for("sma-AAPL-buy-1")
    assert rows == written
    assert [(f.qty, f.price) for f in rows] == [(30, 100.10), (40, 100.20), (30, 100.05)]
    assert sum(f.qty * to_ticks(f.price) for f in rows) == round(100 * avg3 * 10_000)


def test_recording_the_same_fill_twice_is_a_noop(store: StateStore) -> None:
    store.add_intent(an_intent())
    fill(store, "sma-AAPL-buy-1", 40, 100.1)

    again = fill(store, "sma-AAPL-buy-1", 40, 100.1)

    assert again is None
    assert len(store.fills_for("sma-AAPL-buy-1")) == 1


def test_a_stale_cumulative_report_is_ignored(store: StateStore) -> None:
    store.add_intent(an_intent())
    fill(store, "sma-AAPL-buy-1", 60, 100.1)

    assert fill(store, "sma-AAPL-buy-1", 40, 100.1) is None
    assert store.recorded_qty("sma-AAPL-buy-1") == 60


def test_fills_move_the_intent_to_partially_filled_then_filled(store: StateStore) -> None:
    store.add_intent(an_intent(qty=100))

    fill(store, "sma-AAPL-buy-1", 40, 100.0)
    partial = store.get_intent("sma-AAPL-buy-1")
    fill(store, "sma-AAPL-buy-1", 100, 100.5)
    full = store.get_intent("sma-AAPL-buy-1")

    assert partial is not None and full is not None
    assert (partial.status, partial.filled_qty, partial.filled_avg_price) == (
        IntentStatus.PARTIALLY_FILLED,
        40,
        100.0,
    )
    assert (full.status, full.filled_qty, full.filled_avg_price) == (
        IntentStatus.FILLED,
        100,
        100.5,
    )
    assert full.broker_order_id == "broker-1"


def test_a_late_partial_fill_keeps_a_canceled_order_canceled(store: StateStore) -> None:
    store.add_intent(an_intent(qty=100))
    store.set_intent_status("sma-AAPL-buy-1", "canceled", now=T0)

    fill(store, "sma-AAPL-buy-1", 40, 100.0)

    record = store.get_intent("sma-AAPL-buy-1")
    assert record is not None and record.status is IntentStatus.CANCELED
    assert record.filled_qty == 40


def test_a_fill_for_an_unknown_order_is_refused(store: StateStore) -> None:
    with pytest.raises(StateStoreError, match="unknown"):
        fill(store, "nope", 10, 100.0)


def test_fills_since_and_recorded_qty(store: StateStore) -> None:
    store.add_intent(an_intent("a"))
    store.add_intent(an_intent("b"))
    fill(store, "a", 10, 100.0, at=T0)
    fill(store, "b", 20, 101.0, at=T0 + timedelta(minutes=5))

    assert [f.client_order_id for f in store.fills()] == ["a", "b"]
    assert [f.client_order_id for f in store.fills(since=T0 + timedelta(minutes=1))] == ["b"]
    assert (store.recorded_qty("a"), store.recorded_qty("b"), store.recorded_qty("c")) == (
        10,
        20,
        0,
    )


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 500), st.integers(1, 5_000_000)), min_size=1, max_size=6))
def test_each_row_is_the_execution_when_fills_are_at_tick_prices(
    executions: list[tuple[int, int]],
) -> None:
    total_qty = sum(q for q, _ in executions)
    with tempfile.TemporaryDirectory() as tmp, StateStore(Path(tmp) / "t.db") as s:
        s.add_intent(an_intent(qty=total_qty))
        cumulative, notional_ticks = 0, 0
        for qty, price_ticks in executions:
            cumulative += qty
            notional_ticks += qty * price_ticks
            fill(s, "sma-AAPL-buy-1", cumulative, notional_ticks / 10_000 / cumulative)

        rows = s.fills_for("sma-AAPL-buy-1")

    assert [(f.qty, to_ticks(f.price)) for f in rows] == executions


# -- refusals --------------------------------------------------------------------------------


def test_refusal_counts_group_by_reason(store: StateStore) -> None:
    store.add_refusal(a_refusal("max_positions", T0))
    store.add_refusal(a_refusal("daily_loss", T0 + timedelta(minutes=1)))
    store.add_refusal(a_refusal("max_positions", T0 + timedelta(minutes=2)))

    assert store.refusal_counts() == {"daily_loss": 1, "max_positions": 2}
    assert store.refusal_counts(since=T0 + timedelta(minutes=2)) == {"max_positions": 1}
    assert store.refusals()[0] == a_refusal("max_positions", T0)


# -- bot state -------------------------------------------------------------------------------


def test_safety_state_defaults_when_never_set(store: StateStore) -> None:
    assert store.kill_switch() == (False, "")
    assert store.breaker() == (False, 0)
    assert store.reducing_latch() is None
    assert store.trading_state() == (TradingState.ACTIVE, "")
    assert store.get_state("missing", "dflt") == "dflt"


def test_safety_state_survives_close_and_reopen(db_path: Path) -> None:
    with StateStore(db_path) as first:
        first.set_kill_switch(True, "cli by ops: halt", T0)
        first.set_breaker(True, 5, T0)
        first.set_reducing_latch(DAY, T0)
        first.set_trading_state(TradingState.HALTED, "kill switch", T0)
        first.set_state("custom", "value", T0)

    with StateStore(db_path) as second:
        assert second.kill_switch() == (True, "cli by ops: halt")
        assert second.breaker() == (True, 5)
        assert second.reducing_latch() == DAY
        assert second.trading_state() == (TradingState.HALTED, "kill switch")
        assert second.get_state("custom") == "value"


def test_state_can_be_cleared_again(store: StateStore) -> None:
    store.set_kill_switch(True, "ops", T0)
    store.set_reducing_latch(DAY, T0)

    store.set_kill_switch(False, "ops: resume", T0)
    store.set_reducing_latch(None, T0)

    assert store.kill_switch() == (False, "ops: resume")
    assert store.reducing_latch() is None


# -- daily counters --------------------------------------------------------------------------


def test_trades_submitted_are_counted_per_day(store: StateStore) -> None:
    next_day = DAY + timedelta(days=1)
    store.increment_trades_submitted(DAY)

    second = store.increment_trades_submitted(DAY)
    store.increment_trades_submitted(next_day)

    assert second == 2
    assert (store.trades_submitted(DAY), store.trades_submitted(next_day)) == (2, 1)
    assert store.trades_submitted(DAY - timedelta(days=1)) == 0


def test_start_equity_is_kept_per_day_beside_the_counter(store: StateStore) -> None:
    store.increment_trades_submitted(DAY)

    store.set_start_equity(DAY, 100_000.25)

    assert store.start_equity(DAY) == 100_000.25
    assert store.trades_submitted(DAY) == 1
    assert store.start_equity(DAY + timedelta(days=1)) is None


# -- equity, runs, heartbeats, reconciliation ------------------------------------------------


def test_equity_curve_is_returned_oldest_first_from_since(store: StateStore) -> None:
    store.add_equity_snapshot(T0 + timedelta(minutes=1), 101.0, 50.0, 51.0, 1, 0)
    store.add_equity_snapshot(T0, 100.0, 100.0, 0.0, 0, 1)

    assert [e.equity for e in store.equity_curve()] == [100.0, 101.0]
    assert [e.equity for e in store.equity_curve(since=T0 + timedelta(seconds=1))] == [101.0]


def test_runs_record_start_and_stop(store: StateStore) -> None:
    crashed = store.start_run(T0, 111, "paper")
    current = store.start_run(T0 + timedelta(hours=1), 222, "paper")

    store.end_run(current, T0 + timedelta(hours=2), "SIGTERM")

    newest, older = store.runs()
    assert (newest.id, newest.stopped_at, newest.exit_reason) == (
        current,
        T0 + timedelta(hours=2),
        "SIGTERM",
    )
    assert (older.id, older.pid, older.stopped_at) == (crashed, 111, None)


def test_heartbeats_keep_only_the_latest(store: StateStore) -> None:
    for i in range(5):
        store.add_heartbeat(T0 + timedelta(minutes=i), 100.0 + i, 1, 0, TradingState.ACTIVE, keep=3)

    last = store.last_heartbeat()

    assert store.heartbeat_count() == 3
    assert last is not None
    assert (last.timestamp, last.equity, last.state) == (
        T0 + timedelta(minutes=4),
        104.0,
        TradingState.ACTIVE,
    )


def test_last_heartbeat_is_none_before_any(store: StateStore) -> None:
    assert store.last_heartbeat() is None


def test_reconciliation_events_round_trip(store: StateStore) -> None:
    store.add_reconciliation_event(T0, "missing_fill", "cid-1", "AAPL", "broker filled 10")
    store.add_reconciliation_event(T0, "foreign_position", None, "MSFT", "5 shares")

    events = store.reconciliation_events()

    assert [(e.kind, e.client_order_id, e.symbol) for e in events] == [
        ("missing_fill", "cid-1", "AAPL"),
        ("foreign_position", None, "MSFT"),
    ]
    assert events[0].timestamp == T0


# -- bars ------------------------------------------------------------------------------------


def test_add_bars_ignores_a_bar_already_stored(store: StateStore) -> None:
    store.add_bars([a_bar(close=100.0)])

    new = store.add_bars([a_bar(close=999.0), a_bar(at=T0 + timedelta(minutes=1))])

    assert new == 1
    assert store.bars_between("AAPL", T0, T0 + timedelta(minutes=2))[0] == a_bar(close=100.0)


def test_bars_between_is_half_open_and_filters_by_symbol(store: StateStore) -> None:
    minutes = [T0 + timedelta(minutes=i) for i in range(3)]
    store.add_bars([a_bar("AAPL", m) for m in minutes] + [a_bar("MSFT", minutes[1])])

    aapl = store.bars_between("AAPL", minutes[0], minutes[2])
    every = store.bars_between(None, minutes[1], minutes[2] + timedelta(seconds=1))

    assert [b.timestamp for b in aapl] == minutes[:2]
    assert [(b.symbol, b.timestamp) for b in every] == [
        ("AAPL", minutes[1]),
        ("MSFT", minutes[1]),
        ("AAPL", minutes[2]),
    ]


def test_prune_bars_deletes_only_older_bars(store: StateStore) -> None:
    store.add_bars([a_bar(at=T0 - timedelta(days=10)), a_bar(at=T0)])

    deleted = store.prune_bars(older_than=T0 - timedelta(days=5))

    assert deleted == 1
    assert [
        b.timestamp
        for b in store.bars_between(None, T0 - timedelta(days=30), T0 + timedelta(days=1))
    ] == [T0]


# -- crash safety ----------------------------------------------------------------------------

CHILD = """
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from fleece.models import OrderIntent, Side
from fleece.state_store import StateStore

store = StateStore(Path(sys.argv[1]))
t0 = datetime(2024, 11, 29, 14, 30, tzinfo=UTC)
for i in range(1_000_000):
    cid = f"c{i}"
    store.add_intent(OrderIntent(cid, "sma", "AAPL", Side.BUY, 10, t0, t0))
    print("intent", cid, flush=True)
    store.record_fill(cid, f"b{i}", "AAPL", Side.BUY, 4, 100.0, t0)
    print("fill", cid, 4, flush=True)
    store.record_fill(cid, f"b{i}", "AAPL", Side.BUY, 10, 100.6, t0)
    print("fill", cid, 10, flush=True)
"""


def test_every_reported_commit_survives_sigkill(db_path: Path) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(db_path)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert child.stdout is not None
    reported: list[list[str]] = []
    for line in child.stdout:
        reported.append(line.split())
        if len(reported) >= 300:
            break
    child.send_signal(signal.SIGKILL)
    reported += [line.split() for line in child.stdout]  # commits printed before the kill
    child.wait()

    assert child.returncode == -signal.SIGKILL
    with StateStore(db_path) as store:
        assert store.integrity_check() == "ok"
        for kind, cid, *rest in reported:
            record = store.get_intent(cid)
            assert record is not None, cid
            if kind == "fill":
                assert store.recorded_qty(cid) >= int(rest[0]), cid
        last_filled = [cid for kind, cid, *rest in reported if kind == "fill" and rest == ["10"]]
        assert [(f.qty, f.price) for f in store.fills_for(last_filled[-1])] == [
            (4, 100.0),
            (6, 101.0),
        ]


def test_every_intent_status_is_accepted_by_the_schema(store: StateStore) -> None:
    for status in IntentStatus:
        assert store.add_intent(an_intent(f"cid-{status.value}"), status)
