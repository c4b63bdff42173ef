"""What happened, for the record: refusals, runs, heartbeats, reconciliation events."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from fleece.models import Refusal, Side, TradingState
from fleece.store.connection import StoreBase
from fleece.store.schema import format_ts, from_row

HEARTBEATS_KEPT = 10_080  # one week of one-minute heartbeats


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """The runtime's periodic sign of life."""

    timestamp: datetime
    equity: float | None
    positions: int
    open_orders: int
    state: TradingState


@dataclass(frozen=True, slots=True)
class BotRun:
    """One start of the bot; ``stopped_at`` stays None when it died without saying so."""

    id: int
    started_at: datetime
    stopped_at: datetime | None
    pid: int
    mode: str
    exit_reason: str | None

    @property
    def unfinished_pid(self) -> int | None:
        """The run's PID while it has not recorded its end: the bot may still be running
        (Docker, systemd and ``fleece run`` write no PID file; the run records it)."""
        return self.pid if self.stopped_at is None else None


@dataclass(frozen=True, slots=True)
class ReconciliationEvent:
    """A discrepancy between the store and the broker, and what was done about it."""

    id: int
    timestamp: datetime
    kind: str
    client_order_id: str | None
    symbol: str | None
    detail: str


class Journal(StoreBase):
    """The ``refusals``, ``bot_runs``, ``heartbeats`` and ``reconciliation_events`` tables."""

    def add_refusal(self, r: Refusal) -> None:
        """Record a signal the risk manager refused."""
        with self._write() as conn:
            conn.execute(
                "INSERT INTO refusals (timestamp_utc, symbol, side, reason, detail)"
                " VALUES (?, ?, ?, ?, ?)",
                (format_ts(r.timestamp), r.symbol, r.side.value, r.reason, r.detail),
            )

    def refusals(self, since: datetime | None = None) -> list[Refusal]:
        """Return recorded refusals (at or after ``since`` if given), oldest first."""
        rows = self._read(
            "SELECT * FROM refusals WHERE timestamp_utc >= ? ORDER BY timestamp_utc, id",
            (format_ts(since) if since else "",),
        )
        return [from_row(Refusal, r, side=Side(r["side"])) for r in rows]

    def refusal_counts(self, since: datetime | None = None) -> dict[str, int]:
        """Return how many refusals each reason had (at or after ``since`` if given)."""
        rows = self._read(
            "SELECT reason, COUNT(*) FROM refusals WHERE timestamp_utc >= ?"
            " GROUP BY reason ORDER BY reason",
            (format_ts(since) if since else "",),
        )
        return {str(r[0]): int(r[1]) for r in rows}

    def start_run(self, now: datetime, pid: int, mode: str) -> int:
        """Record that the bot started; return the run id for :meth:`end_run`."""
        with self._write() as conn:
            cursor = conn.execute(
                "INSERT INTO bot_runs (started_at_utc, pid, mode) VALUES (?, ?, ?)",
                (format_ts(now), pid, mode),
            )
            return int(cursor.lastrowid or 0)

    def end_run(self, run_id: int, now: datetime, reason: str) -> None:
        """Record that run ``run_id`` stopped, and why."""
        with self._write() as conn:
            conn.execute(
                "UPDATE bot_runs SET stopped_at_utc = ?, exit_reason = ? WHERE id = ?",
                (format_ts(now), reason, run_id),
            )

    def runs(self, limit: int = 10) -> list[BotRun]:
        """Return the latest ``limit`` runs, newest first."""
        rows = self._read("SELECT * FROM bot_runs ORDER BY id DESC LIMIT ?", (limit,))
        return [from_row(BotRun, r) for r in rows]

    def add_heartbeat(  # noqa: PLR0917 (the documented positional API)
        self,
        ts: datetime,
        equity: float | None,
        positions: int,
        open_orders: int,
        state: TradingState,
        keep: int = HEARTBEATS_KEPT,
    ) -> None:
        """Record a heartbeat, keeping only the latest ``keep`` rows."""
        with self._write() as conn:
            cursor = conn.execute(
                "INSERT INTO heartbeats (timestamp_utc, equity, positions, open_orders, state)"
                " VALUES (?, ?, ?, ?, ?)",
                (format_ts(ts), equity, positions, open_orders, state.value),
            )
            conn.execute("DELETE FROM heartbeats WHERE id <= ?", ((cursor.lastrowid or 0) - keep,))

    def last_heartbeat(self) -> Heartbeat | None:
        """Return the latest heartbeat, or None."""
        rows = self._read("SELECT * FROM heartbeats ORDER BY id DESC LIMIT 1")
        if not rows:
            return None
        return from_row(Heartbeat, rows[0], state=TradingState(rows[0]["state"]))

    def heartbeat_count(self) -> int:
        """Return how many heartbeats are kept."""
        return int(self._read("SELECT COUNT(*) FROM heartbeats")[0][0])

    def add_reconciliation_event(
        self, ts: datetime, kind: str, cid: str | None, symbol: str | None, detail: str
    ) -> int:
        """Record a discrepancy found by reconciliation; return its id."""
        with self._write() as conn:
            cursor = conn.execute(
                "INSERT INTO reconciliation_events (timestamp_utc, kind, client_order_id,"
                " symbol, detail) VALUES (?, ?, ?, ?, ?)",
                (format_ts(ts), kind, cid, symbol, detail),
            )
            return int(cursor.lastrowid or 0)

    def reconciliation_events(self, since: datetime | None = None) -> list[ReconciliationEvent]:
        """Return reconciliation events (at or after ``since`` if given), oldest first."""
        rows = self._read(
            "SELECT * FROM reconciliation_events WHERE timestamp_utc >= ?"
            " ORDER BY timestamp_utc, id",
            (format_ts(since) if since else "",),
        )
        return [from_row(ReconciliationEvent, r) for r in rows]
