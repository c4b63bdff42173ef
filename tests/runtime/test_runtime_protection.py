"""Specification of protective exits in the running bot, against the built-in exchange.

The real bot (:class:`fleece.runtime.Bot`, alpaca-py over HTTP) trades a stepped market with
``risk.stop_loss_pct`` and ``risk.take_profit_pct`` set and ``orders.protective: broker`` (the
default): each position's exits rest at the exchange as an OCO order, the strategy's own exits
cancel them first (never a wash trade), a graceful stop keeps those of the positions it leaves
open and says so, and a restart gives a position the protection a crash left it without, once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from alpaca.trading.enums import OrderClass as AlpacaClass
from alpaca.trading.enums import OrderSide, TimeInForce
from alpaca.trading.requests import LimitOrderRequest, StopLossRequest, TakeProfitRequest
from runtime_helpers import (
    EIGHT_SYMBOLS,
    Market,
    Paths,
    SteppedBot,
    ny,
    protected_scenario,
    query,
    stepped_bot,
    stepped_market_of,
)

from fleece.exchange.orders import OrderClass, SimOrder
from fleece.protection import ExitReason, fill_reason, is_protective

KEEP = {"close_positions": "none", "cancel_open_orders": True}


@pytest.fixture
def market() -> Iterator[Market]:
    """Eight symbols at 10:00 in the second session, standing still until stepped."""
    with stepped_market_of(EIGHT_SYMBOLS, ny("10:00")) as served:
        yield served


def trade(paths: Paths, market: Market, minutes: int, *, moving: bool = False) -> SteppedBot:
    """The real bot over ``minutes`` market minutes, then a graceful stop."""

    async def scenario() -> SteppedBot:
        harness = await stepped_bot(paths, market)
        await harness.step(minutes)
        await harness.stop(keep_market_moving=moving)
        return harness

    harness = asyncio.run(scenario())
    assert harness.exit_code == 0
    return harness


def open_protection(market: Market) -> dict[str, list[SimOrder]]:
    """The account's open OCO exits at the exchange (their primary orders), per symbol."""
    found: dict[str, list[SimOrder]] = {}
    for order in market.orders():
        oco = order.order_class is OrderClass.OCO and order.parent_id is None
        if oco and order.status.is_open:
            found.setdefault(order.symbol, []).append(order)
    return found


def exit_reasons(db: Path) -> list[str]:
    """The reason of every protective fill in the store's trades."""
    rows = query(
        db,
        "SELECT i.strategy, i.broker_order_id, t.broker_order_id FROM trades t"
        " JOIN order_intents i USING (client_order_id) WHERE t.side = 'sell'",
    )
    reasons = (fill_reason(r[0], r[1], r[2]) for r in rows)
    return [r.value for r in reasons if r is not None]


def refused(db: Path) -> list[tuple[str, str]]:
    rows = query(db, "SELECT client_order_id, last_error FROM order_intents WHERE last_error")
    return [(r[0], r[1]) for r in rows]


def test_a_session_holds_each_positions_exits_at_the_exchange_and_stops_out_there(
    tmp_path: Path, market: Market, caplog: pytest.LogCaptureFixture
) -> None:
    paths = protected_scenario(tmp_path, shutdown=KEEP)

    with caplog.at_level(logging.INFO, logger="fleece.closing"):
        trade(paths, market, 150)

    held = market.positions()
    protection = open_protection(market)
    intents = query(paths.db, "SELECT client_order_id, strategy FROM order_intents")
    protective_cids = {r[0] for r in intents if is_protective(r[1])}
    reasons = exit_reasons(paths.db)
    assert held, "the stop left positions open"
    assert sorted(protection) == sorted(held)  # one OCO per position, still at the exchange
    for symbol, orders in protection.items():
        (oco,) = orders
        (stop,) = [leg for leg in market.orders() if leg.parent_id == oco.id]
        assert (oco.qty, stop.qty, stop.status.is_open) == (held[symbol], held[symbol], True)
        assert oco.time_in_force.value == "gtc"  # it outlives the session and the bot
        assert oco.client_order_id in protective_cids
    assert ExitReason.STOP_LOSS in reasons and ExitReason.TAKE_PROFIT in reasons
    assert refused(paths.db) == []
    assert any("keeps" in m and "protective orders" in m for m in caplog.messages)


def test_a_graceful_stop_in_the_session_cancels_the_protection_before_closing(
    tmp_path: Path, market: Market
) -> None:
    paths = protected_scenario(tmp_path)  # shutdown closes the bot's own positions (the default)

    trade(paths, market, 90, moving=True)

    open_orders = [o for o in market.orders() if o.status.is_open]
    assert market.positions() == {}
    assert open_orders == []
    assert refused(paths.db) == []


def test_a_restart_gives_unprotected_positions_their_exits_once(
    tmp_path: Path, market: Market, caplog: pytest.LogCaptureFixture
) -> None:
    paths = protected_scenario(
        tmp_path, {}, shutdown={"close_positions": "none", "cancel_open_orders": False}
    )
    trade(paths, market, 60)  # protection off: the positions are left bare
    bare = market.positions()
    protected_scenario(tmp_path, shutdown=KEEP)

    with caplog.at_level(logging.WARNING, logger="fleece.runtime"):
        trade(paths, market, 1)  # protection on: restored at start-up
        restored = open_protection(market)
        sent = {cid for cid in market.submissions() if is_protective(cid)}
        trade(paths, market, 1)  # and once more: nothing sent twice

    submissions = market.submissions()
    assert bare
    assert len(sent) == len(bare)  # one protective order per bare position, at start-up
    assert sorted(restored) == sorted(s for s in bare if s in market.positions())
    assert all(len(orders) == 1 for orders in restored.values())
    assert {cid for cid in submissions if is_protective(cid)} == sent
    assert all(submissions[cid] == 1 for cid in sent)
    assert open_protection(market) == restored
    assert sum("protection restored at start-up" in m for m in caplog.messages) == 1


def test_reconciliation_reads_a_bracket_with_held_legs_as_one_order_of_someone_else(
    tmp_path: Path, market: Market
) -> None:
    paths = protected_scenario(tmp_path, shutdown=KEEP)
    someone = market.trading_client()
    entry = someone.submit_order(
        LimitOrderRequest(
            symbol="SPY",
            qty=1,
            side=OrderSide.BUY,
            time_in_force=TimeInForce.GTC,
            limit_price=1,  # far below the market: its legs stay held
            order_class=AlpacaClass.BRACKET,
            take_profit=TakeProfitRequest(limit_price=2000),
            stop_loss=StopLossRequest(stop_price=0.5),
        )
    )

    trade(paths, market, 1)

    events = query(paths.db, "SELECT kind, client_order_id, detail FROM reconciliation_events")
    legs = someone.get_order_by_id(entry.id).legs
    assert [(e[0], e[1]) for e in events] == [("unknown_broker_order", entry.client_order_id)]
    assert legs is not None and [leg.status.value for leg in legs] == ["held", "held"]
    assert market.submissions().get(entry.client_order_id) == 1  # the bot left it alone
