"""Fills: one ``trades`` row per increment of the broker's cumulative fill reports."""

from __future__ import annotations

import sqlite3
from datetime import datetime

from fleece.intents import IntentError, fill_increment
from fleece.models import Fill, Side
from fleece.store.connection import StoreBase
from fleece.store.orders import load_intent, save_intent
from fleece.store.schema import StateStoreError, format_ts, parse_ts


def _fill_from_row(row: sqlite3.Row) -> Fill:
    return Fill(
        client_order_id=row["client_order_id"],
        broker_order_id=row["broker_order_id"],
        symbol=row["symbol"],
        side=Side(row["side"]),
        qty=row["qty"],
        price=row["price"],
        timestamp=parse_ts(row["timestamp_utc"]),
    )


class Fills(StoreBase):
    """The ``trades`` table (and the fill state it keeps on ``order_intents``)."""

    def record_fill(  # noqa: PLR0917 (the documented positional API)
        self,
        cid: str,
        broker_order_id: str,
        symbol: str,
        side: Side,
        cumulative_qty: int,
        cumulative_avg_price: float,
        timestamp: datetime,
    ) -> Fill | None:
        """Record the broker's cumulative fill state of an order as one new ``trades`` row.

        The row is the increment :func:`fleece.intents.fill_increment` finds over the rows
        already recorded (whole ticks; the rows' ``sum(qty * price)`` follows the broker's
        total to the tick). The intent's filled_qty, filled_avg_price (as the broker reports
        it) and status change in the same transaction, as
        :meth:`fleece.intents.IntentProgress.filled` says.

        Returns:
            The Fill written, or None if nothing new (a repeated or stale report).

        Raises:
            StateStoreError: ``cid`` is unknown, or the report implies a price <= 0.
        """
        ts = format_ts(timestamp)
        with self._write() as conn:
            record = load_intent(conn, cid)
            rows = conn.execute(
                "SELECT qty, price FROM trades WHERE client_order_id = ?", (cid,)
            ).fetchall()
            try:
                new = fill_increment(
                    ((int(r["qty"]), r["price"]) for r in rows),
                    cumulative_qty,
                    cumulative_avg_price,
                )
            except IntentError as exc:
                raise StateStoreError(f"fill report for {cid!r}: {exc}") from exc
            if new is None:
                return None
            fill = Fill(cid, broker_order_id, symbol, side, new.qty, new.price, parse_ts(ts))
            conn.execute(
                "INSERT INTO trades (timestamp_utc, symbol, side, qty, price, client_order_id,"
                " broker_order_id, cumulative_qty) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    ts,
                    symbol,
                    side.value,
                    new.qty,
                    new.price,
                    cid,
                    broker_order_id,
                    cumulative_qty,
                ),
            )
            progress = record.progress()
            progress.filled(
                record.qty, cumulative_qty, cumulative_avg_price, broker_order_id, timestamp
            )
            save_intent(conn, cid, progress)
        return fill

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
