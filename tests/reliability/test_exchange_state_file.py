"""Specification of the exchange's state file: a restart mid-session keeps everything.

A restarted exchange is built from the same arguments (same bars, same seed) and the file; it
must then answer exactly as the exchange that never stopped would have.
"""

from __future__ import annotations

import stat
from datetime import datetime
from pathlib import Path

import pytest
from reliability_helpers import KEY, SECRET, Served, serve, synthetic
from state_file_helpers import BARS, START, order, picture, restarted, trade_a_little

from fleece.clock import ScaledClock
from fleece.errors import ConfigError
from fleece.exchange import SimExchange
from fleece.exchange.state_file import StateFile


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


def test_without_a_file_the_exchange_starts_fresh(tmp_path: Path) -> None:
    server = restarted(tmp_path / "none-yet.state")
    assert not server.restored
    assert isinstance(server.exchange.clock.now(), datetime)
