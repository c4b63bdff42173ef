"""The runtime's own notifications: running (with its log line), discrepancies found at start-up,
stopped (with the run's last words: its figures logged, its end recorded)."""

from __future__ import annotations

import contextlib
import logging
from datetime import datetime

from fleece.broker import Broker
from fleece.clock import Clock
from fleece.config import AppConfig
from fleece.disk_guard import DiskGuard
from fleece.notify.events import BotStarted, BotStopped, Discrepancy
from fleece.notify.hub import Notifications
from fleece.notify.reports import run_figures
from fleece.run_stats import RunStats, log_run_end
from fleece.state_store import StateStore
from fleece.store_health import StoreDiskError
from fleece.trader import Trader

# The runtime's own lines, under its name wherever the code lives (operators grep for it).
log = logging.getLogger("fleece.runtime")

MAX_DISCREPANCIES = 20


def announce_running(
    events: Notifications, config: AppConfig, trader: Trader, symbol_count: int, clock: Clock
) -> None:
    """The bot is running: one log line (its trading state judged now), then the notification."""
    log.info(
        "bot running mode=%s symbols=%d dry_run=%s state=%s",
        config.settings.fleece_mode,
        symbol_count,
        config.settings.dry_run,
        trader.update_state(clock.now())[0].value,
    )
    notify_started(events, config, trader, clock.now())


def notify_started(events: Notifications, config: AppConfig, trader: Trader, now: datetime) -> None:
    """The bot started: mode, symbols, equity, trading state, dry run."""
    account = trader.account
    events.emit(
        BotStarted(
            now,
            config.settings.fleece_mode,
            config.trading.tickers,
            account.equity if account else None,
            trader.state[0],
            config.settings.dry_run,
        )
    )


def notify_discrepancies(
    events: Notifications, store: StateStore, since: datetime, limit: int = MAX_DISCREPANCIES
) -> None:
    """What reconciliation recorded since ``since``: one message each, up to ``limit``."""
    found = store.reconciliation_events(since)
    for event in found[:limit]:
        events.emit(Discrepancy(event.timestamp, event.kind, event.symbol, event.detail))
    if len(found) > limit:
        more = f"{len(found) - limit} more: see the reconciliation_events table"
        events.emit(Discrepancy(since, "more discrepancies", None, more))


def report_run_end(
    stats: RunStats,
    events: Notifications,
    *,
    store: StateStore | None,
    run_id: int | None,
    trader: Trader | None,
    broker: Broker | None,
    disk: DiskGuard,
    clock: Clock,
    code: int,
) -> None:
    """The run's last words, whatever stopped it (the parts are None when its start failed
    first): its figures logged, its end recorded in the store, the stop notification."""
    stats.stopped_sim = clock.now() if store is not None else None
    reason = stats.exit_reason or "error"
    if broker is not None:
        stats.requests = dict(broker.requests)
    log_run_end(stats, trader.latency if trader else None, broker)
    if store is not None and run_id is not None:
        # A failed disk cannot take the last words; the exit code says it instead.
        with contextlib.suppress(StoreDiskError):
            store.end_run(run_id, clock.now(), reason)
    # The stop notification: why, the exit code, and the run's figures when the store is
    # readable. A failed store was reported once already (the disk guard's ERROR line).
    readable = store if not disk.tripped else None
    held = len(trader.portfolio.qty) if trader else 0
    now = clock.now()
    figures = None
    try:
        if readable is not None and stats.started_sim is not None:
            figures = run_figures(readable, stats.started_sim, held)
    except Exception:  # the stop message must not hide the real reason of the stop
        log.exception("run figures for the stop message could not be read")
    events.emit(BotStopped(now, reason, code, figures))
