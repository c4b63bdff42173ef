"""alpaca-py's request objects for the orders the bot sends besides plain market orders."""

from __future__ import annotations

from typing import Any

from alpaca.trading.enums import OrderClass, OrderSide, TimeInForce
from alpaca.trading.requests import (
    LimitOrderRequest,
    OrderRequest,
    StopLossRequest,
    StopOrderRequest,
    TakeProfitRequest,
    TrailingStopOrderRequest,
)

from fleece.models import ExitOrder, Side


def exit_request(
    client_order_id: str, symbol: str, side: Side, qty: int, shape: ExitOrder
) -> OrderRequest:
    """alpaca-py's request for a protective order of ``shape`` (:attr:`ExitOrder.TIME_IN_FORCE`)."""
    common: dict[str, Any] = {
        "symbol": symbol,
        "qty": qty,
        "side": OrderSide(side.value),
        "time_in_force": TimeInForce(shape.TIME_IN_FORCE),
        "client_order_id": client_order_id,
    }
    if shape.type == "trailing_stop":
        return TrailingStopOrderRequest(trail_percent=shape.trail_percent, **common)
    if shape.type == "stop":
        return StopOrderRequest(stop_price=shape.stop_price, **common)
    if shape.order_class == "oco":
        assert shape.limit_price is not None and shape.stop_price is not None
        return LimitOrderRequest(
            order_class=OrderClass.OCO,
            take_profit=TakeProfitRequest(limit_price=shape.limit_price),
            stop_loss=StopLossRequest(stop_price=shape.stop_price),
            **common,
        )
    return LimitOrderRequest(limit_price=shape.limit_price, **common)
