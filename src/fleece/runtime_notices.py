"""The runtime's own notifications: started, discrepancies found at start-up, stopped."""

from __future__ import annotations

import logging
from datetime import datetime

from fleece.config import AppConfig
from fleece.notify.events import BotStarted, BotStopped, Discrepancy
from fleece.notify.hub import Notifications
from fleece.notify.reports import run_figures
from fleece.state_store import StateStore
from fleece.trader import Trader

# The runtime's own lines, under its name wherever the code lives (operators grep for it).
log = logging.getLogger("fleece.runtime")

MAX_DISCREPANCIES = 20


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


def notify_stopped(
    events: Notifications,
    *,
    store: StateStore | None,
    started: datetime | None,
    held: int,
    reason: str,
    code: int,
    now: datetime,
) -> None:
    """The bot stopped: why, its exit code, and the run's figures when the store is readable."""
    figures = None
    try:
        if store is not None and started is not None:
            figures = run_figures(store, started, held)
    except Exception:  # the stop message must not hide the real reason of the stop
        log.exception("run figures for the stop message could not be read")
    events.emit(BotStopped(now, reason, code, figures))
