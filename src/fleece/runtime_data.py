"""What the live runtime does with data it restores or receives: the persisted circuit
breaker, the trailing stops' marks, and polled bars judged minute by minute on the grid."""

from __future__ import annotations

import logging
from datetime import datetime

from fleece.calendar import MarketCalendar
from fleece.config import AppConfig
from fleece.minute_grid import LiveGrid
from fleece.models import Bar
from fleece.risk_manager import CircuitBreaker
from fleece.run_stats import RunStats
from fleece.state_store import StateStore
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
