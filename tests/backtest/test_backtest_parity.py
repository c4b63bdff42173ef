"""The guarantee users buy: a backtest trades exactly as the bot trades.

The same bars — sparse, as IEX serves them: each symbol misses its own share of minutes, so the
minute grid carries closes — go once through ``fleece backtest``'s path and once through the real
bot
(:class:`fleece.runtime.Bot`, HTTP polling through alpaca-py) running against the built-in
exchange with a stepped clock: one market minute per poll cycle, from the second session's
afternoon (what came before is the bot's warm-up history, as it is the backtest's) through the
close, across the night, and into the next session. Every order, fill and refusal must be the
same: same client_order_id, symbol, side, quantity, price, time and status.

Both the SMA crossover (the backtest's vectorised fast path) and donchian_breakout (no vectorised
path: the backtest steps it bar by bar and polls only where it signalled or an order is open)
are compared.

The stepped market and the stepped bot are the runtime specifications' own harness
(tests/runtime/runtime_helpers.py), imported from there rather than copied.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "runtime"))

from runtime_helpers import (
    EIGHT_SYMBOLS,
    FIRST_DAY,
    SECOND_DAY,
    Paths,
    ny,
    query,
    sparse,
    stepped_bot,
    stepped_market,
    write_trading_yaml,
)

from fleece.backtest.cli import backtest_config
from fleece.backtest.data import market_from_bars
from fleece.backtest.runner import BacktestResult, run_backtest
from fleece.config import load_trading_config
from fleece.data.synthetic import generate_bars
from fleece.state_store import parse_ts

THIRD_DAY = SECOND_DAY + timedelta(days=1)
START = ny("14:30", SECOND_DAY)
MINUTES_TO_THE_CLOSE = 91  # 14:30 to 16:01
MINUTES_INTO_THIRD_DAY = 40
# Limits that bind within a day, so that refusals are compared too.
RISK = {"max_position_pct": 0.3, "max_trades_per_day": 16, "max_concurrent_positions": 2}
# Shutdown sends nothing, so that the bot's record holds the strategy's orders only.
SHUTDOWN = {"cancel_open_orders": False, "close_positions": False}


@dataclass(frozen=True)
class Both:
    """The bot's record and the backtest's result over the same bars and minutes."""

    db: Path
    last_decision: datetime  # the bot's last poll: both decided on every bar closed by then
    backtest: BacktestResult


def bot_run(paths: Paths, bars: dict[str, Any]) -> datetime:
    """The real bot over the stepped market; returns the last minute it polled."""

    async def scenario() -> datetime:
        with stepped_market(bars, START) as market:
            harness = await stepped_bot(paths, market)
            await harness.step(MINUTES_TO_THE_CLOSE)
            # Overnight in one move (one poll), then the third session's first minutes.
            overnight = ny("09:30", THIRD_DAY) - market.now()
            market.advance(overnight / timedelta(minutes=1) - 1)
            await harness.step(1 + MINUTES_INTO_THIRD_DAY)
            last = market.now()
            await harness.stop(keep_market_moving=False)
            assert harness.exit_code == 0
            return last

    return asyncio.run(scenario())


def run_both(paths: Paths) -> Both:
    """The same sparse bars through the real bot (:func:`bot_run`) and through the backtest,
    both configured by the scenario's trading.yaml."""
    bars = sparse(generate_bars(EIGHT_SYMBOLS, FIRST_DAY, 3, 7))
    last = bot_run(paths, bars)
    trading = load_trading_config(paths.config)
    # The stepped market's clock jumps whole minutes, so the bot polls exactly on the minute.
    on_the_minute = replace(backtest_config(trading, 100_000.0, 0.0, "fast"), poll_offset_seconds=0)
    result = run_backtest(market_from_bars(bars), on_the_minute, start_at=START)
    return Both(paths.db, last, result)


#: The strategies compared: the seed's SMA crossover (short windows) and donchian_breakout,
#: which has no vectorised path (the backtest steps it bar by bar and polls only where it
#: signals or an order is open).
STRATEGIES: dict[str, dict[str, Any]] = {
    "sma_crossover": {"name": "sma_crossover", "fast": 2, "medium": 4, "slow": 8},
    "donchian_breakout": {"name": "donchian_breakout", "entry": 5, "exit": 3},
}


def write_config(path: Path, strategy: dict[str, Any]) -> None:
    """The scenario's trading.yaml, with ``strategy`` as its whole strategy section."""
    write_trading_yaml(path, EIGHT_SYMBOLS, risk=RISK, shutdown=SHUTDOWN)
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    document["strategy"] = strategy
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")


@pytest.fixture(scope="module", params=sorted(STRATEGIES))
def both(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Both]:
    paths = Paths(tmp_path_factory.mktemp("parity"))
    write_config(paths.config, STRATEGIES[request.param])
    yield run_both(paths)


def test_the_bot_and_the_backtest_send_the_same_orders(both: Both) -> None:
    rows = query(
        both.db,
        "SELECT client_order_id, symbol, side, qty, status, signal_timestamp_utc"
        " FROM order_intents ORDER BY client_order_id",
    )
    bot = [(r[0], r[1], r[2], r[3], r[4]) for r in rows]
    backtest = sorted(
        (i.client_order_id, i.symbol, i.side.value, i.qty, i.status.value)
        for i in both.backtest.intents
        if i.signal_timestamp + timedelta(minutes=1) <= both.last_decision
    )

    assert len(bot) >= 20
    assert bot == backtest


def test_the_bot_and_the_backtest_get_the_same_fills(both: Both) -> None:
    rows = query(
        both.db,
        "SELECT timestamp_utc, client_order_id, symbol, side, qty, price FROM trades"
        " ORDER BY timestamp_utc, client_order_id",
    )
    bot = [(parse_ts(r[0]), r[1], r[2], r[3], r[4], r[5]) for r in rows]
    backtest = [
        (f.timestamp, f.client_order_id, f.symbol, f.side.value, f.qty, f.price)
        for f in both.backtest.fills
        if f.timestamp <= both.last_decision
    ]

    assert {side for *_, side, _, _ in bot} == {"buy", "sell"}
    assert bot == backtest


def test_the_bot_and_the_backtest_refuse_the_same_signals_for_the_same_reasons(
    both: Both,
) -> None:
    rows = query(
        both.db,
        "SELECT timestamp_utc, symbol, side, reason FROM refusals ORDER BY timestamp_utc, id",
    )
    bot = [(parse_ts(r[0]), r[1], r[2], r[3]) for r in rows]
    backtest = [
        (r.timestamp, r.symbol, r.side.value, r.reason)
        for r in both.backtest.refusals
        if r.timestamp <= both.last_decision
    ]

    assert len({reason for *_, reason in bot}) >= 2
    assert bot == backtest
