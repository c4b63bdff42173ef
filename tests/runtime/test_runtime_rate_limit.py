"""Specification of the bot under Alpaca's rate limit: it reads its budget from the
``X-RateLimit-*`` headers, waits for the reset after a 429, and loses no order.

The exchange answers every request with the headers and refuses requests beyond its limit with
429 (another client of the account can spend the window: the test does that through the
exchange's limiter). Time is the exchange's simulated clock, which the tests move.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from runtime_helpers import (
    EIGHT_SYMBOLS,
    Market,
    Paths,
    SteppedBot,
    exchange_fills,
    ny,
    query,
    stepped_bot,
    stepped_market,
    stored_fills,
    synthetic,
)

from fleece.broker import Broker
from fleece.models import ENTRY_TIME_IN_FORCE, Side

BARS = synthetic(EIGHT_SYMBOLS)


class MarketClock:
    """The bot's clock for an adapter on its own: the market's time; waiting moves the market."""

    def __init__(self, market: Market) -> None:
        self.market = market
        self.waited_until: list[datetime] = []

    def now(self) -> datetime:
        return self.market.now()

    async def wait_until(self, target: datetime) -> None:
        self.waited_until.append(target)
        self.market.advance((target - self.market.now()) / timedelta(minutes=1))


def adapter(market: Market, clock: MarketClock) -> Broker:
    """The bot's broker adapter over the market, waiting by the market's clock."""
    return market.broker(now=clock.now, wait_until=clock.wait_until)


def next_minute(market: Market) -> datetime:
    return market.now().replace(second=0, microsecond=0) + timedelta(minutes=1)


def test_an_order_refused_with_429_is_sent_again_after_the_reset_once_and_only_once() -> None:
    with stepped_market(BARS, ny("10:00") + timedelta(seconds=20)) as market:
        clock = MarketClock(market)
        broker = adapter(market, clock)
        asyncio.run(broker.account())  # the budget now knows the window
        market.exchange.limiter.exhaust("trading")  # another client spends the window

        order = asyncio.run(broker.submit_market("rl-1", "SPY", Side.BUY, 3, ENTRY_TIME_IN_FORCE))
        refused = market.exchange.state()["rate_limited"]
        submissions = market.submissions()

    assert clock.waited_until == [ny("10:01")]  # X-RateLimit-Reset: the window's end
    assert order.client_order_id == "rl-1"
    assert refused == {"trading": 1}
    assert submissions == {"rl-1": 1}  # the refused attempt never reached the exchange
    assert broker.requests["submit_order"] == 2
    assert broker.requests["get_order_by_client_id"] == 1  # looked up before sending again


def test_reads_wait_for_the_reset_when_the_headers_say_the_window_is_spent() -> None:
    with stepped_market(BARS, ny("10:00") + timedelta(seconds=20), rate_limit=10) as market:
        clock = MarketClock(market)
        broker = adapter(market, clock)
        for _ in range(10):
            asyncio.run(broker.account())  # the last answer says Remaining: 0
        refused_before = market.exchange.state()["rate_limited"]

        asyncio.run(broker.account())
        refused_after = market.exchange.state()["rate_limited"]

    assert clock.waited_until[0] == ny("10:01")
    assert refused_before == refused_after == {}  # it waited instead of meeting a 429


def test_a_bot_whose_window_another_client_spent_waits_for_the_reset_and_loses_no_order(
    paths: Paths, market: Market
) -> None:
    # The headers of its first answer in a spent window tell the bot: it waits for the reset
    # rather than meeting a 429 (a 429 on an order is in tests/reliability/test_rate_limits.py).
    async def session() -> SteppedBot:
        harness = await stepped_bot(paths, market)
        for _ in range(20):  # the busy first minutes: each window spent by someone else
            market.exchange.limiter.exhaust("trading", at=next_minute(market))
            await harness.step()
        await harness.step(10)
        await harness.stop()
        return harness

    harness = asyncio.run(session())
    refused = market.exchange.state()["rate_limited"]
    submissions = market.submissions()
    orders = market.orders()
    minutes = (market.now() - ny("09:30")) / timedelta(minutes=1)

    assert harness.bot.broker is not None
    budget = harness.bot.broker.budgets["trading"]
    statuses = {r[0] for r in query(paths.db, "SELECT status FROM order_intents")}
    assert minutes > 30  # the spent windows cost the bot market minutes
    assert budget.waits >= 10  # one wait for each spent window, at least
    assert refused.get("trading", 0) <= 1  # at most one request before it knew
    assert len(submissions) >= 5, "the bot traded"
    assert set(submissions.values()) == {1}  # no order sent twice
    assert statuses <= {"filled", "canceled", "expired"}  # none lost to a 429
    assert stored_fills(paths.db) == exchange_fills(orders)
