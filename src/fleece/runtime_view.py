"""The running bot's read model (:mod:`fleece.read_model`): what only it knows, and when it is
published for the viewers in its process (dashboard, metrics, Telegram).

:func:`live_facts` gathers what only the running bot knows; :class:`LiveView`, built in phase 3,
turns it into the snapshot its :attr:`~LiveView.published` publisher hands to the viewers.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from fleece.broker import Broker
from fleece.clock import Clock
from fleece.config import AppConfig
from fleece.disk_guard import DiskGuard
from fleece.notify.hub import Notifications
from fleece.publisher import SnapshotPublisher
from fleece.read_model import Activity, BotSnapshot, LiveFacts, build_snapshot
from fleece.run_stats import RunStats
from fleece.state_store import StateStore
from fleece.stream_polling import BarPoller
from fleece.trader import Trader


def live_facts(
    trader: Trader,
    poller: BarPoller | None,
    broker: Broker | None,
    *,
    bars: int,
    symbols: tuple[str, ...],
    simulated_time: bool,
) -> LiveFacts:
    """The trader's account, holdings, prices and state, the poller's times, the counters."""
    account = trader.account
    state, why = trader.state
    return LiveFacts(
        state=state,
        state_reason=why,
        breaker_tripped=trader.breaker.tripped,
        breaker_failures=trader.breaker.consecutive,
        equity=account.equity if account else None,
        cash=account.cash if account else None,
        buying_power=account.buying_power if account else None,
        last_equity=account.last_equity if account else None,
        holdings=dict(trader.portfolio.qty),
        last_prices=dict(trader.last_price),
        last_bar_at=poller.last_bar_at if poller else None,
        last_poll_at=poller.last_success if poller else None,
        symbols=symbols,
        simulated_time=simulated_time,
        activity=Activity(
            polls=poller.polls if poller else 0,
            bars=bars,
            signals=trader.signals,
            orders_submitted=trader.orders.submitted,
            refusals=sum(trader.refusals.values()),
            requests=dict(broker.requests) if broker else {},
            errors=dict(broker.errors) if broker else {},
            skipped_bars=dict(poller.skipped) if poller else {},
        ),
    )


@dataclass(kw_only=True)  # eleven collaborators: named where the bot builds it
class LiveView:
    """The running bot's snapshot and its publishing: after every cycle and after a failed poll
    (:meth:`publish`), and at once when a viewer changes the kill switch (:meth:`rejudge`)."""

    trader: Trader
    poller: BarPoller | None
    broker: Broker
    store: StateStore
    config: AppConfig
    clock: Clock
    stats: RunStats
    symbols: tuple[str, ...]
    speed: float | None
    disk: DiskGuard
    events: Notifications
    #: The read model the viewers in this process see (dashboard, metrics, Telegram).
    published: SnapshotPublisher = field(init=False)

    def __post_init__(self) -> None:
        self.published = SnapshotPublisher(
            self.store,
            self.config,
            self.clock,
            build=self.snapshot,
            rejudge=self.rejudge,
            sessions=lambda: self.trader.sessions,
            speed=self.speed,
            events=self.events,
        )

    def snapshot(self) -> BotSnapshot:
        """The bot's state now, as every viewer sees it (:mod:`fleece.read_model`)."""
        facts = live_facts(
            self.trader,
            self.poller,
            self.broker,
            bars=self.stats.bars,
            symbols=self.symbols,
            simulated_time=self.speed is not None,
        )
        return build_snapshot(self.store, self.config, self.clock.now(), facts)

    def publish(self) -> None:
        """Publish the snapshot (after a cycle); after a store failure, only the new state."""
        if self.disk.tripped:
            self.published.publish_state(self.trader.state)
            return
        with self.disk.quietly():
            self.published.publish()

    def on_poll(self, seconds: float, ok: bool) -> None:
        """After each poll attempt, tell the viewers; a failed one first publishes the broker's
        errors (a success is published at the end of its cycle)."""
        if not ok:
            self.publish()
        self.published.observe_poll(seconds, ok)

    def rejudge(self) -> None:
        """A viewer changed the kill switch: the state follows at once (and notifies)."""
        self.trader.update_state(self.clock.now())
        self.publish()
