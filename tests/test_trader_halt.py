"""Specification of HALTED around the risk manager: the trader's own steps (an exit's cancels,
the protective sweep) obey the same halt rule as the risk manager's state.

The core runs on the exchange's engine in process (the backtest's broker and in-memory store),
so the protective order is a real resting order at the simulated exchange.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from fleece.backtest.data import synthetic_market
from fleece.backtest.market import ArrayBarStore
from fleece.backtest.memory_store import MemoryStore
from fleece.backtest.result import default_strategy
from fleece.backtest.sim_broker import SimBroker
from fleece.calendar import MarketCalendar
from fleece.circuit_breaker import CircuitBreaker
from fleece.clock import ManualClock
from fleece.exchange.engine import Engine
from fleece.exchange.orders import IdSource
from fleece.kernel import Kernel, build_kernel
from fleece.models import Bar, Side, Signal
from fleece.protection import Protection, is_protective
from fleece.risk_limits import RiskLimits
from fleece.risk_manager import (
    CIRCUIT_BREAKER,
    KILL_SWITCH,
    STORE_FAILURE,
    halt_reason,
)

OPEN = datetime(2024, 1, 2, 14, 30, tzinfo=UTC)
LIMITS = RiskLimits(0.10, 0.05, 20, 10)


def test_a_failed_store_halts_before_the_kill_switch_and_the_breaker() -> None:
    assert halt_reason(store_failed=True, kill_switch=True, breaker_tripped=True) == STORE_FAILURE
    assert halt_reason(store_failed=False, kill_switch=True, breaker_tripped=True) == KILL_SWITCH
    assert halt_reason(store_failed=False, kill_switch=False, breaker_tripped=True) == (
        CIRCUIT_BREAKER
    )
    assert halt_reason(store_failed=False, kill_switch=False, breaker_tripped=False) == ""


class Protected:
    """A bot core holding 10 SPY bought at the open, its stop-loss resting at the exchange."""

    def __init__(self) -> None:
        market = synthetic_market(("SPY",), OPEN.date(), 2, 0)
        self.clock = ManualClock(OPEN)
        engine = Engine(
            ArrayBarStore(market),
            MarketCalendar(),
            start=OPEN,
            cash_cents=10_000_000,
            ids=IdSource(1),
        )
        self.broker = SimBroker(engine)
        self.kernel: Kernel = build_kernel(
            strategy=default_strategy().build(),
            limits=LIMITS,
            store=MemoryStore(),
            broker=self.broker,
            clock=self.clock,
            breaker=CircuitBreaker(LIMITS.circuit_breaker_failures),
            protection=Protection(stop_loss_pct=0.02),
        )
        self.trader = self.kernel.trader
        self.trader.sessions = MarketCalendar()
        asyncio.run(self._enter())

    def at(self, minutes: int) -> datetime:
        now = OPEN + timedelta(minutes=minutes, seconds=5)
        self.clock.set(now)
        self.broker.advance_to(now)
        self.trader.account = self.broker.account_now()
        return now

    def bar(self, minutes: int) -> Bar:
        ts = OPEN + timedelta(minutes=minutes - 1)
        return Bar("SPY", ts, 100.0, 100.0, 100.0, 100.0, 1000)

    def signal(self, side: Side, minutes: int) -> Signal:
        return Signal("test", "SPY", side, self.bar(minutes).timestamp, 100.0, "test")

    async def _enter(self) -> None:
        self.at(5)
        await self.trader.act(self.bar(5), self.signal(Side.BUY, 5))
        now = self.at(7)
        await self.kernel.orders.refresh()
        await self.kernel.protect(now)

    def resting_protection(self) -> list[str]:
        orders = asyncio.run(self.broker.orders("open"))
        # A protective order's client_order_id starts with its kind (protect-stop-...).
        return [o.client_order_id for o in orders if is_protective(o.client_order_id)]


def test_an_exit_while_the_store_has_failed_leaves_the_protective_order_in_place() -> None:
    core = Protected()
    assert "SPY" in core.trader.portfolio.qty
    assert len(core.resting_protection()) == 1
    core.trader.store_failed = True  # the disk guard's verdict: HALTED until restart

    core.at(9)
    asyncio.run(core.trader.act(core.bar(9), core.signal(Side.SELL, 9)))

    # HALTED refuses the exit; before the halt rule was shared, the exit's preparation ran
    # anyway and cancelled the stop-loss, leaving the position unprotected and unsold.
    assert len(core.resting_protection()) == 1
    assert core.trader.refusals[STORE_FAILURE] == 1
