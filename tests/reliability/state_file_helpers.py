"""Builders shared by the state-file specifications: a little trading, a restart, a saved file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from reliability_helpers import EIGHT_SYMBOLS, KEY, SECRET, Served, ny, serve, synthetic

from fleece.clock import ScaledClock
from fleece.exchange import ExchangeServer, SimExchange

BARS = synthetic(EIGHT_SYMBOLS)
START = ny("09:30")


def order(cid: str, symbol: str = "AAPL", side: str = "buy", qty: int = 10) -> dict[str, str]:
    return {
        "symbol": symbol,
        "qty": str(qty),
        "side": side,
        "type": "market",
        "time_in_force": "day",
        "client_order_id": cid,
    }


def trade_a_little(market: Served) -> None:
    """Buy, sell, leave a limit order resting, and move through a few minutes."""
    with market.http() as http:
        market.advance(0.5)
        http.post("/v2/orders", json=order("buy-aapl")).raise_for_status()
        http.post("/v2/orders", json=order("buy-spy", "SPY", qty=3)).raise_for_status()
        market.advance(3)
        http.post("/v2/orders", json=order("sell-aapl", side="sell", qty=4)).raise_for_status()
        resting = {**order("resting", "MSFT", qty=1), "type": "limit", "limit_price": "1"}
        http.post("/v2/orders", json=resting).raise_for_status()
        market.advance(2)


def picture(market: Served) -> dict[str, Any]:
    """Everything a client can see, plus the exchange's own counters."""
    with market.http() as http:
        seen = {
            route: http.get(route, params=params).json()
            for route, params in (
                ("/v2/account", {}),
                ("/v2/positions", {}),
                ("/v2/orders", {"status": "all", "direction": "asc"}),
                ("/v2/clock", {}),
            )
        }
    state = market.exchange.state()
    seen["submissions"] = state["client_order_id_submissions"]
    seen["orders_submitted"] = state["orders_submitted"]
    seen["attempts"] = market.counts()["order_attempts"]
    return seen


def restarted(path: Path) -> ExchangeServer:
    """A new exchange over the same bars, restored from ``path`` (not yet serving)."""
    return ExchangeServer(fresh_exchange(), KEY, SECRET, state_path=path)


def fresh_exchange() -> SimExchange:
    """The exchange a restart builds from the same arguments, before its file is read."""
    return SimExchange(BARS, clock=ScaledClock(START, 0.0), seed=11)


def saved_state(folder: Path) -> Path:
    """A genuine state file, written by an exchange that traded a little."""
    state = folder / "exchange.state"
    with serve(BARS, START, state_path=state) as market:
        trade_a_little(market)
    return state
