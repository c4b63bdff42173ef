"""Specification of how every Alpaca order status reads on the bot's side."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from fleece.models import KNOWN_STATUSES, BrokerOrder, Side
from fleece.order_terms import UNFINISHED, intent_status_for

T0 = datetime(2024, 11, 26, 15, 0, tzinfo=UTC)
FINAL = {"filled", "canceled", "expired", "rejected", "replaced"}


def order(status: str, filled: int = 0) -> BrokerOrder:
    price = 100.0 if filled else None
    return BrokerOrder("id", "cid", "SPY", Side.BUY, 10, filled, price, status, T0, T0, None)


@pytest.mark.parametrize("status", sorted(KNOWN_STATUSES - FINAL))
def test_every_status_that_is_not_final_keeps_the_intent_open(status: str) -> None:
    assert order(status).is_final is False
    assert intent_status_for(order(status)) in UNFINISHED


@pytest.mark.parametrize("status", sorted(FINAL))
def test_the_final_statuses_end_the_intent(status: str) -> None:
    assert order(status).is_final is True
    assert intent_status_for(order(status)) not in UNFINISHED


def test_done_for_day_is_not_final_and_with_a_fill_reads_partially_filled() -> None:
    assert intent_status_for(order("done_for_day")) == "accepted"
    assert intent_status_for(order("done_for_day", filled=4)) == "partially_filled"


def test_an_unknown_status_keeps_the_intent_open() -> None:
    assert intent_status_for(order("teleported")) in UNFINISHED
