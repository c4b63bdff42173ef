"""Specification: a trading session's notifications reach a local webhook through real apprise.

The real bot trades a stepped exchange (alpaca-py over HTTP on 127.0.0.1) with
``NOTIFY_URLS=json://...`` pointing at a local receiver: apprise's generic JSON webhook, exactly
as a user would configure it. The receiver sees the start, the fills, the trading state changes,
the daily summary after the close and the stop with the run's figures, and no secret in any of
them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from notify_helpers import Receiver, receiver, root_logging_restored
from runtime_helpers import (
    EIGHT_SYMBOLS,
    FIRST_DAY,
    KEY,
    SECRET,
    Paths,
    ny,
    scenario_files,
    stepped_bot,
    stepped_market_of,
    until,
)

from fleece.calendar import session_date
from fleece.state_store import StateStore

DASHBOARD_TOKEN = "dashboard-token-never-shown-0123456789"
HOOK_PASSWORD = "hook-password-never-shown-42"


def run_session(tmp_path: Path, hook: Receiver) -> Paths:
    """15:40 to 16:03 of the first session: trades, a halt and a resume, the close, a stop."""
    paths = scenario_files(tmp_path, EIGHT_SYMBOLS, notifications={"fill_batch_seconds": 0.2})
    notify_url = f"json://fleece:{HOOK_PASSWORD}@{hook.url}/hook"

    async def scenario() -> None:
        with stepped_market_of(EIGHT_SYMBOLS, ny("15:40", FIRST_DAY)) as market:
            # Logged as `fleece run` does (cli.build_bot): every configured secret masked.
            harness = await stepped_bot(
                paths, market, logged=True, NOTIFY_URLS=notify_url, DASHBOARD_TOKEN=DASHBOARD_TOKEN
            )
            await harness.step(8)
            store = harness.bot.store
            assert isinstance(store, StateStore)
            store.set_kill_switch(True, "operator", market.now())  # as `fleece halt` does
            await harness.step(2)
            store.set_kill_switch(False, "resumed", market.now())
            await harness.step(13)  # past the 16:00 close
            await harness.stop(keep_market_moving=False)
            await until(lambda: any("stopped" in t for t in hook.titles()), "the stop message")

    asyncio.run(scenario())
    return paths


@dataclass(frozen=True)
class Session:
    """What one notified session left: the webhook's requests and the bot's files."""

    hook: Receiver
    paths: Paths


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Session]:
    """One session for every specification below (it takes a few seconds)."""
    with root_logging_restored(), receiver() as hook:
        yield Session(hook, run_session(tmp_path_factory.mktemp("session"), hook))


def test_a_session_sends_start_fills_state_changes_daily_summary_and_stop(
    session: Session,
) -> None:
    titles = session.hook.titles()
    messages = session.hook.messages()
    bodies = "\n".join(str(m["message"]) for m in messages)

    assert titles[0] == "alpaca-fleece started (paper)"
    assert "8 symbols: AAPL, MSFT, SPY, NVDA" in messages[0]["message"]
    assert "equity 100,000.00" in messages[0]["message"]
    with StateStore(session.paths.db) as store:
        fills = store.fills()
    assert fills, "the scenario must trade"
    for fill in fills:  # every fill is in a message, with its side, quantity and price
        assert f"{fill.side.value.upper()} {fill.qty} {fill.symbol} @ {fill.price:,.4f}" in bodies
    assert "alpaca-fleece: trading HALTED (kill_switch)" in titles
    assert "alpaca-fleece: trading ACTIVE" in titles
    assert f"alpaca-fleece: daily summary {session_date(ny('15:40', FIRST_DAY))}" in titles
    assert titles[-1] == "alpaca-fleece stopped: test stop"
    assert f"fills {len(fills)} (" in messages[-1]["message"]
    assert "realised P&L" in messages[-1]["message"]


def test_no_secret_reaches_a_message_or_the_log(session: Session) -> None:
    received = session.hook.text()
    log = session.paths.log_file.read_text()

    assert "fill" in log  # the log was written
    for secret in (KEY, SECRET, DASHBOARD_TOKEN, HOOK_PASSWORD, session.hook.url + "/hook"):
        assert secret not in received
        assert secret not in log
