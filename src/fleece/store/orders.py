"""Order intents: written before a send, moved along by the broker's answers."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date

from fleece.intents import (
    UNFINISHED_STATUSES,
    IntentProgress,
    IntentRecord,
    IntentStatus,
)
from fleece.models import OrderIntent, Side
from fleece.store.connection import StoreBase
from fleece.store.equity import count_trade
from fleece.store.schema import StateStoreError, format_ts, from_row


def _intent_from_row(row: sqlite3.Row) -> IntentRecord:
    return from_row(
        IntentRecord,
        row,
        side=Side(row["side"]),
        status=IntentStatus(row["status"]),
        dry_run=bool(row["dry_run"]),
    )


def load_intent(conn: sqlite3.Connection, cid: str) -> IntentRecord:
    """The intent ``cid``, read inside the caller's transaction.

    Raises:
        StateStoreError: no intent has client_order_id ``cid``.
    """
    row = conn.execute("SELECT * FROM order_intents WHERE client_order_id = ?", (cid,)).fetchone()
    if row is None:
        raise StateStoreError(f"unknown client_order_id {cid!r}")
    return _intent_from_row(row)


def save_intent(conn: sqlite3.Connection, cid: str, progress: IntentProgress) -> None:
    """Write the intent's ``progress`` (:mod:`fleece.intents` decides what changes)."""
    conn.execute(
        "UPDATE order_intents SET status = ?, updated_at_utc = ?, broker_order_id = ?,"
        " filled_qty = ?, filled_avg_price = ?, last_error = ?, submit_attempts = ?"
        " WHERE client_order_id = ?",
        (
            progress.status.value,
            format_ts(progress.updated_at),
            progress.broker_order_id,
            progress.filled_qty,
            progress.filled_avg_price,
            progress.last_error,
            progress.submit_attempts,
            cid,
        ),
    )


class Orders(StoreBase):
    """The ``order_intents`` table."""

    def _write_intent(
        self, intent: OrderIntent, progress: IntentProgress, count_on: date | None
    ) -> bool:
        # INSERT OR IGNORE: an existing row is left untouched. The day's count in the same
        # transaction (see IntentStore.add_intent).
        with self._write() as conn:
            cursor = conn.execute(
                "INSERT OR IGNORE INTO order_intents (client_order_id, strategy, symbol, side,"
                " qty, signal_timestamp_utc, created_at_utc, updated_at_utc, status, dry_run)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    intent.client_order_id,
                    intent.strategy,
                    intent.symbol,
                    intent.side.value,
                    intent.qty,
                    format_ts(intent.signal_timestamp),
                    format_ts(intent.created_at),
                    format_ts(progress.updated_at),
                    progress.status.value,
                    int(intent.dry_run),
                ),
            )
            written = cursor.rowcount == 1
            if written and count_on is not None:
                count_trade(conn, count_on)
            return written

    def get_intent(self, cid: str) -> IntentRecord | None:
        """Return the intent with client_order_id ``cid``, or None."""
        rows = self._read("SELECT * FROM order_intents WHERE client_order_id = ?", (cid,))
        return _intent_from_row(rows[0]) if rows else None

    @contextmanager
    def _changing(self, cid: str) -> Iterator[tuple[int, IntentProgress]]:
        # One transaction: the intent read, changed and kept by the caller (IntentStore).
        with self._write() as conn:
            record = load_intent(conn, cid)
            yield record.qty, record.progress()

    def _keep(self, cid: str, progress: IntentProgress) -> None:
        save_intent(self._conn, cid, progress)  # inside _changing's transaction

    def unfinished_intents(self) -> list[IntentRecord]:
        """Return intents the broker may still act on (new, submitted, accepted, ...)."""
        return self.intents_by_status(*UNFINISHED_STATUSES)

    def intents_by_status(self, *statuses: IntentStatus | str) -> list[IntentRecord]:
        """Return intents whose status is one of ``statuses``, oldest first."""
        values = [IntentStatus(s).value for s in statuses]
        if not values:
            return []
        marks = ", ".join("?" for _ in values)
        rows = self._read(
            f"SELECT * FROM order_intents WHERE status IN ({marks})"  # noqa: S608 (only ?s)
            " ORDER BY created_at_utc, client_order_id",
            values,
        )
        return [_intent_from_row(r) for r in rows]

    def all_intents(self) -> list[IntentRecord]:
        """Return every intent, oldest first."""
        rows = self._read("SELECT * FROM order_intents ORDER BY created_at_utc, client_order_id")
        return [_intent_from_row(r) for r in rows]
