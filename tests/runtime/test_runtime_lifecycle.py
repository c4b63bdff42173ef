"""Specification of the bot on Alpaca's paper account: orders answered before they fill, long only
whatever the account allows, exposure capped at equity whatever margin buying power says.

The real bot in this event loop, against a stepped exchange, over HTTP through alpaca-py.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest
from alpaca.trading.enums import OrderSide
from runtime_helpers import (
    EIGHT_SYMBOLS,
    SEED_QUERIES,
    Market,
    Paths,
    query,
    scenario_files,
    stepped_bot,
)


def intent_rows(db: Path) -> list[tuple[str, str, str, int, str]]:
    """(client_order_id, symbol, side, qty, status) of every intent, oldest first."""
    rows = query(
        db,
        "SELECT client_order_id, symbol, side, qty, status FROM order_intents"
        " ORDER BY created_at_utc, client_order_id",
    )
    return [(r[0], r[1], r[2], int(r[3]), r[4]) for r in rows]


def sell_outside(market: Market, symbol: str, qty: int) -> None:
    """Someone else sells ``qty`` shares of the account's position."""
    market.market_order_by_someone_else(symbol, OrderSide.SELL, qty)


def test_an_order_answered_pending_new_is_recorded_filled_at_the_next_poll(
    paths: Paths, market: Market
) -> None:
    async def session() -> tuple[list, list, list, list]:
        harness = await stepped_bot(paths, market)
        await harness.step_until(lambda: bool(intent_rows(paths.db)), "an order")
        answered = intent_rows(paths.db)
        unfinished = [r["client_order_id"] for r in query(paths.db, SEED_QUERIES[2])]
        fills_then = query(paths.db, "SELECT * FROM trades")
        await harness.step()
        later = intent_rows(paths.db)
        await harness.stop()
        return answered, unfinished, fills_then, later

    answered, unfinished, fills_then, later = asyncio.run(session())

    first = answered[0][0]
    # Alpaca's answer is pending_new, nothing filled yet: an accepted intent, which the seed's
    # monitoring query of unfinished intents lists.
    assert answered[0][4] == "accepted"
    assert first in unfinished
    assert fills_then == []
    assert dict((r[0], r[4]) for r in later)[first] == "filled"
    fill = query(paths.db, "SELECT timestamp_utc FROM trades WHERE client_order_id = ?", (first,))
    signal = query(
        paths.db,
        "SELECT signal_timestamp_utc FROM order_intents WHERE client_order_id = ?",
        (first,),
    )
    assert fill[0][0] > signal[0][0]  # at the open of the bar after the signal's


def test_an_exit_sells_only_what_the_account_still_holds_when_it_shrank_outside_the_bot(
    paths: Paths, market: Market, caplog: pytest.LogCaptureFixture
) -> None:
    async def session() -> tuple[str, int, int]:
        harness = await stepped_bot(paths, market)
        await harness.step_until(
            lambda: any(r[2] == "buy" and r[4] == "filled" for r in intent_rows(paths.db)),
            "a filled entry",
        )
        symbol, bought = next((r[1], r[3]) for r in intent_rows(paths.db) if r[2] == "buy")
        sell_outside(market, symbol, bought // 2)
        left = bought - bought // 2
        await harness.step_until(
            lambda: any(r[1] == symbol and r[2] == "sell" for r in intent_rows(paths.db)),
            f"the bot's exit of {symbol}",
            limit=300,
        )
        await harness.step()
        await harness.stop()
        return symbol, left, market.positions().get(symbol, 0)

    with caplog.at_level(logging.WARNING, logger="fleece"):
        symbol, left, held_after = asyncio.run(session())

    exits = [r for r in intent_rows(paths.db) if r[1] == symbol and r[2] == "sell"]
    assert exits[0][3] == left and exits[0][4] == "filled"  # what was left, not what it bought
    assert held_after >= 0  # never a short
    assert any("shrank outside the bot" in r.getMessage() for r in caplog.records)


def test_exposure_is_capped_at_equity_whatever_margin_buying_power_says(
    tmp_path: Path, market: Market
) -> None:
    risk = {"max_position_pct": 0.6, "max_concurrent_positions": 4}
    paths = scenario_files(tmp_path, EIGHT_SYMBOLS, risk=risk)

    async def session() -> list[tuple[float, float]]:
        harness = await stepped_bot(paths, market)
        books = []
        for _ in range(40):
            await harness.step()
            with market.exchange.synced():
                view = market.exchange.engine.account()
            books.append((view.long_market_value_cents / 100, view.equity_cents / 100))
        await harness.stop()
        return books

    books = asyncio.run(session())

    reasons = {r[0] for r in query(paths.db, "SELECT reason FROM refusals")}
    assert "max_leverage" in reasons
    assert "insufficient_buying_power" not in reasons  # the margin account would have lent
    assert all(long <= equity * 1.01 for long, equity in books)  # 1%: prices move after a fill


def test_a_wash_trade_refusal_is_recorded_with_alpacas_code_and_counts_toward_the_breaker(
    tmp_path: Path, market: Market
) -> None:
    # Someone else left a sell order open on every symbol: each entry of the bot is a
    # potential wash trade for Alpaca. (The bot's own orders never meet the rule.)
    paths = scenario_files(tmp_path, EIGHT_SYMBOLS, risk={"circuit_breaker_failures": 3})
    for symbol in EIGHT_SYMBOLS:
        market.limit_order_by_someone_else(symbol, OrderSide.SELL, limit_price=9_999)

    async def session() -> None:
        harness = await stepped_bot(paths, market)
        await harness.step_until(
            lambda: harness.bot.trader is not None and harness.bot.trader.breaker.tripped,
            "the breaker to trip",
        )
        await harness.stop()

    asyncio.run(session())

    rows = query(paths.db, "SELECT status, last_error FROM order_intents")
    assert len(rows) == 3 and {r[0] for r in rows} == {"rejected"}
    assert all(
        r[1]
        == "403 code=40310000: order refused: potential wash trade detected. use complex orders"
        for r in rows
    )
