"""Specification of crash safety: after a restart, no order is sent twice and no fill is lost.

Each test leaves the database and the exchange exactly as a bot killed at one precise point
would have left them (the intent written with the store's own API, the dead bot's request sent
to the exchange through alpaca-py), then starts the real bot against both and lets it trade.
The process-level version (a real ``fleece run`` killed with SIGKILL) is in
``test_runtime_processes.py``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from alpaca.trading.enums import OrderSide, TimeInForce
from alpaca.trading.requests import MarketOrderRequest
from runtime_helpers import (
    EIGHT_SYMBOLS,
    Market,
    Paths,
    SteppedBot,
    ny,
    query,
    stepped_bot,
    stepped_market_of,
)

from fleece.models import OrderIntent, Side
from fleece.order_terms import client_order_id
from fleece.state_store import StateStore

SIGNAL_BAR = ny("09:29")  # the dead bot decided on this bar (a pre-open bar, as a stand-in)
CID = client_order_id("sma_crossover", "AAPL", Side.BUY, SIGNAL_BAR)
QTY = 7


@pytest.fixture
def market() -> Iterator[Market]:
    """Eight symbols one minute before the second session opens."""
    with stepped_market_of(EIGHT_SYMBOLS, ny("09:29")) as served:
        yield served


def write_intent(db: Path, now: datetime) -> None:
    """What the dead bot wrote before it would have sent the order (status ``new``)."""
    db.parent.mkdir(parents=True, exist_ok=True)
    intent = OrderIntent(CID, "sma_crossover", "AAPL", Side.BUY, QTY, SIGNAL_BAR, now)
    with StateStore(db) as store:
        assert store.add_intent(intent)


def mark_sent(db: Path, now: datetime) -> None:
    """The dead bot's last write before its HTTP request (status ``submitted``)."""
    with StateStore(db) as store:
        store.mark_submit_attempt(CID, now)


def mark_accepted(db: Path, broker_order_id: str, now: datetime) -> None:
    """The dead bot read the broker's acceptance (status ``accepted``)."""
    with StateStore(db) as store:
        store.set_intent_status(CID, "accepted", broker_order_id=broker_order_id, now=now)


def send_as_the_dead_bot_did(market: Market) -> str:
    """The dead bot's order request, arriving at the exchange; returns the order id."""
    client = market.trading_client()
    order = client.submit_order(
        MarketOrderRequest(
            symbol="AAPL",
            qty=QTY,
            side=OrderSide.BUY,
            time_in_force=TimeInForce.DAY,
            client_order_id=CID,
        )
    )
    return str(order.id)


def restart_and_trade(paths: Paths, market: Market, minutes: int = 10) -> SteppedBot:
    """Start the real bot on what was left behind, let it trade, stop it gracefully."""

    async def scenario() -> SteppedBot:
        harness = await stepped_bot(paths, market)
        await harness.step(minutes)
        await harness.stop()
        return harness

    return asyncio.run(scenario())


def trades_of(db: Path, cid: str) -> list[tuple[str, int, float]]:
    """(side, qty, price) of every ``trades`` row of one order."""
    rows = query(db, "SELECT side, qty, price FROM trades WHERE client_order_id = ?", (cid,))
    return [(r[0], int(r[1]), float(r[2])) for r in rows]


def events_of(db: Path, cid: str) -> list[str]:
    """The kinds of reconciliation events recorded about one order."""
    rows = query(db, "SELECT kind FROM reconciliation_events WHERE client_order_id = ?", (cid,))
    return [r[0] for r in rows]


def assert_each_order_sent_once(market: Market) -> None:
    submissions = market.submissions()
    assert submissions, "the restarted bot traded"
    assert set(submissions.values()) == {1}


# ---------------------------------------------------------------- (a) written, never sent


@pytest.mark.parametrize("last_write", ["new", "submitted"])
def test_an_intent_written_but_never_sent_is_marked_failed_and_never_sent(
    last_write: str, paths: Paths, market: Market
) -> None:
    write_intent(paths.db, market.now())
    if last_write == "submitted":
        mark_sent(paths.db, market.now())  # the crash came just before the request left
    market.advance(2)

    harness = restart_and_trade(paths, market)

    intent = query(
        paths.db, "SELECT status, last_error FROM order_intents WHERE client_order_id = ?", (CID,)
    )[0]
    assert harness.exit_code == 0
    assert intent[0] == "failed" and "not at broker" in intent[1]
    assert events_of(paths.db, CID) == ["intent_not_at_broker"]
    assert CID not in market.submissions()
    assert_each_order_sent_once(market)


# ---------------------------------------------------------------- (b) sent, accepted, fill unseen


def test_an_order_accepted_while_the_bot_died_is_filled_into_trades_once_after_restart(
    paths: Paths, market: Market
) -> None:
    write_intent(paths.db, market.now())
    mark_sent(paths.db, market.now())
    send_as_the_dead_bot_did(market)  # accepted before the open; the bot died there
    market.advance(3)  # the order fills at the 09:30 open while nobody watches
    filled = next(o for o in market.orders() if o.client_order_id == CID)

    restart_and_trade(paths, market)
    restart_and_trade(paths, market, minutes=3)  # and once more: still recorded once

    assert filled.filled_qty == QTY
    assert trades_of(paths.db, CID) == [("buy", QTY, filled.filled_avg_price)]
    assert events_of(paths.db, CID) == ["fill_recovered"]
    assert market.submissions()[CID] == 1
    assert_each_order_sent_once(market)


# ---------------------------------------------------------------- (c) filled, not recorded


def test_a_fill_the_exchange_made_but_the_store_missed_is_recorded_once_on_restart(
    paths: Paths, market: Market
) -> None:
    write_intent(paths.db, market.now())
    mark_sent(paths.db, market.now())
    order_id = send_as_the_dead_bot_did(market)
    mark_accepted(paths.db, order_id, market.now())  # the bot saw the acceptance ...
    market.advance(3)  # ... and died as the fill came, before writing it
    filled = next(o for o in market.orders() if o.client_order_id == CID)
    before = trades_of(paths.db, CID)

    restart_and_trade(paths, market)
    restart_and_trade(paths, market, minutes=3)

    intent = query(
        paths.db, "SELECT status, filled_qty FROM order_intents WHERE client_order_id = ?", (CID,)
    )[0]
    assert before == []
    assert trades_of(paths.db, CID) == [("buy", QTY, filled.filled_avg_price)]
    assert tuple(intent) == ("filled", QTY)
    assert market.submissions()[CID] == 1
    assert_each_order_sent_once(market)


def test_a_position_bought_while_the_bot_was_down_is_held_by_the_restarted_bot(
    paths: Paths, market: Market
) -> None:
    write_intent(paths.db, market.now())
    mark_sent(paths.db, market.now())
    send_as_the_dead_bot_did(market)
    market.advance(3)

    async def held_after_start() -> dict[str, int]:
        harness = await stepped_bot(paths, market)
        held = dict(harness.bot.trader.portfolio.qty) if harness.bot.trader else {}
        await harness.stop()
        return held

    assert asyncio.run(held_after_start()) == {"AAPL": QTY}
