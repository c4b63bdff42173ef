"""Specification of the trading limits in a real run: max_trades_per_day, max_concurrent_positions.

One run of the real bot against a stepped exchange (eight symbols, the first half hour of a
session), shared by the tests; what was sent is read from the exchange.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from runtime_helpers import (
    EIGHT_SYMBOLS,
    ny,
    paper_config,
    query,
    run_stepped,
    scenario_files,
    stepped_market_of,
)

from fleece.exchange.orders import SimOrder

MAX_TRADES = 5
MAX_POSITIONS = 1


@dataclass(frozen=True)
class Run:
    """What the run left: the exchange's orders (in submission order) and refusal counts."""

    orders: list[SimOrder]
    refusals: dict[str, int]


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    """Half an hour of trading with at most 5 orders a day and 1 position at a time."""
    limits = {"max_trades_per_day": MAX_TRADES, "max_concurrent_positions": MAX_POSITIONS}
    paths = scenario_files(tmp_path_factory.mktemp("limits"), EIGHT_SYMBOLS, risk=limits)
    with stepped_market_of(EIGHT_SYMBOLS, ny("09:30")) as market:
        asyncio.run(run_stepped(paper_config(paths, market), market, 30))
        orders = market.orders()
    rows = query(paths.db, "SELECT reason, COUNT(*) FROM refusals GROUP BY reason")
    yield Run([o for o in orders if not o.client_order_id.startswith("shutdown-")], dict(rows))


def test_entries_stop_once_max_trades_per_day_orders_were_sent(limited: Run) -> None:
    entries_after_limit = [
        o for i, o in enumerate(limited.orders) if i >= MAX_TRADES and o.side.value == "buy"
    ]

    assert len(limited.orders) >= MAX_TRADES
    assert entries_after_limit == []
    assert limited.refusals.get("max_trades_per_day", 0) > 0


def test_an_exit_is_still_sent_after_the_trade_limit(limited: Run) -> None:
    after_limit = [o.side.value for o in limited.orders[MAX_TRADES:]]

    assert after_limit and set(after_limit) == {"sell"}


def test_no_entry_is_sent_while_max_concurrent_positions_are_held(limited: Run) -> None:
    held: Counter[str] = Counter()
    most = 0
    for order in limited.orders:  # market orders fill on arrival here, in this order
        held[order.symbol] += order.filled_qty if order.side.value == "buy" else -order.filled_qty
        most = max(most, sum(1 for qty in held.values() if qty > 0))

    assert most == MAX_POSITIONS
    assert limited.refusals.get("max_concurrent_positions", 0) > 0
