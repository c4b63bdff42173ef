"""Specification of the graceful shutdown's choices: it cancels and closes as configured.

The default (cancel its own open orders, close its own positions, during the session) is proved
on a real ``fleece run`` process in ``test_runtime_processes.py``; here the real bot runs in this
process against a stepped exchange, and is stopped the way the first SIGTERM stops it. What the
bot owns is one rule (:mod:`fleece.ownership`): the shares its own orders bought, no more than
the account holds; an account may also hold shares and orders that are not the bot's.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from alpaca.trading.enums import OrderSide
from runtime_helpers import (
    EIGHT_SYMBOLS,
    Market,
    Paths,
    ny,
    query,
    scenario_files,
    stepped_bot,
    stepped_market_of,
)


def buy(market: Market, symbol: str, qty: int) -> None:
    """A market buy on the account, outside the bot."""
    market.market_order_by_someone_else(symbol, OrderSide.BUY, qty)


def rest_a_limit_order(market: Market) -> str:
    """A buy limit far below the market: it stays open. Returns its id."""
    return str(market.limit_order_by_someone_else("SPY", OrderSide.BUY, limit_price=1).id)


def start_then_stop(paths: Paths, market: Market) -> int:
    """Start the bot, let one minute pass, stop it gracefully; returns its exit code."""

    async def scenario() -> int:
        harness = await stepped_bot(paths, market)
        await harness.step()
        return await harness.stop(keep_market_moving=False)

    return asyncio.run(scenario())


@pytest.fixture
def session_market() -> Iterator[Market]:
    """Eight symbols at 10:00 in the second session, standing still until stepped."""
    with stepped_market_of(EIGHT_SYMBOLS, ny("10:00")) as served:
        yield served


def test_with_cancel_and_close_switched_off_orders_and_positions_are_left_alone(
    tmp_path: Path, session_market: Market
) -> None:
    paths = scenario_files(
        tmp_path,
        EIGHT_SYMBOLS,
        shutdown={"cancel_open_orders": False, "close_positions": False},
    )
    buy(session_market, "AAPL", 5)
    resting = rest_a_limit_order(session_market)

    code = start_then_stop(paths, session_market)

    orders = session_market.orders()
    assert code == 0
    assert session_market.positions().get("AAPL") == 5
    assert [o.status.value for o in orders if o.id == resting] == ["new"]
    assert not any(o.client_order_id.startswith("shutdown-") for o in orders)


def test_a_stop_after_the_close_keeps_positions_and_sends_no_order(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # all: the position bought below is not the bot's, and only 'all' would close it.
    paths = scenario_files(tmp_path, EIGHT_SYMBOLS, shutdown={"close_positions": "all"})
    with stepped_market_of(EIGHT_SYMBOLS, ny("15:58")) as market:
        buy(market, "AAPL", 5)
        market.advance(4)  # 16:02: the session is over
        before = len(market.orders())

        with caplog.at_level(logging.WARNING, logger="fleece"):
            code = start_then_stop(paths, market)
        after, held = len(market.orders()), market.positions()

    assert code == 0
    assert after == before
    assert held == {"AAPL": 5}
    assert any("positions kept open" in r.getMessage() for r in caplog.records)


def test_shutdown_leaves_a_position_and_an_order_the_bot_did_not_open_untouched(
    paths: Paths, session_market: Market
) -> None:
    buy(session_market, "TSLA", 40)  # bought by someone else before the bot starts
    resting = rest_a_limit_order(session_market)  # SPY: an order the bot did not send

    async def scenario() -> tuple[int, dict[str, int]]:
        harness = await stepped_bot(paths, session_market)
        await harness.step_until(
            lambda: bool(harness.bot.trader and harness.bot.trader.portfolio.qty), "an own entry"
        )
        owned = dict(harness.bot.trader.portfolio.qty) if harness.bot.trader else {}
        return await harness.stop(), owned

    code, owned = asyncio.run(scenario())

    orders = session_market.orders()
    held = session_market.positions()
    assert code == 0 and owned and "TSLA" not in owned
    assert held.get("TSLA") == 40  # untouched
    assert all(held.get(symbol, 0) == 0 or symbol == "TSLA" for symbol in held)
    assert [o.status.value for o in orders if o.id == resting] == ["new"]  # not cancelled
    assert {o.symbol for o in orders if o.client_order_id.startswith("shutdown-")} == set(owned)


def test_shutdown_sells_only_what_the_bot_bought_when_the_account_holds_more_of_it(
    paths: Paths, session_market: Market
) -> None:

    async def scenario() -> tuple[str, int, int]:
        harness = await stepped_bot(paths, session_market)
        await harness.step_until(
            lambda: bool(harness.bot.trader and harness.bot.trader.portfolio.qty), "an own entry"
        )
        assert harness.bot.trader is not None
        symbol, mine = next(iter(harness.bot.trader.portfolio.qty.items()))
        buy(session_market, symbol, 7)  # someone else adds to the same position
        await harness.step()
        await harness.stop()
        return symbol, mine, session_market.positions().get(symbol, 0)

    symbol, mine, left = asyncio.run(scenario())

    sold = query(
        paths.db,
        "SELECT qty FROM order_intents WHERE client_order_id LIKE 'shutdown-%' AND symbol = ?",
        (symbol,),
    )
    assert [row[0] for row in sold] == [mine]
    assert left == 7


def test_close_positions_all_cancels_every_order_and_closes_every_position(
    tmp_path: Path, session_market: Market
) -> None:
    paths = scenario_files(tmp_path, EIGHT_SYMBOLS, shutdown={"close_positions": "all"})
    buy(session_market, "TSLA", 40)
    resting = rest_a_limit_order(session_market)

    code = start_then_stop(paths, session_market)

    orders = session_market.orders()
    assert code == 0
    assert session_market.positions() == {}
    assert [o.status.value for o in orders if o.id == resting] == ["canceled"]
