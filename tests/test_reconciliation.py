"""Specification of reconciliation's position check: the broker against the bot's own shares.

"Own" is :mod:`fleece.ownership`'s rule (the bot's fills, in time order, never below zero),
the same figure the runtime adopts at start-up, so a reported mismatch says what the bot trades
with afterwards.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fleece.models import Fill, Side
from fleece.ownership import own_net, owned
from fleece.reconciliation import position_mismatches

T0 = datetime(2024, 11, 26, 15, 0, tzinfo=UTC)


def fill(symbol: str, side: Side, qty: int, minute: int) -> Fill:
    return Fill(
        f"cid-{minute}", f"id-{minute}", symbol, side, qty, 100.0, T0 + timedelta(minutes=minute)
    )


def test_a_close_out_of_every_position_leaves_no_mismatch_at_the_next_start() -> None:
    # Arrange: shutdown.close_positions=all sold 100 SPY shares someone bought by hand; the
    # bot's fills hold that sell and no buy. The account holds no SPY any more.
    fills = [fill("SPY", Side.SELL, 100, 1)]

    # Act
    found = position_mismatches(own_net(fills), {})

    # Assert: the bot owned none before and none after (the old sum of signed fills said
    # store=-100 and reported a mismatch at every start from then on).
    assert found == []


def test_shares_the_bot_did_not_buy_are_reported_and_left_alone() -> None:
    own = own_net([fill("SPY", Side.BUY, 5, 1), fill("SPY", Side.SELL, 5, 2)])

    (mismatch,) = position_mismatches(own, {"SPY": 10})

    assert (mismatch.symbol, mismatch.broker, mismatch.own, mismatch.kept) == ("SPY", 10, 0, 0)
    # Not "broker adopted": the bot never trades shares it did not buy.
    assert mismatch.detail() == "broker=10 store=0 (the bot owns 0)"


def test_a_position_that_shrank_outside_the_bot_is_owned_as_far_as_it_still_exists() -> None:
    own = own_net([fill("AAPL", Side.BUY, 10, 1)])
    broker = {"AAPL": 4, "MSFT": -3}

    found = position_mismatches(own, broker)

    assert [m.detail() for m in found] == [
        "broker=4 store=10 (the bot owns 4)",
        "broker=-3 store=0 (the bot owns 0)",
    ]
    # What each mismatch says the bot owns is what the runtime adopts (fleece.ownership.owned).
    assert {m.symbol: m.kept for m in found if m.kept} == owned(own, broker)
