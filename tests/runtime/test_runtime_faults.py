"""Specification of ambiguous order submissions: never re-sent, looked up by client_order_id.

The exchange is served behind a small ASGI layer that loses the answer to an order submission
(the order may or may not have reached the exchange, as when a gateway times out), or that lets
the submission reach the exchange only after the bot has looked for it (a request still queued
when its client gave up). The bot cannot know which; it must look the order up by
client_order_id, never send it again, and adopt it whenever it turns up.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from runtime_helpers import (
    EIGHT_SYMBOLS,
    KEY,
    SECRET,
    Market,
    Paths,
    SteppedBot,
    exchange_fills,
    ny,
    query,
    served,
    stepped_bot,
    stored_fills,
    synthetic,
    until,
)

from fleece.clock import ScaledClock
from fleece.exchange import SimExchange
from fleece.exchange.app import create_app
from fleece.state_store import StateStore

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]


class LoseOrderAnswers:
    """ASGI layer: the first ``times`` order submissions get ``status`` instead of the answer.

    With ``reach_exchange`` the submission is processed by the exchange first (the order
    exists); without it the request is dropped on the way in (the order never existed).
    """

    def __init__(self, app: App, *, times: int, status: int, reach_exchange: bool) -> None:
        self.app = app
        self.left = times
        self.status = status
        self.reach_exchange = reach_exchange

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        is_order = scope.get("method") == "POST" and scope.get("path") == "/v2/orders"
        if scope["type"] != "http" or not is_order or self.left == 0:
            await self.app(scope, receive, send)
            return
        self.left -= 1
        if self.reach_exchange:

            async def lost(message: Message) -> None:
                return None

            await self.app(scope, receive, lost)
        body = json.dumps({"code": self.status * 100_000, "message": "upstream lost"}).encode()
        headers = [(b"content-type", b"application/json")]
        await send({"type": "http.response.start", "status": self.status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


class OrderArrivesLate:
    """ASGI layer: the first order submission is held until the bot, whose request timed out
    meanwhile, has looked the order up by client_order_id (and found nothing); then it reaches
    the exchange, which accepts it. ``cid`` is that order's client_order_id, ``arrived`` is set
    once the exchange has it."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.cid = ""
        self.arrived = threading.Event()
        self._looked_up: asyncio.Event | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        is_order = scope.get("method") == "POST" and scope.get("path") == "/v2/orders"
        if scope["type"] != "http" or not (is_order and not self.cid):
            await self.app(scope, receive, send)
            if scope.get("path") == "/v2/orders:by_client_order_id" and self._looked_up:
                self._looked_up.set()
            return
        self._looked_up = asyncio.Event()
        message = await receive()
        self.cid = json.loads(message.get("body", b"{}"))["client_order_id"]
        await self._looked_up.wait()  # an event, not a delay: the lookup has been answered

        async def replayed() -> Message:
            nonlocal message
            first, message = message, {"type": "http.disconnect"}
            return first

        await self.app(scope, replayed, send)  # nobody reads this answer any more
        self.arrived.set()


def stepped_exchange() -> SimExchange:
    """Eight symbols at the second session's open, standing still until stepped."""
    return SimExchange(synthetic(EIGHT_SYMBOLS), clock=ScaledClock(ny("09:30"), 0.0), seed=11)


@contextmanager
def faulty_market(*, status: int, reach_exchange: bool) -> Iterator[Market]:
    """A stepped exchange losing one order answer."""
    exchange = stepped_exchange()
    app = LoseOrderAnswers(
        create_app(exchange, KEY, SECRET), times=1, status=status, reach_exchange=reach_exchange
    )
    with served(exchange, app) as market:
        yield market


def trade_until_an_order_is_lost(paths: Paths, market: Market) -> SteppedBot:
    """Run the bot until its first order submission has been answered with a lost reply."""

    async def scenario() -> SteppedBot:
        harness = await stepped_bot(paths, market)
        await harness.step_until(lambda: bool(market.requests("POST /v2/orders")), "an order")
        await harness.step(3)
        await harness.stop()
        return harness

    return asyncio.run(scenario())


def first_intent(db: Path) -> tuple[str, str, int]:
    """(client_order_id, status, submit_attempts) of the first intent written."""
    row = query(
        db,
        "SELECT client_order_id, status, submit_attempts FROM order_intents"
        " ORDER BY created_at_utc, client_order_id LIMIT 1",
    )[0]
    return row[0], row[1], int(row[2])


def test_an_order_whose_answer_was_lost_is_adopted_by_client_order_id_not_resent(
    paths: Paths,
) -> None:
    with faulty_market(status=504, reach_exchange=True) as market:
        harness = trade_until_an_order_is_lost(paths, market)
        orders, submissions = market.orders(), market.submissions()

    cid, status, attempts = first_intent(paths.db)
    lookups = harness.bot.broker.requests["get_order_by_client_id"] if harness.bot.broker else 0
    assert submissions[cid] == 1 and attempts == 1
    assert status == "filled"  # adopted: the exchange had it, and it filled
    assert lookups >= 1
    assert set(submissions.values()) == {1}
    assert stored_fills(paths.db) == exchange_fills(orders)
    with StateStore(paths.db) as store:
        assert store.breaker() == (False, 0)  # the order did not fail


def test_an_order_lost_on_its_way_in_is_marked_failed_after_the_lookup_and_not_resent(
    paths: Paths,
) -> None:
    with faulty_market(status=502, reach_exchange=False) as market:
        trade_until_an_order_is_lost(paths, market)
        orders, submissions = market.orders(), market.submissions()

    cid, status, attempts = first_intent(paths.db)
    error = query(
        paths.db, "SELECT last_error FROM order_intents WHERE client_order_id = ?", (cid,)
    )
    assert cid not in submissions and attempts == 1
    assert cid not in {o.client_order_id for o in orders}
    assert status == "failed" and "not at broker" in error[0][0]
    assert set(submissions.values()) == {1}
    assert stored_fills(paths.db) == exchange_fills(orders)


def test_an_order_reaching_the_exchange_after_its_lookup_is_adopted_with_its_fill(
    paths: Paths,
) -> None:
    exchange = stepped_exchange()
    late = OrderArrivesLate(create_app(exchange, KEY, SECRET))
    with served(exchange, late) as market:

        async def scenario() -> None:
            harness = await stepped_bot(paths, market, ALPACA_TIMEOUT_SECONDS="1")
            await harness.step_until(lambda: bool(late.cid), "an order sent")
            await until(late.arrived.is_set, "the order to reach the exchange after its lookup")
            await harness.step(3)
            await harness.stop()

        asyncio.run(scenario())
        orders, submissions = market.orders(), market.submissions()

    status = query(
        paths.db, "SELECT status FROM order_intents WHERE client_order_id = ?", (late.cid,)
    )[0][0]
    assert submissions[late.cid] == 1  # looked up, never sent again
    assert [o.status.value for o in orders if o.client_order_id == late.cid] == ["filled"]
    assert status == "filled"  # adopted when it turned up, not left failed
    assert stored_fills(paths.db) == exchange_fills(orders)  # its fill is in trades
    with StateStore(paths.db) as store:
        assert store.breaker() == (False, 0)  # the order did not fail
