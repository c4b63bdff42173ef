"""Specification of the exchange's state file: a restart mid-session keeps everything.

A restarted exchange is built from the same arguments (same bars, same seed) and the file; it
must then answer exactly as the exchange that never stopped would have.
"""

from __future__ import annotations

import os
import pickle
import stat
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from reliability_helpers import EIGHT_SYMBOLS, KEY, SECRET, Served, ny, serve, synthetic

from fleece.clock import ScaledClock
from fleece.errors import ConfigError
from fleece.exchange import ExchangeServer, SimExchange
from fleece.exchange.state_file import StateFile

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
    exchange = SimExchange(BARS, clock=ScaledClock(START, 0.0), seed=11)
    return ExchangeServer(exchange, KEY, SECRET, state_path=path)


def test_a_restarted_exchange_answers_exactly_as_before_it_stopped(tmp_path: Path) -> None:
    state = tmp_path / "exchange.state"
    with serve(BARS, START, state_path=state) as market:
        trade_a_little(market)
        before = picture(market)

    with restarted(state) as server:
        after = picture(Served(server.exchange, server, server.url))

    assert server.restored
    assert after == before


def test_a_restarted_exchange_goes_on_as_if_it_had_never_stopped(tmp_path: Path) -> None:
    state = tmp_path / "exchange.state"
    with serve(BARS, START) as control:
        trade_a_little(control)
        with control.http() as http:
            http.post("/v2/orders", json=order("after", "NVDA", qty=2)).raise_for_status()
        control.advance(30)
        expected = picture(control)

    with serve(BARS, START, state_path=state) as market:
        trade_a_little(market)
    with restarted(state) as server:
        again = Served(server.exchange, server, server.url)
        with again.http() as http:
            http.post("/v2/orders", json=order("after", "NVDA", qty=2)).raise_for_status()
        again.advance(30)
        actual = picture(again)

    assert actual == expected  # same ids, fills, cash: the engine picks up where it was


def test_an_answered_order_survives_a_kill_of_the_exchange(tmp_path: Path) -> None:
    state = tmp_path / "exchange.state"
    with serve(BARS, START, state_path=state) as market:
        market.advance(0.5)
        with market.http() as http:
            placed = http.post("/v2/orders", json=order("survivor")).json()
        # Killed now: no shutdown save. What the file holds was written before the answer.
        survivor = restarted(state)

    with survivor:
        orders = list(survivor.exchange.engine.orders())
    assert [(o.id, o.client_order_id) for o in orders] == [(placed["id"], "survivor")]


def test_the_clock_resumes_where_it_stopped(tmp_path: Path) -> None:
    state = tmp_path / "exchange.state"
    with serve(BARS, START, state_path=state) as market:
        stopped_at = market.advance(42)
    with restarted(state) as server:
        assert server.exchange.clock.now() == stopped_at


def test_the_state_file_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    state = tmp_path / "exchange.state"
    with serve(BARS, START, state_path=state) as market:
        market.advance(1)
    assert stat.S_IMODE(state.stat().st_mode) == 0o600


def test_the_state_file_holds_no_key(tmp_path: Path) -> None:
    state = tmp_path / "exchange.state"
    with serve(BARS, START, state_path=state) as market:
        trade_a_little(market)
    assert KEY.encode() not in state.read_bytes()
    assert SECRET.encode() not in state.read_bytes()


def test_a_state_file_of_another_market_is_refused_in_one_line(tmp_path: Path) -> None:
    state = tmp_path / "exchange.state"
    with serve(BARS, START, state_path=state) as market:
        market.advance(1)
    other = SimExchange(synthetic(("SPY",)), clock=ScaledClock(START, 0.0), seed=11)
    with pytest.raises(ConfigError, match="different market") as refused:
        StateFile(state, other).load()
    assert "\n" not in str(refused.value)


class _Boom:
    def __reduce__(self) -> tuple[Any, ...]:
        return (os.system, ("echo pwned > " + str(Path.cwd() / "pwned"),))


def test_a_tampered_state_file_cannot_run_code(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.chdir(tmp_path)
    state = tmp_path / "exchange.state"
    state.write_bytes(pickle.dumps({"version": 1, "engine": _Boom()}))
    exchange = SimExchange(BARS, clock=ScaledClock(START, 0.0), seed=11)
    with pytest.raises(ConfigError, match="not allowed"):
        StateFile(state, exchange).load()
    assert not (tmp_path / "pwned").exists()


def test_a_truncated_state_file_is_one_clear_error(tmp_path: Path) -> None:
    state = tmp_path / "exchange.state"
    with serve(BARS, START, state_path=state) as market:
        market.advance(1)
    state.write_bytes(state.read_bytes()[:100])
    exchange = SimExchange(BARS, clock=ScaledClock(START, 0.0), seed=11)
    with pytest.raises(ConfigError, match="unreadable state file"):
        StateFile(state, exchange).load()


def test_without_a_file_the_exchange_starts_fresh(tmp_path: Path) -> None:
    server = restarted(tmp_path / "none-yet.state")
    assert not server.restored
    assert isinstance(server.exchange.clock.now(), datetime)
