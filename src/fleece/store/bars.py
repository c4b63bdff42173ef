"""The bars the bot acted on (and those that came late), kept for replays and charts."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from datetime import datetime

from fleece.models import Bar
from fleece.store.connection import StoreBase
from fleece.store.schema import format_ts, from_row


def _bar_from_row(row: sqlite3.Row) -> Bar:
    return from_row(Bar, row)


class Bars(StoreBase):
    """The ``bars`` table."""

    def add_bars(self, bars: Iterable[Bar]) -> int:
        """Store bars the bot acted on; a (symbol, timestamp) already present is kept as is.

        Returns:
            How many bars were new.
        """
        rows = [
            (
                b.symbol,
                format_ts(b.timestamp),
                b.open,
                b.high,
                b.low,
                b.close,
                b.volume,
                b.trade_count,
                b.vwap,
            )
            for b in bars
        ]
        with self._write() as conn:
            before = conn.total_changes
            conn.executemany(
                "INSERT OR IGNORE INTO bars (symbol, timestamp_utc, open, high, low, close,"
                " volume, trade_count, vwap) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
            return conn.total_changes - before

    def mark_late(self, bars: Iterable[Bar]) -> None:
        """Record that ``bars`` came after their minute was judged empty (not fed)."""
        with self._write() as conn:
            conn.executemany(
                "UPDATE bars SET late = 1 WHERE symbol = ? AND timestamp_utc = ?",
                [(b.symbol, format_ts(b.timestamp)) for b in bars],
            )

    def bars_between(
        self, symbol: str | None, start: datetime, end: datetime, *, fed_only: bool = False
    ) -> list[Bar]:
        """Return bars with ``start <= timestamp < end`` (all symbols if ``symbol`` is None).

        Ordered by timestamp, then symbol, so a day replays in the order it happened.
        ``fed_only`` leaves out the late bars, which the strategy never saw.
        """
        sql = "SELECT * FROM bars WHERE timestamp_utc >= ? AND timestamp_utc < ?"
        if fed_only:
            sql += " AND late = 0"
        params: list[str] = [format_ts(start), format_ts(end)]
        if symbol is not None:
            sql += " AND symbol = ?"
            params.append(symbol)
        rows = self._read(sql + " ORDER BY timestamp_utc, symbol", params)
        return [_bar_from_row(r) for r in rows]

    def prune_bars(self, older_than: datetime) -> int:
        """Delete bars that started before ``older_than``; return how many were deleted."""
        with self._write() as conn:
            cursor = conn.execute(
                "DELETE FROM bars WHERE timestamp_utc < ?", (format_ts(older_than),)
            )
            return cursor.rowcount
