"""Specification of how a protective order (:class:`ExitOrder`) becomes an Alpaca order.

One mapping (:meth:`ExitOrder.order_body`) feeds both brokers: alpaca-py's request for Alpaca
and the built-in exchange, and the backtest's submission to the same engine.
"""

from __future__ import annotations

import pytest

from fleece.broker_requests import exit_request
from fleece.exchange.order_body import order_request
from fleece.exchange.orders import OrderClass, OrderType, TimeInForce
from fleece.models import ExitOrder, Side

OCO = ExitOrder("limit", "oco", stop_price=95.25, limit_price=105.5)
SHAPES = [
    ExitOrder("stop", stop_price=95.25),
    ExitOrder("limit", limit_price=105.5),
    ExitOrder("trailing_stop", trail_percent=2.5),
    OCO,
]


def test_an_oco_sends_its_limit_as_the_take_profit_leg_and_its_stop_as_the_stop_loss() -> None:
    body = OCO.order_body("cid-1", "SPY", Side.SELL, 10)

    assert body == {
        "symbol": "SPY",
        "qty": 10,
        "side": "sell",
        "type": "limit",
        "time_in_force": "gtc",
        "client_order_id": "cid-1",
        "order_class": "oco",
        "take_profit": {"limit_price": 105.5},
        "stop_loss": {"stop_price": 95.25},
    }


def test_a_simple_exit_carries_only_its_own_price_and_names_no_class() -> None:
    body = ExitOrder("trailing_stop", trail_percent=2.5).order_body("cid-1", "SPY", Side.SELL, 10)

    assert body["trail_percent"] == 2.5
    assert body["time_in_force"] == ExitOrder.TIME_IN_FORCE == "gtc"
    assert not {"order_class", "limit_price", "stop_price", "take_profit"} & body.keys()


def test_the_exchange_reads_an_oco_body_as_a_limit_at_the_take_profit_with_a_stop_loss_leg() -> (
    None
):
    request = order_request(OCO.order_body("cid-1", "SPY", Side.SELL, 10))

    assert (request.type, request.order_class, request.time_in_force) == (
        OrderType.LIMIT,
        OrderClass.OCO,
        TimeInForce.GTC,
    )
    assert request.limit_price == 105.5 and request.stop_price is None
    assert request.legs is not None
    assert (request.legs.take_profit, request.legs.stop_price) == (105.5, 95.25)


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: f"{s.type}-{s.order_class}")
def test_what_alpaca_py_sends_is_the_order_the_backtest_submits(shape: ExitOrder) -> None:
    # alpaca-py's wire fields, read by the exchange, against the body the backtest reads.
    sent = exit_request("cid-1", "SPY", Side.SELL, 10, shape).to_request_fields()

    assert order_request(sent) == order_request(shape.order_body("cid-1", "SPY", Side.SELL, 10))
