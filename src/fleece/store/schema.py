"""The store's schema (migrations, in order, in one place), its timestamps, rows and error."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import fields
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

from fleece.errors import FleeceError
from fleece.models import require_utc

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

T = TypeVar("T", bound="DataclassInstance")

TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


class StateStoreError(FleeceError):
    """The database cannot be used as asked (newer schema, unknown order, impossible fill)."""


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


def opt_ts(text: str | None) -> datetime | None:
    """Return :func:`parse_ts` of ``text``, or None for None."""
    return None if text is None else parse_ts(text)


def from_row(shape: type[T], row: sqlite3.Row, **read: Any) -> T:
    """The dataclass ``shape`` from one row, by the store's column conventions.

    Each field comes from the column of its name; a time from ``<name>_utc`` (:func:`opt_ts`);
    a field with neither keeps its default. ``read`` gives the fields a column does not hold
    as they are (an enum, a bool).
    """
    columns = row.keys()
    values: dict[str, Any] = {}
    for name in (f.name for f in fields(shape)):
        if name in read:
            continue
        if name in columns:
            values[name] = row[name]
        elif f"{name}_utc" in columns:
            values[name] = opt_ts(row[f"{name}_utc"])
    make: Callable[..., T] = shape
    return make(**values, **read)
