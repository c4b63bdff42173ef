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

from fleece.intent_store import IntentStore
from fleece.store.bars import Bars
from fleece.store.equity import Equity
from fleece.store.fills import Fills
from fleece.store.flags import Flags
from fleece.store.journal import Journal
from fleece.store.orders import Orders


class StateStore(Orders, Fills, Equity, Flags, Bars, Journal, IntentStore):
    """SQLite-backed persistence for one bot; safe to share between threads.

    One class over one connection; each table's calls live with their aggregate
    (:mod:`fleece.store`), the connection, its checks and the migrations in
    :class:`~fleece.store.connection.StoreBase`; the steps of an intent's life (a status
    change, a send attempt, a fill report) are :class:`~fleece.intent_store.IntentStore`'s,
    shared with the backtest's store.

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
