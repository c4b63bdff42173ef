"""Specification of protection that outlives the bot: ``fleece run`` killed with SIGKILL.

A real bot process trades a stepped exchange served by the test with stop-loss and take-profit
levels held at the exchange. It is killed with SIGKILL while it holds positions; their OCO exits
stay live at the exchange (and may fill while nobody watches); a restarted process adopts them,
records what filled, and sends no protective order twice.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from runtime_helpers import (
    EIGHT_SYMBOLS,
    Market,
    Paths,
    integrity,
    ny,
    paper_env,
    query,
    stepped_market,
    stored_fills,
    synthetic,
    write_trading_yaml,
)
from runtime_processes import Process, fleece_command, log_text, step_bot_process, wait_for_log

from fleece.exchange.orders import OrderClass, SimOrder
from fleece.protection import is_protective

LEVELS = {"stop_loss_pct": 0.002, "take_profit_pct": 0.003}
STRATEGY = {"fast": 5, "medium": 20, "slow": 40}
RUNNING = r"bot running mode="


@pytest.fixture
def market() -> Iterator[Market]:
    """Eight symbols at 10:00 in the second session, standing still until stepped."""
    with stepped_market(synthetic(EIGHT_SYMBOLS), ny("10:00")) as served:
        yield served


@pytest.fixture
def bots() -> Iterator[list[Process]]:
    started: list[Process] = []
    yield started
    for process in started:
        process.stop()


def start_bot(paths: Paths, market: Market, bots: list[Process], name: str) -> Process:
    already = len(log_text(paths.log_file))
    bot = Process.start(fleece_command("run"), paper_env(paths, market.url), paths.root, name)
    bots.append(bot)
    wait_for_log(paths.log_file, RUNNING, bot, skip=already)
    return bot


def live_protection(market: Market) -> dict[str, SimOrder]:
    """The open OCO exits at the exchange (primary orders) by client_order_id."""
    return {
        o.client_order_id: o
        for o in market.orders()
        if o.order_class is OrderClass.OCO and o.parent_id is None and o.status.is_open
    }


def fills_by_intent(orders: Sequence[SimOrder]) -> set[tuple[str, str, str, int, float]]:
    """Every fill at the exchange as the bot books it: an OCO leg's under its primary's id."""
    by_id = {o.id: o for o in orders}
    return {
        (
            by_id[o.parent_id].client_order_id if o.parent_id else o.client_order_id,
            o.symbol,
            o.side.value,
            o.filled_qty,
            float(o.filled_avg_price or 0),
        )
        for o in orders
        if o.filled_qty > 0
    }


def test_sigkill_leaves_the_stops_live_and_a_restart_neither_duplicates_nor_loses_them(
    tmp_path: Path, market: Market, bots: list[Process]
) -> None:
    paths = Paths(tmp_path)
    write_trading_yaml(
        paths.config,
        EIGHT_SYMBOLS,
        risk=LEVELS,
        strategy=STRATEGY,
        shutdown={"close_positions": "none"},
    )
    first = start_bot(paths, market, bots, "first")
    for _ in range(120):  # until the bot holds protected positions
        step_bot_process(market)
        if live_protection(market):
            break
    first.signal(signal.SIGKILL)
    assert first.wait(timeout=10) == -signal.SIGKILL
    at_the_kill = live_protection(market)
    held_at_the_kill = market.positions()
    market.advance(30)  # nobody watches: the stops and take-profits work on their own
    filled_while_down = {
        cid for cid, o in at_the_kill.items() if market.positions().get(o.symbol, 0) == 0
    }

    second = start_bot(paths, market, bots, "second")
    step_bot_process(market, 5)
    second.signal(signal.SIGTERM)
    code = second.wait(timeout=30)

    orders = market.orders()
    submissions = market.submissions()
    intents = {
        r[0]: r[1]
        for r in query(paths.db, "SELECT client_order_id, status FROM order_intents")
        if is_protective(r[0])
    }
    assert at_the_kill
    assert {o.symbol for o in at_the_kill.values()} == set(held_at_the_kill)
    assert code == 0
    assert set(submissions.values()) == {1}  # nothing, protection included, sent twice
    for cid in at_the_kill:  # the dead bot's stops: adopted, not replaced
        assert intents[cid] in ("accepted", "filled", "canceled"), cid
    for cid in filled_while_down:
        assert intents[cid] == "filled", cid
    assert stored_fills(paths.db) == fills_by_intent(orders)  # no fill lost, none doubled
    for symbol, qty in market.positions().items():  # every position still protected, once
        live = [o for o in live_protection(market).values() if o.symbol == symbol]
        assert [o.qty for o in live] == [qty]
    assert integrity(paths.db) == "ok"
