"""The built-in exchange: a simulated Alpaca (paper) served over HTTP on a loopback address.

The official alpaca-py clients talk to it unchanged (``url_override=``). Layers, innermost first:

- :mod:`~fleece.exchange.market`: bars indexed per symbol (no look-ahead lookups);
- :mod:`~fleece.exchange.engine` and :mod:`~fleece.exchange.ledger`: pure fill rules and the
  cash account, reusable without HTTP (the backtest fills exactly the same way);
- :mod:`~fleece.exchange.sim`: clock, lock, counters and :func:`build_exchange`;
- :mod:`~fleece.exchange.app`: the FastAPI app (trading, market data, ``/v1/sim`` admin);
- :mod:`~fleece.exchange.server`: :class:`ExchangeServer` (in-process) and the CLI command.
"""

from fleece.exchange.engine import Engine
from fleece.exchange.ledger import AccountView, Ledger, PositionView
from fleece.exchange.market import BarStore
from fleece.exchange.orders import ExchangeError, OrderRequest, OrderStatus, SimOrder
from fleece.exchange.server import ExchangeServer, exchange_command
from fleece.exchange.sim import SimExchange, build_exchange

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
