"""Specification of the start-up checks: the configured symbols against the broker's assets, and
the configured feed against the account's plan.

The bot is ``fleece run`` (a real process) or the real :class:`~fleece.runtime.Bot` in this event
loop, against the built-in exchange on the free plan, over HTTP through alpaca-py.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest
from runtime_helpers import (
    EIGHT_SYMBOLS,
    FOUR_SYMBOLS,
    SteppedBot,
    ny,
    paper_config,
    paper_env,
    query,
    scenario_files,
    stepped_market,
    stepped_market_of,
    synthetic,
)
from runtime_processes import Process, fleece_command

from fleece.errors import DataError
from fleece.runtime import Bot
from fleece.startup_checks import read_dropped
from fleece.state_store import StateStore
from fleece.status import collect_status

FREE = {"plan": "free", "data_feed": "sip"}


def test_feed_sip_on_a_free_plan_stops_fleece_run_with_exit_2_and_one_line(
    tmp_path: Path,
) -> None:
    paths = scenario_files(tmp_path, FOUR_SYMBOLS, data={"feed": "sip"})
    with stepped_market_of(FOUR_SYMBOLS, ny("10:00"), **FREE) as market:
        process = Process.start(fleece_command("run"), paper_env(paths, market.url), tmp_path, "b")
        try:
            code = process.wait(timeout=60)
        finally:
            process.stop()
        polls = market.requests("GET /v2/stocks/bars")

    errors = [line for line in process.stderr().splitlines() if " ERROR " in line]
    assert code == 2
    assert len(errors) == 1
    assert "data.feed" in errors[0] and "'sip'" in errors[0] and "set data.feed: iex" in errors[0]
    assert "subscription does not permit querying recent SIP data" in errors[0]
    assert "Traceback" not in process.stderr()
    assert polls == 1  # the probe: never an endless poll


def test_an_inactive_symbol_is_dropped_with_one_warning_and_shown_by_status(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    paths = scenario_files(tmp_path, EIGHT_SYMBOLS)
    with stepped_market_of(EIGHT_SYMBOLS, ny("09:30"), inactive=("TSLA",)) as market:
        config = paper_config(paths, market)

        async def session() -> SteppedBot:
            harness = await SteppedBot(config, market).start()
            await harness.step(20)
            await harness.stop()
            return harness

        with caplog.at_level(logging.WARNING, logger="fleece"):
            harness = asyncio.run(session())
        bars_asked = market.requests("GET /v2/stocks/bars")
        orders = market.orders()

    warnings = [r.getMessage() for r in caplog.records if "TSLA" in r.getMessage()]
    status = collect_status(config, pid_file=tmp_path / "none.pid", now=ny("10:00"))
    with StateStore(paths.db) as store:
        dropped = read_dropped(store)
    assert warnings == [
        "symbol dropped: TSLA is status 'inactive', not active; it is not traded this run"
    ]
    assert harness.bot.symbols == tuple(s for s in EIGHT_SYMBOLS if s != "TSLA")
    assert dropped == {"TSLA": "status 'inactive', not active"}
    assert status.dropped_symbols == ("TSLA (status 'inactive', not active)",)
    assert bars_asked > 0 and orders and all(o.symbol != "TSLA" for o in orders)
    assert not query(paths.db, "SELECT * FROM bars WHERE symbol = 'TSLA'")


def test_with_no_symbol_left_the_bot_stops_with_exit_2(tmp_path: Path) -> None:
    paths = scenario_files(tmp_path, ("AAPL", "NOPE"))  # NOPE: no such asset
    bars = synthetic(("AAPL", "MSFT"))
    with stepped_market(bars, ny("10:00"), inactive=("AAPL",)) as market:
        bot = Bot(paper_config(paths, market), install_signal_handlers=False)
        code = asyncio.run(bot.run())

    assert code == 2
    assert bot.stats.exit_reason.startswith("error: ")
    assert "symbols.list: no tradable symbol left" in bot.stats.exit_reason
    assert "AAPL (status 'inactive', not active)" in bot.stats.exit_reason
    assert "NOPE (not listed at the broker)" in bot.stats.exit_reason


def test_a_failure_that_is_not_the_configuration_stops_the_bot_with_exit_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Exit 2 tells systemd a restart cannot help (a refused configuration); any other failure
    # exits 1, which it restarts. The bot once exited 2 for a data or store error.
    paths = scenario_files(tmp_path, FOUR_SYMBOLS)
    with stepped_market_of(FOUR_SYMBOLS, ny("10:00")) as market:
        bot = Bot(paper_config(paths, market), install_signal_handlers=False)

        async def bars_break() -> None:
            raise DataError("SPY: bar starts must be strictly increasing")

        monkeypatch.setattr(bot, "_phase_data", bars_break)
        code = asyncio.run(bot.run())

    assert code == 1
    assert bot.stats.exit_reason == "error: SPY: bar starts must be strictly increasing"
