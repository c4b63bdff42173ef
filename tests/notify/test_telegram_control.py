"""Specification: remote control from Telegram, against a local stand-in of the Bot API.

python-telegram-bot's ``base_url`` (``TELEGRAM_API_URL``) points at a Bot API served on
127.0.0.1 by the test; the real bot trades a stepped exchange meanwhile. Commands from the allowed
chat are obeyed and answered; a stranger's are refused, unanswered, and recorded like every other
command, with who sent it. The token never reaches the log.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from notify_helpers import BOT_TOKEN, BotApi, bot_api, root_logging_restored
from runtime_helpers import (
    EIGHT_SYMBOLS,
    Paths,
    SteppedBot,
    ny,
    scenario_files,
    stepped_bot,
    stepped_market_of,
    until,
)

from fleece.models import Side
from fleece.state_store import CommandRecord, StateStore

OPERATOR, STRANGER = 1001, 6666


@dataclass
class Conversation:
    """What the scenario left behind."""

    api: BotApi
    paths: Paths
    kill_switch_after_halt: tuple[bool, str] = (False, "")
    held_before_flatten: dict[str, int] = field(default_factory=dict)

    def commands(self) -> list[CommandRecord]:
        with StateStore(self.paths.db) as store:
            return store.commands()


async def say(harness: SteppedBot, api: BotApi, text: str, chat: int = OPERATOR) -> str:
    """Send ``text`` from ``chat`` and wait for the bot's answer. Only ``/flatten`` needs the
    market to move (the bot executes it on its next cycle); the others answer at once."""
    before = len(api.replies_to(chat))

    def answered() -> bool:
        replies = api.replies_to(chat)
        return len(replies) > before and not replies[-1].endswith("...")

    api.command(text, chat=chat)
    if text.startswith("/flatten"):
        await harness.step_until(answered, f"an answer to {text}")
    await until(answered, f"an answer to {text}")
    return api.replies_to(chat)[-1]


def holds(harness: SteppedBot) -> dict[str, int]:
    """The shares the bot knows it holds (an order filled after its answer is learnt at the
    next refresh, so for a cycle the exchange may know of more)."""
    assert harness.bot.trader is not None
    return dict(harness.bot.trader.portfolio.qty)


def converse(root: Path, api: BotApi) -> Conversation:
    paths = scenario_files(root, EIGHT_SYMBOLS)
    talk = Conversation(api, paths)

    async def scenario() -> None:
        with stepped_market_of(EIGHT_SYMBOLS, ny("09:45")) as market:
            harness = await stepped_bot(
                paths,
                market,
                logged=True,
                TELEGRAM_BOT_TOKEN=BOT_TOKEN,
                TELEGRAM_ALLOWED_CHAT_IDS=f"{OPERATOR}, 1002",
                TELEGRAM_API_URL=api.base_url,
            )
            await until(lambda: api.polls() > 0, "the bot polling Telegram")
            await harness.step_until(
                lambda: len(market.positions()) >= 2 and holds(harness) == market.positions(),
                "two positions, the bot knowing of every fill",
            )
            api.command("/halt", chat=STRANGER)
            talk.held_before_flatten = market.positions()
            await say(harness, api, "/status")
            await say(harness, api, "/positions")
            await say(harness, api, "/halt lunch break")
            assert harness.bot.store is not None
            talk.kill_switch_after_halt = harness.bot.store.kill_switch()
            await say(harness, api, "/resume")
            await say(harness, api, "/flatten")
            await harness.step(2)  # the closing orders fill (the strategy may enter again)
            await say(harness, api, "/daily")
            await harness.stop()

    asyncio.run(scenario())
    return talk


@pytest.fixture(scope="module")
def talk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Conversation]:
    with root_logging_restored(), bot_api() as api:
        yield converse(tmp_path_factory.mktemp("telegram"), api)


def test_the_allowed_chat_gets_status_positions_and_the_daily_summary(
    talk: Conversation,
) -> None:
    status, positions, *_ = talk.api.replies_to(OPERATOR)

    assert "state ACTIVE" in status
    assert re.search(r"equity [\d,]+\.\d\d · today P&L [+-][\d,]+\.\d\d", status)
    assert f"positions {len(talk.held_before_flatten)}" in status
    assert all(symbol in positions for symbol in talk.held_before_flatten)
    assert "daily summary" in talk.api.replies_to(OPERATOR)[-1]


def test_halt_and_resume_from_telegram_set_the_persisted_kill_switch(talk: Conversation) -> None:
    replies = talk.api.replies_to(OPERATOR)

    assert talk.kill_switch_after_halt == (True, "lunch break")
    assert "kill switch on (lunch break): trading HALTED (kill_switch)" in replies
    assert "kill switch off: trading ACTIVE" in replies


def test_flatten_closes_the_positions_through_the_bots_orders(talk: Conversation) -> None:
    outcome = next(r for r in talk.api.replies_to(OPERATOR) if r.startswith("flatten #"))

    assert talk.held_before_flatten
    assert outcome.startswith("flatten #") and " done: " in outcome
    with StateStore(talk.paths.db) as store:
        intents = store.all_intents()
    closing = [i for i in intents if i.client_order_id.startswith("flatten-")]
    # The flatten runs after its cycle's decisions: a position the strategy's own exit sold in
    # that cycle is already being closed, and the flatten leaves it to that order.
    flattened_at = {i.created_at for i in closing}
    exited = {i.symbol for i in intents if i.side is Side.SELL and i.created_at in flattened_at}
    assert closing and all(i.status == "filled" for i in closing)
    assert {i.symbol for i in closing} | exited >= set(talk.held_before_flatten)
    assert {i.symbol for i in closing} <= set(talk.held_before_flatten)


def test_a_strangers_command_is_refused_unanswered_and_recorded(talk: Conversation) -> None:
    refused = [c for c in talk.commands() if c.status == "refused"]

    assert talk.api.replies_to(STRANGER) == []
    assert [(c.command, c.source) for c in refused] == [("halt", "telegram")]
    assert f"chat {STRANGER}" in refused[0].sender


def test_every_command_is_recorded_with_who_sent_it(talk: Conversation) -> None:
    recorded = [(c.command, c.status) for c in talk.commands()]

    assert recorded == [
        ("halt", "refused"),
        ("status", "done"),
        ("positions", "done"),
        ("halt", "done"),
        ("resume", "done"),
        ("flatten", "done"),
        ("daily", "done"),
    ]
    assert all(f"chat {OPERATOR} user 4242 (@op)" in c.sender for c in talk.commands()[1:])


def test_the_token_never_reaches_the_log(talk: Conversation) -> None:
    log = talk.paths.log_file.read_text()

    assert "telegram control polling" in log
    assert BOT_TOKEN not in log and BOT_TOKEN.split(":")[1] not in log
