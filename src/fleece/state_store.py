"""The bot's SQLite store, as callers have always imported it (see :mod:`fleece.store`).

The store now lives in the package :mod:`fleece.store`, one module per aggregate behind the
facade :class:`~fleece.store.facade.StateStore`; the intent lifecycle in :mod:`fleece.intents`.
This module keeps every name it used to define importable from here.
"""

from __future__ import annotations

from fleece.intents import UNFINISHED_STATUSES, IntentRecord, IntentStatus
from fleece.store.connection import BUSY_TIMEOUT_MS
from fleece.store.equity import EquitySnapshot
from fleece.store.facade import StateStore
from fleece.store.flags import (
    COMMAND_FINAL,
    COMMAND_WAITING,
    KEY_BREAKER,
    KEY_KILL_SWITCH,
    KEY_REDUCING_LATCH,
    KEY_TRADING_STATE,
    CommandRecord,
)
from fleece.store.journal import HEARTBEATS_KEPT, BotRun, Heartbeat, ReconciliationEvent
from fleece.store.schema import (
    MIGRATIONS,
    SCHEMA_VERSION,
    TABLES,
    TIMESTAMP_FORMAT,
    StateStoreError,
    format_ts,
    parse_ts,
    tables_up_to,
)

__all__ = [
    "BUSY_TIMEOUT_MS",
    "COMMAND_FINAL",
    "COMMAND_WAITING",
    "HEARTBEATS_KEPT",
    "KEY_BREAKER",
    "KEY_KILL_SWITCH",
    "KEY_REDUCING_LATCH",
    "KEY_TRADING_STATE",
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "TABLES",
    "TIMESTAMP_FORMAT",
    "UNFINISHED_STATUSES",
    "BotRun",
    "CommandRecord",
    "EquitySnapshot",
    "Heartbeat",
    "IntentRecord",
    "IntentStatus",
    "ReconciliationEvent",
    "StateStore",
    "StateStoreError",
    "format_ts",
    "parse_ts",
    "tables_up_to",
]
