"""Specification of housekeeping in the running bot: a snapshot and a heartbeat every minute,
stale orders cancelled.

The real bot against a stepped exchange; the market moves as a live clock does, polls landing
a few milliseconds early or late around each minute.
"""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from alpaca.trading.enums import OrderSide, TimeInForce
from alpaca.trading.requests import MarketOrderRequest
from runtime_helpers import (
    FOUR_SYMBOLS,
    KEY,
    SECOND_DAY,
    SECRET,
    ny,
    query,
    scenario_files,
    served,
    stepped_bot,
    stepped_market,
    stepped_market_of,
    synthetic,
    without_trades,
)

from fleece.clock import ScaledClock
from fleece.exchange import SimExchange
from fleece.exchange.app import create_app
from fleece.models import OrderIntent, Side
from fleece.state_store import StateStore, parse_ts

JITTER = (timedelta(milliseconds=10), timedelta(milliseconds=-7))


def minutes_of(db: Path, table: str, since: datetime) -> list[datetime]:
    """The minute of every row of ``table`` (equity_curve, heartbeats) from ``since``."""
    rows = query(db, f"SELECT timestamp_utc FROM {table} ORDER BY timestamp_utc")
    stamps = (parse_ts(r[0]) for r in rows)
    return [t.replace(second=0, microsecond=0) for t in stamps if t >= since]


def test_equity_and_heartbeat_are_recorded_every_minute_even_when_polls_jitter(
    tmp_path: Path,
) -> None:
    paths = scenario_files(tmp_path, FOUR_SYMBOLS)

    async def scenario() -> None:
        with stepped_market_of(FOUR_SYMBOLS, ny("09:30")) as market:
            harness = await stepped_bot(paths, market)
            for minute in range(10):  # polls at :00.010, :59.993 (a minute later), ...
                await harness.tick(timedelta(minutes=1) + JITTER[minute % 2])
            await harness.stop(keep_market_moving=False)

    asyncio.run(scenario())

    every_minute = [ny("09:31") + timedelta(minutes=i) for i in range(10)]
    assert minutes_of(paths.db, "equity_curve", ny("09:31")) == every_minute
    assert minutes_of(paths.db, "heartbeats", ny("09:31")) == every_minute


class AccountDown:
    """ASGI layer: ``GET /v2/account`` is refused while ``down`` is set (the rest is served)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.down = True

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if not (self.down and scope["type"] == "http" and scope.get("path") == "/v2/account"):
            await self.app(scope, receive, send)
            return
        body = json.dumps({"code": 40310000, "message": "account unavailable"}).encode()
        headers = [(b"content-type", b"application/json")]
        await send({"type": "http.response.start", "status": 403, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def test_a_start_equity_the_open_could_not_read_is_recorded_once_the_account_answers(
    tmp_path: Path,
) -> None:
    paths = scenario_files(tmp_path, FOUR_SYMBOLS)
    exchange = SimExchange(synthetic(FOUR_SYMBOLS), clock=ScaledClock(ny("09:30"), 0.0), seed=11)
    layer = AccountDown(create_app(exchange, KEY, SECRET))

    async def scenario() -> float:
        with served(exchange, layer) as market:
            harness = await stepped_bot(paths, market)
            await harness.step(2)  # the session opens; its account cannot be read
            layer.down = False
            await harness.step(2)
            await harness.stop(keep_market_moving=False)
            return float(market.trading_client().get_account().last_equity)  # type: ignore[union-attr]

    last_equity = asyncio.run(scenario())

    with StateStore(paths.db) as store:
        assert store.start_equity(SECOND_DAY) == last_equity


def test_an_order_unfilled_past_stale_order_minutes_is_cancelled(tmp_path: Path) -> None:
    paths = scenario_files(tmp_path, FOUR_SYMBOLS, orders={"stale_order_minutes": 3})
    # No SPY trade between 09:31 and 10:30: an SPY order sent at 09:31 waits.
    bars = without_trades(synthetic(FOUR_SYMBOLS), "SPY", "09:31", "10:30")
    cid = "sma_crossover-SPY-buy-20241126T143000Z"

    async def scenario() -> list[str]:
        with stepped_market(bars, ny("09:31")) as market:
            # Left by an earlier run of the bot: its intent, and its order open at the exchange.
            paths.db.parent.mkdir(parents=True)
            intent = OrderIntent(cid, "sma_crossover", "SPY", Side.BUY, 3, ny("09:30"), ny("09:31"))
            with StateStore(paths.db) as store:
                store.add_intent(intent)
                store.mark_submit_attempt(cid, ny("09:31"))
            market.trading_client().submit_order(
                MarketOrderRequest(
                    symbol="SPY",
                    qty=3,
                    side=OrderSide.BUY,
                    time_in_force=TimeInForce.DAY,
                    client_order_id=cid,
                )
            )
            harness = await stepped_bot(paths, market)
            statuses = []
            for _ in range(5):
                await harness.step()
                statuses.append(next(o for o in market.orders() if o.client_order_id == cid).status)
            await harness.stop(keep_market_moving=False)
            return [s.value for s in statuses]

    statuses = asyncio.run(scenario())

    intent_status = query(
        paths.db, "SELECT status FROM order_intents WHERE client_order_id = ?", (cid,)
    )
    # Younger than 3 minutes at 09:32 and 09:33; older at 09:35 (cancelled on that minute's poll).
    assert statuses[:2] == ["new", "new"]
    assert statuses[-1] == "canceled"
    assert [r[0] for r in intent_status] == ["canceled"]
