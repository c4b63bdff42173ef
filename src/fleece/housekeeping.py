"""Housekeeping: the chores a bot running for months needs, run from the polling loop.

Daily counter reset at the session open, equity snapshots while the market is open, a heartbeat
line (positions, open orders, equity, state), cancelling orders left unfilled too long, a periodic
re-read of the broker's positions, and pruning of old bars. Each chore runs when it is due by the
injected clock, so in sim mode they follow simulated time.

Notifications (``events``, injected by the runtime): the heartbeat pings ``HEARTBEAT_URL``, the
session's summary goes out after the close, a position re-read that differs is a discrepancy, and
the broker's request counters are watched for an outage.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta
from typing import Any

from fleece.broker import Broker
from fleece.calendar import session_date
from fleece.clock import Clock
from fleece.errors import BrokerError
from fleece.notify.events import NULL_SINK, Discrepancy, EventSink
from fleece.notify.reports import daily_summary
from fleece.notify.watch import BrokerWatch
from fleece.state_store import StateStore
from fleece.systemd import notify
from fleece.trader import Trader

log = logging.getLogger(__name__)
POSITION_RESYNC = timedelta(minutes=15)


def record_equity(store: StateStore, trader: Trader, now: datetime) -> bool:
    """Store a point of the equity curve from the trader's account (False: none read yet).

    The one writer of the curve's points, for the periodic snapshot and the last one at
    shutdown. The positions' value is the broker's long market value (equity less cash would
    count short positions against it).
    """
    account = trader.account
    if account is None:
        return False
    store.add_equity_snapshot(
        now,
        account.equity,
        account.cash,
        account.long_market_value,
        len(trader.portfolio.qty),
        len(store.unfinished_intents()),
    )
    return True


class Housekeeping:
    """Runs due chores on each :meth:`tick`."""

    def __init__(
        self,
        store: StateStore,
        broker: Broker,
        trader: Trader,
        clock: Clock,
        config: Any,
        *,
        stale_order_minutes: int,
        events: EventSink = NULL_SINK,
        broker_down_seconds: float = 120.0,
    ) -> None:
        self._store = store
        self._broker = broker
        self._trader = trader
        self._clock = clock
        self._heartbeat_every = timedelta(seconds=config.heartbeat_seconds)
        self._snapshot_every = timedelta(seconds=config.equity_snapshot_seconds)
        self._retention = timedelta(days=config.bar_retention_days)
        self._stale_after = timedelta(minutes=stale_order_minutes)
        self._session: date | None = None
        self._last_heartbeat: datetime | None = None
        self._last_snapshot: datetime | None = None
        self._last_resync: datetime | None = None
        self._events = events
        self._watch = BrokerWatch(broker_down_seconds)
        self._summarised: date | None = None
        self._start_recorded: date | None = None

    async def tick(self, now: datetime, market_open: bool) -> None:
        """Run every chore that is due at ``now``."""
        # systemd's watchdog (Type=notify; a no-op elsewhere): pinged from every poll cycle, so
        # it says the polling loop is alive, at least once a minute whatever heartbeat_seconds is.
        notify("WATCHDOG=1")
        if market_open:
            day = session_date(now)
            if day != self._session:
                self._on_session_open(now, day)
            if day != self._start_recorded:
                self._record_start(day)
        if market_open and _due(self._last_snapshot, now, self._snapshot_every):
            self._snapshot(now)
        if _due(self._last_heartbeat, now, self._heartbeat_every):
            self._heartbeat(now)
        if market_open:
            await self._trader.orders.cancels.cancel_stale(self._stale_after)
        if _due(self._last_resync, now, POSITION_RESYNC):
            await self._resync_positions(now)
        if not market_open and self._session is not None and self._summarised != self._session:
            self._summarise(self._session)
        if (outage := self._watch.look(self._broker.requests, self._broker.errors)) is not None:
            self._events.emit(outage)

    def _summarise(self, day: date) -> None:
        """The session's figures, once, after its close (the daily summary)."""
        self._summarised = day
        account = self._trader.account
        self._events.emit(
            daily_summary(
                self._store,
                day,
                equity=account.equity if account else None,
                positions=len(self._trader.portfolio.qty),
                last_equity=account.last_equity if account else None,
            )
        )

    def _on_session_open(self, now: datetime, day: date) -> None:
        self._session = day
        account = self._trader.account
        pruned = self._store.prune_bars(now - self._retention)
        log.info(
            "session open day=%s trades_submitted=%d start_equity=%s pruned_bars=%d",
            day.isoformat(),
            self._store.trades_submitted(day),
            f"{account.last_equity:.2f}" if account else "unknown",
            pruned,
        )

    def _record_start(self, day: date) -> None:
        """Record session ``day``'s starting equity (the broker's ``last_equity``) unless one
        is: at the open, or at the first tick after it that has read the account (an account
        read that failed at the open must not leave the day without its start)."""
        account = self._trader.account
        if account is None:
            return
        if self._store.start_equity(day) is None:
            self._store.set_start_equity(day, account.last_equity)
        self._start_recorded = day

    def _snapshot(self, now: datetime) -> None:
        if record_equity(self._store, self._trader, now):
            self._last_snapshot = now

    def _heartbeat(self, now: datetime) -> None:
        self._last_heartbeat = now
        state, why = self._trader.update_state(now)
        account = self._trader.account
        open_orders = len(self._store.unfinished_intents())
        self._store.add_heartbeat(
            now,
            account.equity if account else None,
            len(self._trader.portfolio.qty),
            open_orders,
            state,
        )
        log.info(
            "heartbeat state=%s%s positions=%d open_orders=%d equity=%s",
            state.value,
            f"({why})" if why else "",
            len(self._trader.portfolio.qty),
            open_orders,
            f"{account.equity:.2f}" if account else "unknown",
        )
        self._events.beat()

    async def _resync_positions(self, now: datetime) -> None:
        self._last_resync = now
        try:
            positions = await self._broker.positions()
        except BrokerError as exc:
            log.warning("position resync failed reason=%s", exc)
            return
        broker_view = {s: p.qty for s, p in positions.items()}
        changed = self._trader.portfolio.cap(broker_view, self._trader.orders.pending_symbols())
        if changed:
            log.warning(
                "positions shrank outside the bot; it now owns only what is left %s broker=%s",
                changed,
                broker_view,
            )
            self._events.emit(
                Discrepancy(
                    now,
                    "position_mismatch",
                    None,
                    f"shrank outside the bot: it owns {changed} now, broker={broker_view}",
                )
            )


def _due(last: datetime | None, now: datetime, every: timedelta) -> bool:
    # Once per period of the clock (each minute for 60 s), not ``every`` after the last run:
    # polls land a few milliseconds early or late around the minute, and "59.99 s since the
    # last one" used to skip every other equity snapshot and heartbeat.
    if last is None:
        return True
    period = every.total_seconds()
    return now.timestamp() // period > last.timestamp() // period
