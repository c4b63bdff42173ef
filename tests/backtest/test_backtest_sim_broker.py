"""Specification of the simulated broker: the exchange's engine behind the broker interface."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from backtest_helpers import synthetic

from fleece.backtest.market import ArrayBarStore
from fleece.backtest.sim_broker import SimBroker
from fleece.calendar import MarketCalendar
from fleece.errors import BrokerError
from fleece.exchange.engine import Engine
from fleece.exchange.orders import IdSource
from fleece.models import ENTRY_TIME_IN_FORCE, Side
from fleece.order_terms import duplicate_id

OPEN = datetime(2024, 1, 2, 14, 30, tzinfo=UTC)


def broker(cash: float = 100_000.0) -> tuple[SimBroker, object]:
    market = synthetic(("SPY",), days=2)
    engine = Engine(
        ArrayBarStore(market),
        MarketCalendar(),
        start=OPEN,
        cash_cents=round(cash * 100),
        ids=IdSource(1),
    )
    return SimBroker(engine), market


def test_a_market_order_fills_at_the_open_of_the_bar_starting_at_its_minute() -> None:
    sim, market = broker()
    sim.advance_to(OPEN + timedelta(minutes=5, seconds=3))

    answer = asyncio.run(sim.submit_market("c1", "SPY", Side.BUY, 10, ENTRY_TIME_IN_FORCE))
    order = asyncio.run(sim.order_by_client_id("c1"))

    bars = market.bars["SPY"]  # type: ignore[attr-defined]
    assert (answer.status, answer.filled_qty) == ("pending_new", 0)
    assert order is not None
    assert order.status == "filled" and order.filled_qty == 10
    assert order.filled_avg_price == bars.open[5] / 10_000
    assert order.client_order_id == "c1"


def test_an_order_the_exchange_refuses_is_a_broker_error_with_alpacas_code() -> None:
    sim, _ = broker(cash=100.0)
    sim.advance_to(OPEN + timedelta(minutes=5))

    with pytest.raises(BrokerError) as refused:
        asyncio.run(sim.submit_market("c1", "SPY", Side.BUY, 10, ENTRY_TIME_IN_FORCE))

    assert refused.value.status == 403 and refused.value.code == 40310000


def test_a_client_order_id_is_found_or_reported_unknown() -> None:
    sim, _ = broker()
    sim.advance_to(OPEN + timedelta(minutes=5))
    asyncio.run(sim.submit_market("c1", "SPY", Side.BUY, 1, ENTRY_TIME_IN_FORCE))

    assert asyncio.run(sim.order_by_client_id("c1")) is not None
    assert asyncio.run(sim.order_by_client_id("nope")) is None


def test_a_reused_client_order_id_is_refused_as_the_order_manager_reads_a_duplicate() -> None:
    sim, _ = broker(cash=1_000.0)
    sim.advance_to(OPEN + timedelta(minutes=5))
    asyncio.run(sim.submit_market("c1", "SPY", Side.BUY, 1, ENTRY_TIME_IN_FORCE))

    with pytest.raises(BrokerError) as reused:
        asyncio.run(sim.submit_market("c1", "SPY", Side.BUY, 1, ENTRY_TIME_IN_FORCE))
    with pytest.raises(BrokerError) as unaffordable:
        asyncio.run(sim.submit_market("c2", "SPY", Side.BUY, 10_000, ENTRY_TIME_IN_FORCE))

    assert (reused.value.status, reused.value.code) == (422, 40010001)
    assert duplicate_id(reused.value)  # adopted by the order manager, not marked rejected
    assert not duplicate_id(unaffordable.value)


def test_orders_are_listed_by_status_and_submission_time() -> None:
    sim, _ = broker()
    sim.advance_to(OPEN + timedelta(minutes=5))
    asyncio.run(sim.submit_market("c1", "SPY", Side.BUY, 1, ENTRY_TIME_IN_FORCE))
    sim.advance_to(OPEN + timedelta(minutes=9))
    asyncio.run(sim.submit_market("c2", "SPY", Side.SELL, 1, ENTRY_TIME_IN_FORCE))

    every = asyncio.run(sim.orders("all"))
    later = asyncio.run(sim.orders("all", after=OPEN + timedelta(minutes=6)))

    assert [o.client_order_id for o in every] == ["c1", "c2"]
    assert [o.client_order_id for o in later] == ["c2"]
    assert asyncio.run(sim.orders("open")) == []
    assert len(asyncio.run(sim.orders("closed"))) == 2


def test_the_account_is_reported_in_dollars_to_the_cent() -> None:
    sim, _ = broker()
    sim.advance_to(OPEN + timedelta(minutes=5))
    asyncio.run(sim.submit_market("c1", "SPY", Side.BUY, 3, ENTRY_TIME_IN_FORCE))

    order = asyncio.run(sim.order_by_client_id("c1"))
    account = asyncio.run(sim.account())
    positions = asyncio.run(sim.positions())

    assert order is not None and order.filled_avg_price is not None
    cost_cents = (round(order.filled_avg_price * 10_000) * 3 + 50) // 100
    assert account.cash == (10_000_000 - cost_cents) / 100
    assert positions["SPY"].qty == 3
    assert account.equity == round(account.cash + positions["SPY"].market_value, 2)
