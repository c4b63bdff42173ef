"""Specification of how every Alpaca order status reads on the bot's side."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from fleece.exchange.orders import OrderStatus as ExchangeStatus
from fleece.intents import BROKER_STATUSES, broker_final
from fleece.models import BrokerOrder, Side
from fleece.order_terms import UNFINISHED, intent_status_for

SPEC = Path(__file__).resolve().parents[1].parent / "shared" / "alpaca-openapi" / "trading-api.json"
T0 = datetime(2024, 11, 26, 15, 0, tzinfo=UTC)
FINAL = {"filled", "canceled", "expired", "rejected", "replaced"}


def order(status: str, filled: int = 0) -> BrokerOrder:
    price = 100.0 if filled else None
    return BrokerOrder("id", "cid", "SPY", Side.BUY, 10, filled, price, status, T0, T0, None)


@pytest.mark.parametrize("status", sorted(BROKER_STATUSES - FINAL))
def test_every_status_that_is_not_final_keeps_the_intent_open(status: str) -> None:
    assert broker_final(status) is False
    assert intent_status_for(order(status)) in UNFINISHED


@pytest.mark.parametrize("status", sorted(FINAL))
def test_the_final_statuses_end_the_intent(status: str) -> None:
    assert broker_final(status) is True
    assert intent_status_for(order(status)) not in UNFINISHED


def test_done_for_day_is_not_final_and_with_a_fill_reads_partially_filled() -> None:
    assert intent_status_for(order("done_for_day")) == "accepted"
    assert intent_status_for(order("done_for_day", filled=4)) == "partially_filled"


def test_an_unknown_status_keeps_the_intent_open() -> None:
    assert intent_status_for(order("teleported")) in UNFINISHED


def test_every_status_alpacas_spec_names_is_known_and_read_as_final_or_not() -> None:
    spec = json.loads(SPEC.read_text())
    alpaca = set(spec["components"]["schemas"]["OrderStatus"]["enum"])

    assert alpaca <= BROKER_STATUSES
    assert {s for s in alpaca if broker_final(s)} == FINAL


def test_the_exchange_keeps_an_order_open_exactly_while_the_bot_reads_it_as_not_final() -> None:
    # One table of Alpaca's statuses: the exchange's open listing and cancels follow it too.
    open_at_exchange = {s.value for s in ExchangeStatus if s.is_open}

    assert {s.value for s in ExchangeStatus} <= BROKER_STATUSES
    assert open_at_exchange == {s.value for s in ExchangeStatus if not broker_final(s)}
    assert open_at_exchange == {"held", "accepted", "pending_new", "new", "partially_filled"}
