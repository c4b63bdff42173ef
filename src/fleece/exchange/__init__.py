"""The built-in exchange: a simulated Alpaca (paper) served over HTTP on a loopback address.

The official alpaca-py clients talk to it unchanged (``url_override=``). Layers, innermost first:

- :mod:`~fleece.exchange.market`: bars indexed per symbol (no look-ahead lookups);
- :mod:`~fleece.exchange.engine` and :mod:`~fleece.exchange.ledger`: pure fill rules and the
  cash account, reusable without HTTP (the backtest fills exactly the same way);
- :mod:`~fleece.exchange.sim`: clock, lock, counters and :func:`build_exchange`;
- :mod:`~fleece.exchange.app`: the FastAPI app (trading, market data, ``/v1/sim`` admin);
- :mod:`~fleece.exchange.server`: :class:`ExchangeServer` (in-process) and the CLI command.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fleece.lazy_exports import lazy_getattr

if TYPE_CHECKING:
    from fleece.exchange.engine import Engine
    from fleece.exchange.ledger import AccountView, Ledger, PositionView
    from fleece.exchange.market import BarStore
    from fleece.exchange.orders import ExchangeError, OrderRequest, OrderStatus, SimOrder
    from fleece.exchange.server import ExchangeServer, exchange_command
    from fleece.exchange.sim import SimExchange, build_exchange

# Where each public name lives; loaded on first use so that ``fleece --help`` and the exchange
# command's argument checks do not wait for pandas and exchange-calendars.
_HOMES = {
    "AccountView": "ledger",
    "BarStore": "market",
    "Engine": "engine",
    "ExchangeError": "orders",
    "ExchangeServer": "server",
    "Ledger": "ledger",
    "OrderRequest": "orders",
    "OrderStatus": "orders",
    "PositionView": "ledger",
    "SimExchange": "sim",
    "SimOrder": "orders",
    "build_exchange": "sim",
    "exchange_command": "server",
}
__all__ = [
    "AccountView",
    "BarStore",
    "Engine",
    "ExchangeError",
    "ExchangeServer",
    "Ledger",
    "OrderRequest",
    "OrderStatus",
    "PositionView",
    "SimExchange",
    "SimOrder",
    "build_exchange",
    "exchange_command",
]


__getattr__ = lazy_getattr(__name__, _HOMES)
