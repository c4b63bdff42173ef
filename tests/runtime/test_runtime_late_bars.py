"""Specification of late bars in the running bot: judged empty, stored as late, never fed.

The exchange publishes a seeded share of bars 30 s after their minute (as Alpaca re-issues a bar
with late trades). The stepped bot polls as each minute ends, judges the minute of such a bar
empty (its strategy steps on the last close), and meets the bar one poll later: stored, counted
and logged as late. What it was fed is what the store calls fed: a backtest of those bars makes
the bot's very decisions.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path

import pytest
from runtime_helpers import EIGHT_SYMBOLS, ny, query, scenario_files, stepped_bot, stepped_market_of

from fleece.backtest.cli import backtest_config, recorded_market
from fleece.backtest.runner import run_backtest
from fleece.config import load_trading_config

START = ny("10:00")
STEPS = 90
LATE_SHARE = 0.05


@dataclass(frozen=True)
class Run:
    """What the run left: the store, the bot's late-bar count and its log."""

    db: Path
    config: Path
    late_counted: int
    log: str


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    paths = scenario_files(
        tmp_path_factory.mktemp("late"),
        EIGHT_SYMBOLS,
        risk={"max_position_pct": 0.2, "max_concurrent_positions": 4},
        shutdown={"cancel_open_orders": False, "close_positions": "none"},
    )

    async def scenario() -> int:
        with stepped_market_of(EIGHT_SYMBOLS, START, late_bars=LATE_SHARE) as market:
            harness = await stepped_bot(paths, market)
            await harness.step(STEPS)
            late = harness.bot.stats.late_bars
            await harness.stop(keep_market_moving=False)
            return late

    lines: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: lines.append(record.getMessage())  # type: ignore[method-assign]
    runtime_log = logging.getLogger("fleece.runtime")
    runtime_log.addHandler(handler)
    try:
        late = asyncio.run(scenario())
    finally:
        runtime_log.removeHandler(handler)
    yield Run(paths.db, paths.config, late, "\n".join(lines))


def test_a_bar_published_after_its_minute_was_judged_is_stored_as_late(run: Run) -> None:
    (stored,) = query(run.db, "SELECT COUNT(*) FROM bars WHERE late = 1")[0]

    assert stored > 5  # about 5 % of 8 symbols x 90 minutes
    assert stored == run.late_counted
    assert run.log.count("late bar symbol=") == stored


def test_the_bot_decided_exactly_as_a_backtest_of_the_bars_it_was_fed(run: Run) -> None:
    trading = load_trading_config(run.config)
    # The stepped market's clock jumps whole minutes: the bot polls exactly on the minute.
    config = replace(backtest_config(trading, 100_000.0, 0.0, "fast"), poll_offset_seconds=0)

    result = run_backtest(recorded_market(run.db, None), config, start_at=START)

    rows = query(run.db, "SELECT client_order_id, qty FROM order_intents ORDER BY 1")
    bot = [(r[0], r[1]) for r in rows]
    last_judged = START + timedelta(minutes=STEPS - 1)  # the bot stopped after that minute
    backtest = sorted(
        (i.client_order_id, i.qty) for i in result.intents if i.signal_timestamp <= last_judged
    )
    assert len(bot) >= 5
    assert bot == backtest
