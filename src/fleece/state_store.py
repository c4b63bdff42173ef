"""The bot's memory: one SQLite file that survives restarts and crashes.

The store holds what we intended (``order_intents``, written *before* a submit), what the broker
told us happened (``trades``, one row per fill increment), the persisted safety state (kill
switch, circuit breaker, trading state, daily-loss latch in ``bot_state``), daily counters, the
equity curve, refusals, runs, heartbeats, the bars the bot acted on and reconciliation events.

Conventions:
    * Timestamps are stored as ISO-8601 UTC text of one fixed width,
      ``2024-11-29T14:30:00.000000Z``, so string order is time order; they are read back as
      UTC-aware datetimes.
    * Share quantities are integers; prices are REAL with at most 4 decimals (whole ticks of
      1/10,000 dollar), so ``qty * price`` sums reconcile to the cent.
    * Every write is one ``BEGIN IMMEDIATE`` transaction under a lock, so the store can be
      shared by the event-loop thread and worker threads.

The seed's monitoring queries work as written, e.g.::

    sqlite3 data/trades.db "SELECT * FROM trades ORDER BY timestamp_utc DESC LIMIT 10;"
    sqlite3 data/trades.db "SELECT * FROM equity_curve ORDER BY timestamp_utc DESC LIMIT 10;"
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import StrEnum
from fractions import Fraction
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from fleece.errors import FleeceError
from fleece.models import (
    TICKS_PER_DOLLAR,
    Bar,
    Fill,
    OrderIntent,
    Refusal,
    Side,
    TradingState,
    require_utc,
    to_ticks,
)
from fleece.store_health import (
    StoreDiskError,
    check_complete,
    check_file,
    check_foreign,
    disk_error,
    quick_check,
    unusable,
)

TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
BUSY_TIMEOUT_MS = 10_000
HEARTBEATS_KEPT = 10_080  # one week of one-minute heartbeats


class StateStoreError(FleeceError):
    """The database cannot be used as asked (newer schema, unknown order, impossible fill)."""


class IntentStatus(StrEnum):
    """Lifecycle of an order intent; the broker's order statuses plus our own three."""

    NEW = "new"  # written, not yet sent
    SUBMITTED = "submitted"  # send attempted, outcome unknown until the broker answers
    ACCEPTED = "accepted"
    PENDING_NEW = "pending_new"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELED = "canceled"
    EXPIRED = "expired"
    REJECTED = "rejected"
    FAILED = "failed"  # definitely not at the broker
    DRY_RUN = "dry_run"


UNFINISHED_STATUSES: tuple[IntentStatus, ...] = (
    IntentStatus.NEW,
    IntentStatus.SUBMITTED,
    IntentStatus.ACCEPTED,
    IntentStatus.PENDING_NEW,
    IntentStatus.PARTIALLY_FILLED,
)

# bot_state keys.
KEY_TRADING_STATE = "trading_state"
KEY_KILL_SWITCH = "kill_switch"
KEY_BREAKER = "circuit_breaker"
KEY_REDUCING_LATCH = "reducing_latch"


# Each migration is a list of statements run in one transaction (executescript would commit
# on its own, so statements are executed one by one). Append only; never edit a released step.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    # 1: the seed's tables.
    (
        # The status list is spelled out, not derived from IntentStatus, so this released step
        # never changes; a new status needs a migration that rebuilds the table.
        """CREATE TABLE order_intents (
            client_order_id TEXT PRIMARY KEY,
            strategy TEXT NOT NULL,
            symbol TEXT NOT NULL,
            side TEXT NOT NULL CHECK (side IN ('buy', 'sell')),
            qty INTEGER NOT NULL CHECK (qty > 0),
            signal_timestamp_utc TEXT NOT NULL,
            created_at_utc TEXT NOT NULL,
            updated_at_utc TEXT NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('new', 'submitted', 'accepted',
                'pending_new', 'partially_filled', 'filled', 'canceled', 'expired', 'rejected',
                'failed', 'dry_run')),
            broker_order_id TEXT,
            filled_qty INTEGER NOT NULL DEFAULT 0,
            filled_avg_price REAL,
            dry_run INTEGER NOT NULL DEFAULT 0,
            last_error TEXT,
            submit_attempts INTEGER NOT NULL DEFAULT 0
        )""",
        "CREATE INDEX order_intents_status ON order_intents (status)",
        """CREATE TABLE trades (
            id INTEGER PRIMARY KEY,
            timestamp_utc TEXT NOT NULL,
            symbol TEXT NOT NULL,
            side TEXT NOT NULL CHECK (side IN ('buy', 'sell')),
            qty INTEGER NOT NULL CHECK (qty > 0),
            price REAL NOT NULL,
            client_order_id TEXT NOT NULL REFERENCES order_intents (client_order_id),
            broker_order_id TEXT,
            cumulative_qty INTEGER NOT NULL,
            UNIQUE (client_order_id, cumulative_qty)
        )""",
        "CREATE INDEX trades_timestamp ON trades (timestamp_utc)",
        """CREATE TABLE equity_curve (
            timestamp_utc TEXT PRIMARY KEY,
            equity REAL NOT NULL,
            cash REAL NOT NULL,
            long_market_value REAL NOT NULL,
            positions INTEGER NOT NULL,
            open_orders INTEGER NOT NULL
        )""",
        """CREATE TABLE bot_state (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL,
            updated_at_utc TEXT NOT NULL
        )""",
        """CREATE TABLE daily_counters (
            session_date TEXT PRIMARY KEY,
            trades_submitted INTEGER NOT NULL DEFAULT 0,
            start_equity REAL
        )""",
    ),
    # 2: what the runtime needs beyond the seed.
    (
        """CREATE TABLE refusals (
            id INTEGER PRIMARY KEY,
            timestamp_utc TEXT NOT NULL,
            symbol TEXT NOT NULL,
            side TEXT NOT NULL,
            reason TEXT NOT NULL,
            detail TEXT NOT NULL
        )""",
        "CREATE INDEX refusals_timestamp ON refusals (timestamp_utc)",
        """CREATE TABLE bot_runs (
            id INTEGER PRIMARY KEY,
            started_at_utc TEXT NOT NULL,
            stopped_at_utc TEXT,
            pid INTEGER NOT NULL,
            mode TEXT NOT NULL,
            exit_reason TEXT
        )""",
        """CREATE TABLE heartbeats (
            id INTEGER PRIMARY KEY,
            timestamp_utc TEXT NOT NULL,
            equity REAL,
            positions INTEGER NOT NULL,
            open_orders INTEGER NOT NULL,
            state TEXT NOT NULL
        )""",
        """CREATE TABLE bars (
            symbol TEXT NOT NULL,
            timestamp_utc TEXT NOT NULL,
            open REAL NOT NULL,
            high REAL NOT NULL,
            low REAL NOT NULL,
            close REAL NOT NULL,
            volume INTEGER NOT NULL,
            trade_count INTEGER,
            vwap REAL,
            PRIMARY KEY (symbol, timestamp_utc)
        )""",
        "CREATE INDEX bars_timestamp ON bars (timestamp_utc)",
        """CREATE TABLE reconciliation_events (
            id INTEGER PRIMARY KEY,
            timestamp_utc TEXT NOT NULL,
            kind TEXT NOT NULL,
            client_order_id TEXT,
            symbol TEXT,
            detail TEXT NOT NULL
        )""",
    ),
    # 3: bars that arrived after their minute was judged empty (the minute grid): kept for the
    # record and the charts, never fed to the strategy, so replays leave them out.
    ("ALTER TABLE bars ADD COLUMN late INTEGER NOT NULL DEFAULT 0",),
    # 4: operator commands (Telegram, CLI, dashboard) with who sent them and what came of them.
    (
        """CREATE TABLE commands (
            id INTEGER PRIMARY KEY,
            requested_at_utc TEXT NOT NULL,
            source TEXT NOT NULL,
            sender TEXT NOT NULL,
            command TEXT NOT NULL,
            args TEXT NOT NULL DEFAULT '',
            status TEXT NOT NULL CHECK (status IN ('pending', 'running', 'done', 'failed',
                'refused', 'expired')),
            result TEXT,
            finished_at_utc TEXT
        )""",
        "CREATE INDEX commands_status ON commands (status)",
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)


def tables_up_to(version: int) -> frozenset[str]:
    """Every table a store at schema ``version`` has (one lacking one is not ours, or damaged)."""
    return frozenset(
        {"schema_version"}
        | {
            statement.split()[2]
            for step in MIGRATIONS[:version]
            for statement in step
            if statement.startswith("CREATE TABLE ")
        }
    )


TABLES = tables_up_to(SCHEMA_VERSION)


def format_ts(ts: datetime) -> str:
    """Return ``ts`` (timezone-aware) as the store's fixed-width UTC text."""
    return require_utc(ts).astimezone(UTC).strftime(TIMESTAMP_FORMAT)


def parse_ts(text: str) -> datetime:
    """Return the UTC-aware datetime stored as ``text`` by :func:`format_ts`."""
    return datetime.strptime(text, TIMESTAMP_FORMAT).replace(tzinfo=UTC)


def _opt_ts(text: str | None) -> datetime | None:
    return None if text is None else parse_ts(text)


@dataclass(frozen=True, slots=True)
class IntentRecord:
    """One row of ``order_intents``: the intent plus what we learnt about it since."""

    client_order_id: str
    strategy: str
    symbol: str
    side: Side
    qty: int
    signal_timestamp: datetime
    created_at: datetime
    updated_at: datetime
    status: IntentStatus
    broker_order_id: str | None
    filled_qty: int
    filled_avg_price: float | None
    dry_run: bool
    last_error: str | None
    submit_attempts: int

    def to_intent(self) -> OrderIntent:
        """Return the original :class:`OrderIntent` (e.g. to resubmit one still ``new``)."""
        return OrderIntent(
            client_order_id=self.client_order_id,
            strategy=self.strategy,
            symbol=self.symbol,
            side=self.side,
            qty=self.qty,
            signal_timestamp=self.signal_timestamp,
            created_at=self.created_at,
            dry_run=self.dry_run,
        )


@dataclass(frozen=True, slots=True)
class EquitySnapshot:
    """One point of the equity curve."""

    timestamp: datetime
    equity: float
    cash: float
    long_market_value: float
    positions: int
    open_orders: int


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


@dataclass(frozen=True, slots=True)
class ReconciliationEvent:
    """A discrepancy between the store and the broker, and what was done about it."""

    id: int
    timestamp: datetime
    kind: str
    client_order_id: str | None
    symbol: str | None
    detail: str


@dataclass(frozen=True, slots=True)
class CommandRecord:
    """An operator command: who asked for what, from where, and what came of it."""

    id: int
    requested_at: datetime
    source: str
    sender: str
    command: str
    args: str
    status: str
    result: str | None
    finished_at: datetime | None


def _command_from_row(r: sqlite3.Row) -> CommandRecord:
    return CommandRecord(
        r["id"],
        parse_ts(r["requested_at_utc"]),
        r["source"],
        r["sender"],
        r["command"],
        r["args"],
        r["status"],
        r["result"],
        _opt_ts(r["finished_at_utc"]),
    )


def _intent_from_row(row: sqlite3.Row) -> IntentRecord:
    return IntentRecord(
        client_order_id=row["client_order_id"],
        strategy=row["strategy"],
        symbol=row["symbol"],
        side=Side(row["side"]),
        qty=row["qty"],
        signal_timestamp=parse_ts(row["signal_timestamp_utc"]),
        created_at=parse_ts(row["created_at_utc"]),
        updated_at=parse_ts(row["updated_at_utc"]),
        status=IntentStatus(row["status"]),
        broker_order_id=row["broker_order_id"],
        filled_qty=row["filled_qty"],
        filled_avg_price=row["filled_avg_price"],
        dry_run=bool(row["dry_run"]),
        last_error=row["last_error"],
        submit_attempts=row["submit_attempts"],
    )


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


def _bar_from_row(row: sqlite3.Row) -> Bar:
    return Bar(
        symbol=row["symbol"],
        timestamp=parse_ts(row["timestamp_utc"]),
        open=row["open"],
        high=row["high"],
        low=row["low"],
        close=row["close"],
        volume=row["volume"],
        trade_count=row["trade_count"],
        vwap=row["vwap"],
    )


class StateStore:
    """SQLite-backed persistence for one bot; safe to share between threads.

    Opening checks the file first (:mod:`fleece.store_health`): not SQLite, another
    application's database, or damaged (``quick_check``) is refused before anything is written.
    Afterwards a read or write that fails on the disk or the file (full disk, I/O error, damage)
    raises :class:`~fleece.store_health.StoreDiskError`, after telling :attr:`on_disk_error`.

    Args:
        path: the database file; missing parent directories are created.

    Raises:
        StoreUnusableError: the file is not a store this code can use (exit code 2).
        StoreDiskError: the disk failed while opening (full, I/O error).
        StateStoreError: the file was written by a newer version of the code, or WAL mode
            could not be enabled.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        # Told of every disk or file failure before it is raised (the runtime halts on it).
        self.on_disk_error: Callable[[StoreDiskError], None] | None = None
        path.parent.mkdir(parents=True, exist_ok=True)
        check_file(path)
        self._lock = threading.RLock()
        try:
            # isolation_level=None: we issue BEGIN/COMMIT ourselves, so a transaction is
            # exactly what _write() brackets. check_same_thread=False: the lock serialises all.
            self._conn = sqlite3.connect(
                str(path),
                isolation_level=None,
                check_same_thread=False,
                timeout=BUSY_TIMEOUT_MS / 1000,
            )
        except sqlite3.Error as exc:
            raise unusable(path, exc) from None
        self._conn.row_factory = sqlite3.Row
        try:
            self._open_checked()
        except BaseException:
            self._conn.close()
            raise

    def _open_checked(self) -> None:
        try:
            # Reads first: another application's file is refused before WAL mode changes it.
            check_foreign(self.path, self._tables(), "schema_version")
            quick_check(self._conn, self.path)
            self._configure()
            self._migrate()
            check_complete(self.path, self._tables(), TABLES)
        except sqlite3.DatabaseError as exc:
            raise unusable(self.path, exc) from None
        except StoreDiskError as exc:  # from _write(), during the migration
            if isinstance(exc.__cause__, sqlite3.Error):
                raise unusable(self.path, exc.__cause__) from None
            raise

    def _tables(self) -> set[str]:
        rows = self._conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        )
        return {str(row[0]) for row in rows}

    def _configure(self) -> None:
        mode = self._conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise StateStoreError(f"{self.path}: cannot enable WAL journal mode (got {mode})")
        # WAL already keeps every committed transaction across a process crash (SIGKILL, OOM).
        # FULL also fsyncs the WAL at each commit, so an intent written before a submit, or a
        # fill, survives a power cut or kernel panic too: losing either could double-send an
        # order or forget a position. The cost (one fsync per write) is small at our rate.
        self._conn.execute("PRAGMA synchronous=FULL")
        self._conn.execute("PRAGMA foreign_keys=ON")
        self._conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")

    def _migrate(self) -> None:
        with self._write() as conn:
            conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY)")
            current = conn.execute(
                "SELECT COALESCE(MAX(version), 0) FROM schema_version"
            ).fetchone()[0]
            # A file claiming a version must have that version's tables before any step runs on
            # it (another tool's "schema_version", or a damaged store).
            check_complete(self.path, self._tables(), tables_up_to(min(current, SCHEMA_VERSION)))
            if current > SCHEMA_VERSION:
                raise StateStoreError(
                    f"{self.path}: database schema version {current} is newer than this code "
                    f"knows ({SCHEMA_VERSION}); upgrade alpaca-fleece or use another database"
                )
            for version in range(current + 1, SCHEMA_VERSION + 1):
                for statement in MIGRATIONS[version - 1]:
                    conn.execute(statement)
                conn.execute("INSERT INTO schema_version (version) VALUES (?)", (version,))

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """Run the block as one IMMEDIATE transaction (the write lock is taken up front).

        Any failure rolls the transaction back, COMMIT's own included (a full disk or an I/O
        error shows there first, when the WAL is written): what was committed before stays.
        """
        with self._lock, self._disk_failures():
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
                self._conn.execute("COMMIT")
            except BaseException:
                if self._conn.in_transaction:
                    # SQLite may already have rolled back (full disk, I/O error): no harm.
                    with suppress(sqlite3.Error):
                        self._conn.execute("ROLLBACK")
                raise

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        with self._lock, self._disk_failures():
            return self._conn.execute(sql, params).fetchall()

    @contextmanager
    def _disk_failures(self) -> Iterator[None]:
        """Turn SQLite's disk and file failures into :class:`StoreDiskError` (others pass)."""
        try:
            yield
        except sqlite3.DatabaseError as exc:
            failure = disk_error(self.path, exc)
            if failure is None:
                raise
            if self.on_disk_error is not None:
                self.on_disk_error(failure)
            raise failure from exc

    # -- lifecycle -------------------------------------------------------------------------

    def close(self) -> None:
        """Close the connection (idempotent)."""
        with self._lock, self._disk_failures():
            self._conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def schema_version(self) -> int:
        """Return the schema version of the open database."""
        return int(self._read("SELECT MAX(version) FROM schema_version")[0][0])

    def integrity_check(self) -> str:
        """Return SQLite's integrity check verdict: ``"ok"`` or the problems found."""
        return "\n".join(str(row[0]) for row in self._read("PRAGMA integrity_check"))

    # -- order intents ---------------------------------------------------------------------

    def add_intent(
        self, intent: OrderIntent, status: IntentStatus | str = "new", count_on: date | None = None
    ) -> bool:
        """Write ``intent`` with ``status``; return False if its client_order_id already existed.

        Idempotent: an existing row is left untouched, so replaying a signal never resets an
        intent that is already at the broker.

        Args:
            intent: the order intent.
            status: its first status.
            count_on: when given, session day whose ``trades_submitted`` counts this intent, in
                the same transaction: a crash can never leave a written (and then sent) order
                out of the day's count, nor count an order that was never written.
        """
        status = IntentStatus(status)
        created = format_ts(intent.created_at)
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
                    created,
                    created,
                    status.value,
                    int(intent.dry_run),
                ),
            )
            written = cursor.rowcount == 1
            if written and count_on is not None:
                self._count_trade(conn, count_on)
            return written

    def get_intent(self, cid: str) -> IntentRecord | None:
        """Return the intent with client_order_id ``cid``, or None."""
        rows = self._read("SELECT * FROM order_intents WHERE client_order_id = ?", (cid,))
        return _intent_from_row(rows[0]) if rows else None

    def set_intent_status(
        self,
        cid: str,
        status: IntentStatus | str,
        *,
        broker_order_id: str | None = None,
        error: str | None = None,
        now: datetime,
    ) -> None:
        """Set an intent's status; a given broker_order_id or error is recorded too.

        Raises:
            StateStoreError: no intent has client_order_id ``cid``.
        """
        status = IntentStatus(status)
        with self._write() as conn:
            cursor = conn.execute(
                "UPDATE order_intents SET status = ?, updated_at_utc = ?,"
                " broker_order_id = COALESCE(?, broker_order_id),"
                " last_error = COALESCE(?, last_error) WHERE client_order_id = ?",
                (status.value, format_ts(now), broker_order_id, error, cid),
            )
            if cursor.rowcount == 0:
                raise StateStoreError(f"unknown client_order_id {cid!r}")

    def mark_submit_attempt(self, cid: str, now: datetime) -> int:
        """Record that a submit is about to be sent; call BEFORE the HTTP request.

        Sets status ``submitted`` (outcome unknown until the broker answers) and returns the
        new number of attempts. After a crash, ``submitted`` means: look the order up by
        client_order_id, never blindly resend.

        Raises:
            StateStoreError: no intent has client_order_id ``cid``.
        """
        with self._write() as conn:
            row = conn.execute(
                "UPDATE order_intents SET status = 'submitted', updated_at_utc = ?,"
                " submit_attempts = submit_attempts + 1 WHERE client_order_id = ?"
                " RETURNING submit_attempts",
                (format_ts(now), cid),
            ).fetchone()
            if row is None:
                raise StateStoreError(f"unknown client_order_id {cid!r}")
            return int(row[0])

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

    # -- fills -----------------------------------------------------------------------------

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

        The row's qty is the increment over what is already recorded; its price (whole ticks)
        is derived so that the rows' ``sum(qty * price)`` equals ``cumulative_qty *
        cumulative_avg_price`` rounded to the tick. That is exact whenever the executions were
        at tick prices (always, for Alpaca equities); otherwise each report is off by less than
        half a tick per share and errors never accumulate, since each report re-anchors to the
        broker's total. The intent's filled_qty, filled_avg_price (as the broker reports it)
        and status change in the same transaction.

        Returns:
            The Fill written, or None if nothing new (a repeated or stale report).

        Raises:
            StateStoreError: ``cid`` is unknown, or the report implies a price <= 0.
        """
        ts = format_ts(timestamp)
        with self._write() as conn:
            intent = conn.execute(
                "SELECT qty, status FROM order_intents WHERE client_order_id = ?", (cid,)
            ).fetchone()
            if intent is None:
                raise StateStoreError(f"fill for unknown client_order_id {cid!r}")
            rows = conn.execute(
                "SELECT qty, price FROM trades WHERE client_order_id = ?", (cid,)
            ).fetchall()
            recorded = sum(int(r["qty"]) for r in rows)
            increment = cumulative_qty - recorded
            if increment <= 0:
                return None
            recorded_ticks = sum(int(r["qty"]) * to_ticks(r["price"]) for r in rows)
            # Fraction(float) is exact, so the total is rounded once, to the tick.
            total_ticks = round(Fraction(cumulative_avg_price) * cumulative_qty * TICKS_PER_DOLLAR)
            price_ticks = round(Fraction(total_ticks - recorded_ticks, increment))
            if price_ticks <= 0:
                raise StateStoreError(
                    f"fill report for {cid!r} implies a non-positive price "
                    f"(cumulative {cumulative_qty} @ {cumulative_avg_price})"
                )
            price = price_ticks / TICKS_PER_DOLLAR
            conn.execute(
                "INSERT INTO trades (timestamp_utc, symbol, side, qty, price, client_order_id,"
                " broker_order_id, cumulative_qty) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (ts, symbol, side.value, increment, price, cid, broker_order_id, cumulative_qty),
            )
            status = IntentStatus(intent["status"])
            if cumulative_qty >= intent["qty"]:
                status = IntentStatus.FILLED
            elif status not in (IntentStatus.CANCELED, IntentStatus.EXPIRED):
                # A partially filled order that was then canceled stays canceled.
                status = IntentStatus.PARTIALLY_FILLED
            conn.execute(
                "UPDATE order_intents SET filled_qty = ?, filled_avg_price = ?, status = ?,"
                " broker_order_id = COALESCE(broker_order_id, ?), updated_at_utc = ?"
                " WHERE client_order_id = ?",
                (cumulative_qty, cumulative_avg_price, status.value, broker_order_id, ts, cid),
            )
        return Fill(cid, broker_order_id, symbol, side, increment, price, parse_ts(ts))

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

    # -- refusals --------------------------------------------------------------------------

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
        return [
            Refusal(
                r["symbol"], Side(r["side"]), r["reason"], r["detail"], parse_ts(r["timestamp_utc"])
            )
            for r in rows
        ]

    def refusal_counts(self, since: datetime | None = None) -> dict[str, int]:
        """Return how many refusals each reason had (at or after ``since`` if given)."""
        rows = self._read(
            "SELECT reason, COUNT(*) FROM refusals WHERE timestamp_utc >= ?"
            " GROUP BY reason ORDER BY reason",
            (format_ts(since) if since else "",),
        )
        return {str(r[0]): int(r[1]) for r in rows}

    # -- bot state -------------------------------------------------------------------------

    def get_state(self, key: str, default: str | None = None) -> str | None:
        """Return the ``bot_state`` value of ``key``, or ``default``."""
        rows = self._read("SELECT value FROM bot_state WHERE key = ?", (key,))
        return str(rows[0][0]) if rows else default

    def set_state(self, key: str, value: str, now: datetime) -> None:
        """Set the ``bot_state`` value of ``key``."""
        with self._write() as conn:
            conn.execute(
                "INSERT INTO bot_state (key, value, updated_at_utc) VALUES (?, ?, ?)"
                " ON CONFLICT (key) DO UPDATE SET value = excluded.value,"
                " updated_at_utc = excluded.updated_at_utc",
                (key, value, format_ts(now)),
            )

    def _get_json(self, key: str) -> dict[str, Any]:
        text = self.get_state(key)
        if text is None:
            return {}
        value = json.loads(text)
        return value if isinstance(value, dict) else {}

    def _set_json(self, key: str, value: dict[str, Any], now: datetime) -> None:
        self.set_state(key, json.dumps(value, sort_keys=True), now)

    def kill_switch(self) -> tuple[bool, str]:
        """Return (engaged, who/why); (False, "") if never set."""
        value = self._get_json(KEY_KILL_SWITCH)
        return bool(value.get("on", False)), str(value.get("reason", ""))

    def set_kill_switch(self, on: bool, reason: str, now: datetime) -> None:
        """Engage or release the kill switch, saying who and why."""
        self._set_json(KEY_KILL_SWITCH, {"on": on, "reason": reason}, now)

    def breaker(self) -> tuple[bool, int]:
        """Return (tripped, consecutive failures) of the circuit breaker; (False, 0) if unset."""
        value = self._get_json(KEY_BREAKER)
        return bool(value.get("tripped", False)), int(value.get("consecutive", 0))

    def set_breaker(self, tripped: bool, consecutive: int, now: datetime) -> None:
        """Persist the circuit breaker's state."""
        self._set_json(KEY_BREAKER, {"tripped": tripped, "consecutive": consecutive}, now)

    def reducing_latch(self) -> date | None:
        """Return the session date the daily-loss latch was set for, or None if clear."""
        day = self._get_json(KEY_REDUCING_LATCH).get("session_date")
        return date.fromisoformat(day) if day else None

    def set_reducing_latch(self, day: date | None, now: datetime) -> None:
        """Latch REDUCING for session ``day`` (None clears it)."""
        self._set_json(KEY_REDUCING_LATCH, {"session_date": day.isoformat() if day else None}, now)

    def trading_state(self) -> tuple[TradingState, str]:
        """Return the persisted trading state and why; (ACTIVE, "") if never set."""
        value = self._get_json(KEY_TRADING_STATE)
        return TradingState(value.get("state", TradingState.ACTIVE)), str(value.get("why", ""))

    def set_trading_state(self, state: TradingState, why: str, now: datetime) -> None:
        """Persist the trading state and the reason for it."""
        self._set_json(KEY_TRADING_STATE, {"state": state.value, "why": why}, now)

    # -- daily counters --------------------------------------------------------------------

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
            return self._count_trade(conn, day)

    @staticmethod
    def _count_trade(conn: sqlite3.Connection, day: date) -> int:
        row = conn.execute(
            "INSERT INTO daily_counters (session_date, trades_submitted) VALUES (?, 1)"
            " ON CONFLICT (session_date) DO UPDATE SET"
            " trades_submitted = trades_submitted + 1 RETURNING trades_submitted",
            (day.isoformat(),),
        ).fetchone()
        return int(row[0])

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
        return [
            EquitySnapshot(
                parse_ts(r["timestamp_utc"]),
                r["equity"],
                r["cash"],
                r["long_market_value"],
                r["positions"],
                r["open_orders"],
            )
            for r in rows
        ]

    # -- runs and heartbeats ---------------------------------------------------------------

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
        return [
            BotRun(
                r["id"],
                parse_ts(r["started_at_utc"]),
                _opt_ts(r["stopped_at_utc"]),
                r["pid"],
                r["mode"],
                r["exit_reason"],
            )
            for r in rows
        ]

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
        r = rows[0]
        return Heartbeat(
            parse_ts(r["timestamp_utc"]),
            r["equity"],
            r["positions"],
            r["open_orders"],
            TradingState(r["state"]),
        )

    def heartbeat_count(self) -> int:
        """Return how many heartbeats are kept."""
        return int(self._read("SELECT COUNT(*) FROM heartbeats")[0][0])

    # -- operator commands (fleece.control) -------------------------------------------------

    def add_command(  # noqa: PLR0917 (one row's columns)
        self,
        now: datetime,
        source: str,
        sender: str,
        command: str,
        args: str = "",
        status: str = "pending",
        result: str | None = None,
    ) -> int:
        """Record a command (``pending`` ones wait for the running bot); returns its id."""
        finished = None if status in ("pending", "running") else format_ts(now)
        with self._write() as conn:
            cursor = conn.execute(
                "INSERT INTO commands (requested_at_utc, source, sender, command, args, status,"
                " result, finished_at_utc) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (format_ts(now), source, sender, command, args, status, result, finished),
            )
            return int(cursor.lastrowid or 0)

    def set_command_status(
        self, command_id: int, status: str, result: str | None, now: datetime, *, was: str
    ) -> bool:
        """Move command ``command_id`` from status ``was`` to ``status``; False if it was not
        in ``was`` (someone else moved it first: the bot claimed it, or the CLI gave up)."""
        finished = None if status in ("pending", "running") else format_ts(now)
        with self._write() as conn:
            cursor = conn.execute(
                "UPDATE commands SET status = ?, result = ?, finished_at_utc = ?"
                " WHERE id = ? AND status = ?",
                (status, result, finished, command_id, was),
            )
            return cursor.rowcount == 1

    def command(self, command_id: int) -> CommandRecord | None:
        """Return one command, or None."""
        rows = self._read("SELECT * FROM commands WHERE id = ?", (command_id,))
        return _command_from_row(rows[0]) if rows else None

    def commands(self, status: str | None = None, limit: int = 100) -> list[CommandRecord]:
        """Return the latest ``limit`` commands (with ``status`` if given), oldest first."""
        rows = self._read(
            "SELECT * FROM (SELECT * FROM commands WHERE status = COALESCE(?, status)"
            " ORDER BY id DESC LIMIT ?) ORDER BY id",
            (status, limit),
        )
        return [_command_from_row(r) for r in rows]

    # -- bars ------------------------------------------------------------------------------

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

    # -- reconciliation --------------------------------------------------------------------

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
        return [
            ReconciliationEvent(
                r["id"],
                parse_ts(r["timestamp_utc"]),
                r["kind"],
                r["client_order_id"],
                r["symbol"],
                r["detail"],
            )
            for r in rows
        ]
