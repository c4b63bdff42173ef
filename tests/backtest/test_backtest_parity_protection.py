"""The backtest trades as the bot trades, protective exits included.

The parity specification (test_backtest_parity.py) again, with ``risk.stop_loss_pct`` and
``risk.take_profit_pct`` set, once held at the exchange (``orders.protective: broker``: OCO orders
filled by the exchange's own stop and limit rules) and once watched by the bot (``bot``: market
exits): the same sparse bars through the real bot on a stepped exchange and through
``fleece backtest``'s path. Every order (protective ones included), every fill and every
stop-out or take-profit must be the same.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "runtime"))

from runtime_helpers import EIGHT_SYMBOLS, FIRST_DAY, Paths, query, sparse, write_trading_yaml
from test_backtest_parity import START, bot_run

from fleece.backtest.cli import backtest_config
from fleece.backtest.data import market_from_bars
from fleece.backtest.runner import BacktestResult, run_backtest
from fleece.config import load_trading_config
from fleece.data.synthetic import generate_bars
from fleece.protection import fill_reason, is_protective
from fleece.state_store import parse_ts

LEVELS = {"stop_loss_pct": 0.002, "take_profit_pct": 0.003}
STRATEGY = {"fast": 5, "medium": 20, "slow": 40}
RISK = {"max_position_pct": 0.2, "max_concurrent_positions": 4, **LEVELS}
SHUTDOWN = {"cancel_open_orders": False, "close_positions": False}
FINAL = ("filled", "canceled", "expired", "rejected", "failed")


@dataclass(frozen=True)
class Both:
    db: Path
    last_decision: datetime
    backtest: BacktestResult


@pytest.fixture(scope="module", params=["broker", "bot"])
def both(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Both]:
    paths = Paths(tmp_path_factory.mktemp(f"parity-{request.param}"))
    write_trading_yaml(
        paths.config,
        EIGHT_SYMBOLS,
        risk=RISK,
        strategy=STRATEGY,
        shutdown=SHUTDOWN,
        orders={"protective": request.param},
    )
    bars = sparse(generate_bars(EIGHT_SYMBOLS, FIRST_DAY, 3, 7))
    last = bot_run(paths, bars)
    trading = load_trading_config(paths.config)
    on_the_minute = replace(backtest_config(trading, 100_000.0, 0.0, "fast"), poll_offset_seconds=0)
    result = run_backtest(market_from_bars(bars), on_the_minute, start_at=START)
    yield Both(paths.db, last, result)


def test_the_bot_and_the_backtest_send_the_same_orders_protective_ones_included(
    both: Both,
) -> None:
    rows = query(
        both.db,
        "SELECT client_order_id, strategy, symbol, side, qty, status, created_at_utc"
        " FROM order_intents ORDER BY client_order_id",
    )
    bot = [(r[0], r[1], r[2], r[3], r[4]) for r in rows]
    backtest = sorted(
        (i.client_order_id, i.strategy, i.symbol, i.side.value, i.qty)
        for i in both.backtest.intents
        if i.created_at <= both.last_decision
    )
    ended = {r[0]: r[5] for r in rows if r[5] in FINAL}
    backtest_ended = {
        i.client_order_id: i.status.value
        for i in both.backtest.intents
        if i.client_order_id in ended
    }

    assert len(bot) >= 15
    assert {strategy for _, strategy, *_ in bot} > {"sma_crossover"}  # exits of both kinds
    assert bot == backtest
    assert ended == backtest_ended


def test_the_bot_and_the_backtest_get_the_same_fills_stop_outs_and_take_profits(
    both: Both,
) -> None:
    rows = query(
        both.db,
        "SELECT t.timestamp_utc, t.client_order_id, t.symbol, t.side, t.qty, t.price,"
        " i.strategy, i.broker_order_id, t.broker_order_id FROM trades t"
        " JOIN order_intents i USING (client_order_id) ORDER BY t.timestamp_utc, t.client_order_id",
    )
    bot = [
        (parse_ts(r[0]), r[1], r[2], r[3], r[4], r[5], fill_reason(r[6], r[7], r[8])) for r in rows
    ]
    intents = {i.client_order_id: i for i in both.backtest.intents}
    backtest = [
        (
            f.timestamp,
            f.client_order_id,
            f.symbol,
            f.side.value,
            f.qty,
            f.price,
            fill_reason(
                intents[f.client_order_id].strategy,
                intents[f.client_order_id].broker_order_id,
                f.broker_order_id,
            ),
        )
        for f in both.backtest.fills
        if f.timestamp <= both.last_decision
    ]

    reasons = {reason for *_, reason in bot if reason is not None}
    assert {"stop_loss", "take_profit"} <= {r.value for r in reasons}
    assert bot == backtest


def test_protective_orders_rest_at_the_exchange_only_when_the_broker_holds_them(
    both: Both,
) -> None:
    strategies = {i.strategy for i in both.backtest.intents}
    resting = any(is_protective(s) for s in strategies)
    watched = bool(strategies & {"stop_loss", "take_profit"})

    assert resting != watched
    assert both.last_decision > START + timedelta(hours=1)
