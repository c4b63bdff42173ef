"""One kernel for the live bot, runs on the built-in exchange and backtests.

:func:`build_kernel` is the only place that wires the decision core — strategy, risk manager,
order manager, trader — and :meth:`Kernel.step` is the one per-minute step every driver calls
with the grid's bars of the minute that closed. The live runtime (:mod:`fleece.runtime`) builds
it over the SQLite store and the alpaca-py broker; the backtest (:mod:`fleece.backtest.runner`)
over an in-memory store and the exchange's engine in process. What differs is only what the
drivers hand in, never how the core is put together (NautilusTrader builds one kernel for its
backtest engine and its live node the same way). ``tests/test_layering.py`` fails if a second
wiring appears.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from fleece.circuit_breaker import CircuitBreaker
from fleece.clock import Clock
from fleece.config import RiskConfig, TradingConfig
from fleece.derive import from_attributes
from fleece.models import ENTRY_TIME_IN_FORCE, Bar, Fill
from fleece.order_manager import OrderManager
from fleece.order_terms import OrderBroker
from fleece.protection import OFF, Protection, Protector
from fleece.risk_limits import RiskLimits
from fleece.risk_manager import RiskManager
from fleece.strategy.api import Strategy
from fleece.trader import Trader, TraderStore


def risk_limits(risk: RiskConfig) -> RiskLimits:
    """The risk manager's limits from trading.yaml's ``risk`` section (the one mapping)."""
    return from_attributes(RiskLimits, risk)


def protection_of(trading: TradingConfig) -> Protection:
    """The protective exits from trading.yaml (``risk.*_pct``, ``orders.protective``)."""
    return from_attributes(Protection, trading.risk, mode=trading.orders.protective)


@dataclass
class Kernel:
    """The decision core of one bot or one backtest."""

    strategy: Strategy
    risk: RiskManager
    orders: OrderManager
    trader: Trader
    breaker: CircuitBreaker

    async def step(self, bars: Sequence[Bar]) -> None:
        """One minute of the grid: each symbol's bar (real or carried), in symbol order.

        The caller has refreshed the orders and read the account for this instant first (the
        bot's poll does both before its bars; the backtest's cycle the same).
        """
        for bar in bars:
            await self.trader.on_bar(bar)

    async def protect(self, now: datetime, *, any_time: bool = False) -> int:
        """The protective-order sweep (:meth:`Trader.protect`) of one poll, after the account
        read and before the bars: while the market is open (every driver polls then), or
        ``any_time`` (the start-up's repair)."""
        if not (any_time or self.trader.sessions.is_open(now)):
            return 0
        return await self.trader.protect(now)


def build_kernel(
    *,
    strategy: Strategy,
    limits: RiskLimits,
    store: TraderStore,
    broker: OrderBroker,
    clock: Clock,
    breaker: CircuitBreaker,
    time_in_force: str = ENTRY_TIME_IN_FORCE,
    dry_run: bool = False,
    kill_switch_env: bool = False,
    on_fill: Callable[[Fill], None] | None = None,
    protection: Protection = OFF,
) -> Kernel:
    """Wire strategy, risk manager, order manager and trader.

    Args:
        strategy: a fresh strategy (its state is the run's).
        limits: the risk limits (:func:`risk_limits`).
        store: where intents, fills, refusals and flags are kept.
        broker: the broker (alpaca-py's, or the backtest's in-process engine).
        clock: the injected clock.
        breaker: the circuit breaker, with its persisted state.
        time_in_force: the orders' time in force.
        dry_run: decide and record everything, send nothing.
        kill_switch_env: ``KILL_SWITCH=true`` in the environment.
        on_fill: told of every fill after the trader (the backtest's fill list).
        protection: the protective exits (:func:`protection_of`; off by default).
    """
    risk = RiskManager(limits)
    orders = OrderManager(
        store, broker, clock, breaker, dry_run=dry_run, time_in_force=time_in_force
    )
    trader = Trader(
        strategy=strategy,
        risk=risk,
        orders=orders,
        store=store,
        clock=clock,
        breaker=breaker,
        kill_switch_env=kill_switch_env,
        dry_run=dry_run,
    )
    trader.protector = Protector(protection)
    if on_fill is None:
        orders.on_fill = trader.on_fill
    else:

        def both(fill: Fill) -> None:
            trader.on_fill(fill)
            on_fill(fill)

        orders.on_fill = both
    orders.before_send = trader.latency.order_called
    return Kernel(strategy, risk, orders, trader, breaker)
