"""alpaca-py's request objects for the orders the bot sends besides plain market orders."""

from __future__ import annotations

from alpaca.trading.requests import (
    LimitOrderRequest,
    OrderRequest,
    StopOrderRequest,
    TrailingStopOrderRequest,
)

from fleece.models import ExitOrder, Side

# alpaca-py has one request class per order type; each sets ``type`` itself.
_REQUESTS: dict[str, type[OrderRequest]] = {
    "limit": LimitOrderRequest,
    "stop": StopOrderRequest,
    "trailing_stop": TrailingStopOrderRequest,
}


def exit_request(
    client_order_id: str, symbol: str, side: Side, qty: int, shape: ExitOrder
) -> OrderRequest:
    """alpaca-py's request for a protective order of ``shape``: its
    :meth:`~fleece.models.ExitOrder.order_body`, read by alpaca-py's validated models (an OCO's
    legs become its ``TakeProfitRequest`` and ``StopLossRequest``)."""
    return _REQUESTS[shape.type](**shape.order_body(client_order_id, symbol, side, qty))
