"""The matching engine's order classes where HTTP adds nothing: entries that end partly filled,
day brackets at the close, and the state file round trip of orders with legs.

The engine is pure (no clock, no I/O): these specifications drive it directly; the same rules
through alpaca-py are in test_exchange_protective_orders.py.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from exchange_helpers import engine_over, ny, scripted, settle

from fleece.backtest.sim_broker import SimBroker
from fleece.exchange.order_classes import LISTINGS, listed
from fleece.exchange.orders import (
    ExitLegs,
    OrderClass,
    OrderRequest,
    OrderStatus,
    OrderType,
    SimOrder,
    TimeInForce,
)
from fleece.models import ENTRY_TIME_IN_FORCE, ExitOrder, Side

QUIET = (100.0, 100.5, 99.5, 100.0)


@dataclass
class Halves:
    """Fills half of what an order still needs (at least one share): a partial fill."""

    def fill_qty(self, order: SimOrder) -> int:
        return max(1, order.remaining // 2)


def bracket_request(tif: TimeInForce = TimeInForce.DAY, limit: float | None = None) -> OrderRequest:
    return OrderRequest(
        "SPY",
        10,
        Side.BUY,
        OrderType.LIMIT if limit is not None else OrderType.MARKET,
        tif,
        limit,
        order_class=OrderClass.BRACKET,
        legs=ExitLegs(take_profit=105.0, stop_price=95.0),
    )


def test_an_entry_cancelled_partly_filled_starts_its_legs_for_the_shares_it_bought() -> None:
    engine = engine_over({"SPY": scripted("SPY", "09:30", [QUIET, QUIET])}, ny("09:30"))
    engine.partial_fills = Halves()
    entry = engine.submit(bracket_request())
    settle(engine)  # 5 of 10 fill at the 09:30 open

    engine.cancel(entry.id)
    legs = engine.legs_of(engine.order(entry.id))

    assert engine.order(entry.id).filled_qty == 5
    assert [(leg.status, leg.qty) for leg in legs] == [(OrderStatus.NEW, 5), (OrderStatus.NEW, 5)]
    assert engine.position("SPY").qty_available == 0  # the legs hold the five shares, once


def test_an_entry_cancelled_with_nothing_filled_cancels_its_held_legs() -> None:
    engine = engine_over({"SPY": scripted("SPY", "09:30", [QUIET])}, ny("09:30"))
    entry = engine.submit(bracket_request(limit=98.0))  # below every low: never fills
    settle(engine)

    engine.cancel(entry.id)

    assert [leg.status for leg in engine.legs_of(entry)] == [OrderStatus.CANCELED] * 2


def test_a_day_brackets_exit_legs_expire_at_the_close_with_the_position_kept() -> None:
    engine = engine_over({"SPY": scripted("SPY", "09:30", [QUIET] * 390)}, ny("09:30"))
    entry = engine.submit(bracket_request())
    settle(engine)

    engine.advance_to(ny("16:01"))

    assert engine.order(entry.id).status is OrderStatus.FILLED
    assert [leg.status for leg in engine.legs_of(entry)] == [OrderStatus.EXPIRED] * 2
    assert engine.position("SPY").qty == 10


def test_a_gtc_brackets_exit_legs_outlive_the_session() -> None:
    engine = engine_over({"SPY": scripted("SPY", "09:30", [QUIET] * 390)}, ny("09:30"))
    entry = engine.submit(bracket_request(TimeInForce.GTC))
    settle(engine)

    engine.advance_to(ny("16:01"))

    assert [leg.status for leg in engine.legs_of(entry)] == [OrderStatus.NEW] * 2


def test_an_oco_partly_filled_is_listed_open_and_closed_by_the_exchange_and_the_backtest() -> None:
    # One listing rule (order_classes.listed) for GET /v2/orders and the backtest's broker: a
    # primary order matches a status when it or one of its legs does.
    engine = engine_over({"SPY": scripted("SPY", "09:30", [QUIET] * 4)}, ny("09:30"))
    broker = SimBroker(engine)
    asyncio.run(broker.submit_market("entry", "SPY", Side.BUY, 10, ENTRY_TIME_IN_FORCE))
    broker.advance_to(ny("09:31"))
    engine.partial_fills = Halves()
    oco = ExitOrder("limit", "oco", stop_price=95.0, limit_price=100.25)
    asyncio.run(broker.submit_exit("oco", "SPY", Side.SELL, 10, oco))
    broker.advance_to(ny("09:33"))  # 5 of 10 take profit; the stop leg is cancelled

    by_backtest = {s: [o.client_order_id for o in asyncio.run(broker.orders(s))] for s in LISTINGS}
    primary = engine.order_by_client_id("oco")
    legs = engine.legs_of(primary)

    assert (primary.status, [leg.status for leg in legs]) == (
        OrderStatus.PARTIALLY_FILLED,
        [OrderStatus.CANCELED],
    )
    assert by_backtest == {"open": ["oco"], "closed": ["entry", "oco"], "all": ["entry", "oco"]}
    assert [listed(s, primary, legs) for s in LISTINGS] == [True, True, True]
    assert not listed("closed", primary)  # listed without its legs, it is open only
