"""Specification of order submissions refused with 429: the bot waits for the reset, checks that
the broker does not have the order, sends it again, and no order is lost or doubled.

The exchange's fault layer answers a seeded share of the order submissions with 429 (carrying
the ``X-RateLimit-*`` headers like every answer); nothing else is faulted.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from reliability_helpers import (
    EIGHT_SYMBOLS,
    SteppedBot,
    intents,
    ny,
    scenario,
    serve,
    stepped_bot,
    synthetic,
    verdict,
)

from fleece.exchange.fault_plan import FaultPlan

LIMITED_ORDERS = FaultPlan(rate=0.0, order_rate=0.25, seed=5, kinds=frozenset({"429"}))


def test_orders_refused_with_429_are_sent_once_after_the_reset_and_none_is_lost(
    tmp_path: Path,
) -> None:
    paths = scenario(tmp_path, EIGHT_SYMBOLS)
    with serve(synthetic(EIGHT_SYMBOLS), ny("09:30"), plan=LIMITED_ORDERS) as market:

        async def session() -> SteppedBot:
            harness = await stepped_bot(paths, market)
            await harness.step(30)
            await harness.stop()
            return harness

        harness = asyncio.run(session())
        counts = market.counts()
        market.faults.configure(FaultPlan())
        found = verdict(paths.db, market.orders(), market.positions(), market.counts())

    assert harness.bot.broker is not None
    budget = harness.bot.broker.budgets["trading"]
    assert counts["injected"].get("429", 0) >= 3
    assert budget.rate_limited >= 3 and budget.waits >= 3  # each 429: a wait for the reset
    assert found.duplicates == 0 and found.fills_lost == 0
    assert found.unmatched_intents == [] and found.unmatched_orders == []
    assert found.intents >= 5
    assert set(intents(paths.db).values()) <= {"filled", "canceled", "expired"}
