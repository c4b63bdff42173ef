"""Phase 1's catch-up with the broker, once the core is built and before the first bar.

Reconciliation aligns the store with the broker (:mod:`fleece.reconciliation`); the holdings the
bot owns and its positions' protective exits are seeded from its fills; the start-up checks drop
the symbols the broker will not trade and probe the feed (:mod:`fleece.startup_checks`);
protective orders a crash left unsent go out; the account is read once.
"""

from __future__ import annotations

import logging

from fleece.broker import Broker
from fleece.clock import Clock
from fleece.config import AppConfig
from fleece.errors import BrokerError
from fleece.kernel import Kernel
from fleece.notify.hub import Notifications
from fleece.ownership import own_net, owned
from fleece.reconciliation import reconcile
from fleece.runtime_notices import notify_discrepancies
from fleece.startup_checks import SymbolCheck, check_symbols, probe_feed, record_dropped
from fleece.state_store import StateStore

# The runtime's own lines, under its name wherever the code lives (operators grep for it).
log = logging.getLogger("fleece.runtime")


async def catch_up(
    kernel: Kernel,
    store: StateStore,
    broker: Broker,
    clock: Clock,
    *,
    config: AppConfig,
    events: Notifications,
) -> SymbolCheck:
    """Reconcile, seed holdings and protection, check symbols and feed, restore protection,
    read the account; returns the symbols kept and dropped (a failed check stops: exit 2)."""
    trader = kernel.trader
    reconciled_at = clock.now()
    _summary, positions = await reconcile(store, broker, trader.orders, clock)
    notify_discrepancies(events, store, reconciled_at)
    held = {sym: p.qty for sym, p in positions.items()}
    fills = store.fills()
    trader.portfolio.replace(owned(own_net(fills), held))
    trader.protector.seed(fills)
    checked = await startup_checks(broker, store, config, clock)
    await restore_protection(kernel, clock)
    try:  # the equity for the start message and the dashboard, from the first moment
        trader.account = await broker.account()
    except BrokerError as exc:
        log.warning("account read failed reason=%s", exc)
    return checked


async def startup_checks(
    broker: Broker, store: StateStore, config: AppConfig, clock: Clock
) -> SymbolCheck:
    """Drop the symbols the broker will not trade, and probe the feed once (exit 2)."""
    source = str(config.config_path)
    checked = await check_symbols(broker, config.trading.tickers, source)
    record_dropped(store, checked.dropped, clock.now())
    feed = config.trading.data.feed
    await probe_feed(broker, checked.kept[0], feed, clock.now(), source)
    return checked


async def restore_protection(kernel: Kernel, clock: Clock) -> None:
    """Protective orders the positions should have at the broker and do not (a crash
    between an entry's fill and its stop): sent now, market open or not."""
    try:
        sent = await kernel.protect(clock.now(), any_time=True)
    except BrokerError as exc:
        log.warning("protection not restored at start-up reason=%s", exc)
        return
    if sent:
        log.warning("protection restored at start-up: %d protective orders sent", sent)
