"""Specification of the graceful shutdown's choices: it cancels and closes as configured.

The default (cancel open orders, close positions, during the session) is proved on a real
``fleece run`` process in ``test_runtime_processes.py``; here the real bot runs in this process
against a stepped exchange, and is stopped the way the first SIGTERM stops it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import OrderSide, TimeInForce
from alpaca.trading.requests import LimitOrderRequest, MarketOrderRequest
from runtime_helpers import (
    EIGHT_SYMBOLS,
    KEY,
    SECRET,
    Market,
    Paths,
    SteppedBot,
    config_from,
    ny,
    paper_env,
    stepped_market,
    synthetic,
    write_trading_yaml,
)


def another_client(market: Market) -> TradingClient:
    """Someone else using the same account (an operator, another tool)."""
    return TradingClient(KEY, SECRET, paper=True, url_override=market.url)


def buy(market: Market, symbol: str, qty: int) -> None:
    """A market buy on the account, outside the bot."""
    another_client(market).submit_order(
        MarketOrderRequest(
            symbol=symbol, qty=qty, side=OrderSide.BUY, time_in_force=TimeInForce.DAY
        )
    )


def rest_a_limit_order(market: Market) -> str:
    """A buy limit far below the market: it stays open. Returns its id."""
    order = another_client(market).submit_order(
        LimitOrderRequest(
            symbol="SPY", qty=1, side=OrderSide.BUY, time_in_force=TimeInForce.DAY, limit_price=1
        )
    )
    return str(order.id)


def start_then_stop(paths: Paths, market: Market, env: dict[str, str] | None = None) -> int:
    """Start the bot, let one minute pass, stop it gracefully; returns its exit code."""

    async def scenario() -> int:
        config = config_from(env or paper_env(paths, market.url))
        harness = await SteppedBot(config, market).start()
        await harness.step()
        return await harness.stop(keep_market_moving=False)

    return asyncio.run(scenario())


@pytest.fixture
def session_market() -> Iterator[Market]:
    """Eight symbols at 10:00 in the second session, standing still until stepped."""
    with stepped_market(synthetic(EIGHT_SYMBOLS), ny("10:00")) as served:
        yield served


def test_with_cancel_and_close_switched_off_orders_and_positions_are_left_alone(
    tmp_path: Path, session_market: Market
) -> None:
    paths = Paths(tmp_path)
    write_trading_yaml(
        paths.config,
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
    paths = Paths(tmp_path)
    write_trading_yaml(paths.config, EIGHT_SYMBOLS)
    with stepped_market(synthetic(EIGHT_SYMBOLS), ny("15:58")) as market:
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
