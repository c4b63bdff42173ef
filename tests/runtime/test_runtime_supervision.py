"""Specification of task supervision: a crashed task is logged and restarted, or the bot exits
non-zero; never a silently dead task.

The crash is injected into one poll cycle's housekeeping (an unexpected exception, the kind no
``except BrokerError`` catches); everything else is the real bot against a stepped exchange.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from pathlib import Path

import pytest
from runtime_helpers import (
    FOUR_SYMBOLS,
    Paths,
    SteppedBot,
    ny,
    query,
    scenario_files,
    stepped_bot,
    stepped_market_of,
    until,
)


def break_housekeeping(harness: SteppedBot, times: int) -> list[datetime]:
    """Make the next ``times`` housekeeping ticks raise; returns the list of crash times."""
    housekeeping = harness.bot.housekeeping
    assert housekeeping is not None
    tick = housekeeping.tick
    crashes: list[datetime] = []

    async def breaking(now: datetime, market_open: bool) -> None:
        if len(crashes) < times:
            crashes.append(now)
            raise RuntimeError("housekeeping broke")
        await tick(now, market_open)

    housekeeping.tick = breaking
    return crashes


@pytest.fixture
def paths(tmp_path: Path) -> Paths:
    """Files of one scenario: four symbols."""
    return scenario_files(tmp_path, FOUR_SYMBOLS)


def test_a_crashed_polling_task_is_logged_and_restarted(
    paths: Paths, caplog: pytest.LogCaptureFixture
) -> None:
    async def scenario() -> tuple[int, int]:
        with stepped_market_of(FOUR_SYMBOLS, ny("09:30")) as market:
            harness = await stepped_bot(paths, market)
            crashes = break_housekeeping(harness, times=1)
            market.advance(1)
            await until(lambda: len(crashes) == 1, "the crash")
            cycles = harness.cycles
            await harness.step(3)  # the restarted task polls again
            return harness.cycles - cycles, await harness.stop()

    with caplog.at_level(logging.ERROR, logger="fleece"):
        cycles_after, code = asyncio.run(scenario())

    crashed = [r for r in caplog.records if r.getMessage().startswith("task crashed task=polling")]
    assert cycles_after == 3
    assert code == 0
    assert len(crashed) == 1 and crashed[0].exc_info is not None  # with its traceback


def test_a_task_that_keeps_crashing_stops_the_bot_with_a_non_zero_exit(paths: Paths) -> None:
    async def scenario() -> int:
        with stepped_market_of(FOUR_SYMBOLS, ny("09:30")) as market:
            harness = await stepped_bot(paths, market)
            break_housekeeping(harness, times=1_000)
            task = harness._task
            assert task is not None
            while not task.done():  # the market goes on; each poll crashes
                market.advance(1)
                await asyncio.wait([task], timeout=0.05)
            return task.result()

    code = asyncio.run(scenario())

    runs = query(paths.db, "SELECT exit_reason FROM bot_runs")
    assert code == 1
    assert [r[0] for r in runs] == ["task_failed"]
