"""Specification: ``fleece flatten`` closes the running bot's positions through its own orders.

The CLI never trades itself: it queues a command in the store, the running bot executes it on its
next cycle with the graceful shutdown's close-out routine, and the CLI prints the outcome. Real
processes: ``fleece run`` against a stepped exchange on 127.0.0.1, and ``fleece flatten``.
"""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path

from runtime_helpers import (
    EIGHT_SYMBOLS,
    Paths,
    ny,
    paper_env,
    query,
    scenario_files,
    stepped_bot,
    stepped_market_of,
    wait_for,
)
from runtime_processes import Process, clean_env, fleece_command, step_bot_process, wait_for_log

from fleece.control import commands
from fleece.state_store import StateStore


def flatten(paths: Paths, env: dict[str, str], *extra: str) -> subprocess.Popen[str]:
    """Start ``fleece flatten`` in the bot's folder, with the bot's environment."""
    return subprocess.Popen(
        [*fleece_command("flatten"), *extra],
        cwd=paths.root,
        env=clean_env(env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_flatten_without_a_running_bot_does_nothing_says_so_and_is_recorded(
    paths: Paths,
) -> None:
    paths.db.parent.mkdir(parents=True)
    StateStore(paths.db).close()  # a store a stopped bot left

    done = flatten(paths, paper_env(paths, "http://127.0.0.1:9")).communicate(timeout=120)

    _, err = done
    assert "error: no bot is running on this store: nothing was done" in err
    with StateStore(paths.db) as store:
        recorded = store.commands()
    assert [(c.command, c.source, c.status) for c in recorded] == [("flatten", "cli", "refused")]


def test_flatten_closes_the_running_bots_positions_and_reports_it(paths: Paths) -> None:
    with stepped_market_of(EIGHT_SYMBOLS, ny("09:45")) as market:
        env = paper_env(paths, market.url)
        bot = Process.start(fleece_command("run"), env, paths.root, "bot")
        try:
            wait_for_log(paths.log_file, r"bot running", bot)
            while len(market.positions()) < 2:
                step_bot_process(market)
            cli = flatten(paths, env, "--wait", "120")
            wait_for(lambda: bool(query(paths.db, "SELECT id FROM commands")), "the command")
            held = market.positions()
            while cli.poll() is None:  # the bot executes it on its next cycle
                step_bot_process(market)
            out, err = cli.communicate()
            step_bot_process(market, 2)  # the closing orders fill (the strategy may re-enter)
            closed = {
                (o.symbol, o.filled_qty)
                for o in market.orders()
                if o.client_order_id.startswith("flatten-") and o.status.value == "filled"
            }
        finally:
            bot.stop()

    assert cli.returncode == 0, err
    assert "flatten #1 queued for the bot" in out
    assert f"flatten #1 done: {len(held)} closing orders sent for {len(held)} positions" in out
    with StateStore(paths.db) as store:
        closing = [i for i in store.all_intents() if i.client_order_id.startswith("flatten-")]
        (command,) = store.commands()
    assert {(i.symbol, i.qty) for i in closing} == set(held.items()) == closed
    assert command.source == "cli" and command.sender.startswith("cli ")


def test_a_halted_bot_refuses_to_flatten_and_keeps_its_positions(tmp_path: Path) -> None:
    paths = scenario_files(tmp_path, EIGHT_SYMBOLS)

    async def scenario() -> tuple[dict[str, int], dict[str, int], str]:
        with stepped_market_of(EIGHT_SYMBOLS, ny("09:45")) as market:
            harness = await stepped_bot(paths, market)
            await harness.step_until(lambda: len(market.positions()) >= 1, "a position")
            store = harness.bot.store
            assert store is not None
            store.set_kill_switch(True, "operator", market.now())
            held = market.positions()
            asked = commands.request(store, "flatten", source="cli", sender="t", now=market.now())
            await harness.step_until(
                lambda: (store.command(asked) or commands.FINAL).status in commands.FINAL, "done"
            )
            record = store.command(asked)
            after = market.positions()
            await harness.stop(keep_market_moving=False)
            assert record is not None
            return held, after, f"{record.status}: {record.result}"

    held, after, outcome = asyncio.run(scenario())

    assert after == held
    assert outcome.startswith("refused: trading HALTED (kill_switch)")
