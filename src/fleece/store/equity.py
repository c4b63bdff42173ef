"""Money over time: the equity curve and each session's counters (start equity, trades)."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import date, datetime

from fleece.store.connection import StoreBase
from fleece.store.schema import format_ts, from_row


@dataclass(frozen=True, slots=True)
class EquitySnapshot:
    """One point of the equity curve."""

    timestamp: datetime
    equity: float
    cash: float
    long_market_value: float
    positions: int
    open_orders: int


def count_trade(conn: sqlite3.Connection, day: date) -> int:
    """Count one more submitted order in session ``day`` inside the caller's transaction."""
    row = conn.execute(
        "INSERT INTO daily_counters (session_date, trades_submitted) VALUES (?, 1)"
        " ON CONFLICT (session_date) DO UPDATE SET"
        " trades_submitted = trades_submitted + 1 RETURNING trades_submitted",
        (day.isoformat(),),
    ).fetchone()
    return int(row[0])


class Equity(StoreBase):
    """The ``equity_curve`` and ``daily_counters`` tables."""

    def trades_submitted(self, day: date) -> int:
        """Return how many orders were submitted in session ``day``."""
        rows = self._read(
            "SELECT trades_submitted FROM daily_counters WHERE session_date = ?",
            (day.isoformat(),),
        )
        return int(rows[0][0]) if rows else 0

    def increment_trades_submitted(self, day: date) -> int:
        """Count one more submitted order in session ``day``; return the new count."""
        with self._write() as conn:
            return count_trade(conn, day)

    def set_start_equity(self, day: date, equity: float) -> None:
        """Set session ``day``'s starting equity (overwrites; check start_equity() first)."""
        with self._write() as conn:
            conn.execute(
                "INSERT INTO daily_counters (session_date, start_equity) VALUES (?, ?)"
                " ON CONFLICT (session_date) DO UPDATE SET start_equity = excluded.start_equity",
                (day.isoformat(), equity),
            )

    def start_equity(self, day: date) -> float | None:
        """Return session ``day``'s starting equity, or None if not recorded."""
        rows = self._read(
            "SELECT start_equity FROM daily_counters WHERE session_date = ?", (day.isoformat(),)
        )
        return None if not rows or rows[0][0] is None else float(rows[0][0])

    # -- equity curve ----------------------------------------------------------------------

    def add_equity_snapshot(  # noqa: PLR0917 (the documented positional API)
        self,
        ts: datetime,
        equity: float,
        cash: float,
        long_market_value: float,
        positions: int,
        open_orders: int,
    ) -> None:
        """Record one point of the equity curve (a second one at the same instant replaces it)."""
        with self._write() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO equity_curve (timestamp_utc, equity, cash,"
                " long_market_value, positions, open_orders) VALUES (?, ?, ?, ?, ?, ?)",
                (format_ts(ts), equity, cash, long_market_value, positions, open_orders),
            )

    def equity_curve(self, since: datetime | None = None) -> list[EquitySnapshot]:
        """Return the equity curve (at or after ``since`` if given), oldest first."""
        rows = self._read(
            "SELECT * FROM equity_curve WHERE timestamp_utc >= ? ORDER BY timestamp_utc",
            (format_ts(since) if since else "",),
        )
        return [from_row(EquitySnapshot, r) for r in rows]
