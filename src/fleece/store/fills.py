"""Fills: one ``trades`` row per increment of the broker's cumulative fill reports."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime

from fleece.models import Fill, Side
from fleece.store.connection import StoreBase
from fleece.store.schema import format_ts, from_row, parse_ts


def _fill_from_row(row: sqlite3.Row) -> Fill:
    return from_row(Fill, row, side=Side(row["side"]))


class Fills(StoreBase):
    """The ``trades`` table (and the fill state it keeps on ``order_intents``)."""

    def _recorded(self, cid: str) -> Iterable[tuple[int, float]]:
        # Called inside IntentStore.record_fill's transaction (Orders._changing).
        rows = self._conn.execute(
            "SELECT qty, price FROM trades WHERE client_order_id = ?", (cid,)
        ).fetchall()
        return ((int(r["qty"]), r["price"]) for r in rows)

    def _keep_fill(self, fill: Fill, cumulative_qty: int) -> Fill:
        # Called inside IntentStore.record_fill's transaction; returns the fill as it is read
        # back (UTC, to the microsecond).
        ts = format_ts(fill.timestamp)
        self._conn.execute(
            "INSERT INTO trades (timestamp_utc, symbol, side, qty, price, client_order_id,"
            " broker_order_id, cumulative_qty) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                ts,
                fill.symbol,
                fill.side.value,
                fill.qty,
                fill.price,
                fill.client_order_id,
                fill.broker_order_id,
                cumulative_qty,
            ),
        )
        return replace(fill, timestamp=parse_ts(ts))

    def fills(self, since: datetime | None = None) -> list[Fill]:
        """Return recorded fills (at or after ``since`` if given), oldest first."""
        rows = self._read(
            "SELECT * FROM trades WHERE timestamp_utc >= ? ORDER BY timestamp_utc, id",
            (format_ts(since) if since else "",),
        )
        return [_fill_from_row(r) for r in rows]

    def fills_for(self, cid: str) -> list[Fill]:
        """Return the fills of one order, in the order they were recorded."""
        rows = self._read("SELECT * FROM trades WHERE client_order_id = ? ORDER BY id", (cid,))
        return [_fill_from_row(r) for r in rows]

    def recorded_qty(self, cid: str) -> int:
        """Return the total quantity recorded as filled for one order."""
        rows = self._read(
            "SELECT COALESCE(SUM(qty), 0) FROM trades WHERE client_order_id = ?", (cid,)
        )
        return int(rows[0][0])
