"""What the live runtime does with data it restores or receives: the persisted circuit
breaker, the trailing stops' marks, and the bars' way in (:class:`BarFeed`: the broker's
calendar, the warm-up backfill, one poll a cycle), judged minute by minute on the grid."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from fleece.broker import Broker
from fleece.calendar import MarketCalendar
from fleece.circuit_breaker import CircuitBreaker
from fleece.clock import Clock
from fleece.config import AppConfig, DataConfig
from fleece.minute_grid import LiveGrid
from fleece.models import Bar
from fleece.run_stats import RunStats
from fleece.runtime_times import CALENDAR_DAYS_BACK, backfill_start, warmup_minutes
from fleece.state_store import StateStore
from fleece.stream_polling import BarPoller
from fleece.trader import Trader

# The runtime's own lines, under its name wherever the code lives (operators grep for it).
log = logging.getLogger("fleece.runtime")


def restored_breaker(store: StateStore, config: AppConfig, now: datetime) -> CircuitBreaker:
    """The circuit breaker as the store left it (reset by ``CIRCUIT_BREAKER_RESET=true``)."""
    s = config.settings
    tripped, consecutive = store.breaker()
    breaker = CircuitBreaker(config.trading.risk.circuit_breaker_failures, consecutive, tripped)
    if s.circuit_breaker_reset and (tripped or consecutive):
        breaker.reset()
        store.set_breaker(False, 0, now)
        log.warning("circuit breaker reset by CIRCUIT_BREAKER_RESET=true")
    elif tripped:
        log.error("circuit breaker is tripped (persisted): trading HALTED until reset")
    if s.kill_switch:
        log.warning("KILL_SWITCH=true: trading HALTED, no orders will be sent")
    return breaker


def restore_marks(trader: Trader, store: StateStore, now: datetime) -> None:
    """``orders.protective: bot``: the trailing stops' marks, from the minutes the bot was
    fed since each entry (a restart must not lower a stop)."""
    protector = trader.protector
    if not protector.protection.watched or protector.protection.trailing_stop_pct is None:
        return
    regular = trader.sessions.is_regular_bar
    for symbol, entry in protector.entries.items():
        fed = store.bars_between(symbol, entry.since, now, fed_only=True)
        protector.remark(symbol, [b for b in fed if regular(b.timestamp)])


def judge_minutes(
    grid: LiveGrid,
    polled_at: datetime | None,
    bars: list[Bar],
    *,
    sessions: MarketCalendar,
    store: StateStore,
    stats: RunStats,
) -> list[Bar]:
    """Hand polled bars to the minute grid; return the bars of the minutes it judged.

    Late bars (their minute was already judged empty) are stored as such, counted and
    logged, never fed to the strategy. A failed poll (``polled_at`` None) judges nothing:
    only an answer without a bar makes a minute empty.
    """
    if polled_at is None:
        return []
    late = grid.receive(bars, sessions.is_regular_bar)
    if late:
        store.mark_late(late)
        stats.late_bars += len(late)
        for bar in late:
            log.warning(
                "late bar symbol=%s minute=%s: its minute was judged empty, not fed",
                bar.symbol,
                bar.timestamp.isoformat(),
            )
    judged = grid.judge(polled_at, ((d.open, d.close) for d in sessions.days.values()))
    stats.grid_minutes = dict(grid.carry.on_grid)
    stats.empty_minutes = dict(grid.carry.carried)
    return judged


@dataclass(eq=False)
class BarFeed:
    """The live bot's bars: every poll's are stored, counted and judged on the minute grid, and
    only the judged minutes' bars go on (to the strategy's warm-up, or to the event bus).

    Args:
        broker: the broker (its market calendar).
        clock: the bot's clock.
        poller: the bar poller.
        trader: the trader, whose market calendar the feed keeps current.
        store: the state store (every bar polled is kept).
        stats: the run's counters (polls, bars, late bars, grid minutes).
        data: trading.yaml's ``data``: how long after a minute's close its bars may still come
            (``bar_settle_seconds``), and the minutes of history the warm-up loads when the
            strategy's own warm-up asks for fewer (``warmup_bars``,
            :func:`fleece.runtime_times.warmup_minutes`).
    """

    broker: Broker
    clock: Clock
    poller: BarPoller
    trader: Trader
    store: StateStore
    stats: RunStats
    data: DataConfig

    def __post_init__(self) -> None:
        self.grid: LiveGrid | None = None  # from the warm-up on

    async def refresh_calendar(self) -> None:
        """The broker's market calendar around now, for the trader (and the feed)."""
        now = self.clock.now()
        days = await self.broker.calendar(
            (now - CALENDAR_DAYS_BACK).date(), (now + timedelta(days=20)).date()
        )
        self.trader.sessions = MarketCalendar.from_days(days)

    async def warm_up(self) -> None:
        """Backfill the previous sessions and feed them to the strategy (which acts on none)."""
        start = self.backfill_start()
        settle = timedelta(seconds=self.data.bar_settle_seconds)
        self.grid = LiveGrid(settle=settle, start=start)
        bars = await self.poller.poll(start)
        self.store.add_bars(bars)
        grid_bars = self._judge(bars)
        self.trader.warmup(grid_bars)
        log.info(
            "warm-up bars=%d grid_bars=%d since=%s", len(bars), len(grid_bars), start.isoformat()
        )

    async def poll(self) -> list[Bar]:
        """One cycle's poll: the new bars stored and counted; the judged minutes' bars back."""
        bars = await self.poller.poll(self.backfill_start())
        self.stats.polls = self.poller.polls
        if bars:
            self.store.add_bars(bars)
            self.stats.bars += len(bars)
        return self._judge(bars)

    def backfill_start(self) -> datetime:
        """Where the warm-up's history starts (and a poll's, until every symbol has a bar)."""
        minutes = warmup_minutes(self.trader.strategy.warmup_minutes, self.data.warmup_bars)
        return backfill_start(self.trader.sessions, self.clock.now(), minutes)

    def _judge(self, bars: list[Bar]) -> list[Bar]:
        assert self.grid is not None, "the warm-up makes the grid"
        return judge_minutes(
            self.grid,
            self.poller.answered_at,
            bars,
            sessions=self.trader.sessions,
            store=self.store,
            stats=self.stats,
        )
