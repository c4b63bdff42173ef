"""Specification of the safety gates end to end: the real bot, a stepped exchange, restarts.

Each scenario keeps one exchange (and one database) across bot restarts, as in production:
the kill switch, ``fleece halt``/``resume``, the circuit breaker and its resets, ``DRY_RUN``.
What the exchange received is read from its own counters, never from the bot.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from runtime_helpers import (
    EIGHT_SYMBOLS,
    Market,
    Paths,
    SteppedBot,
    config_from,
    ny,
    paper_env,
    query,
    run_stepped,
    scenario_files,
    stepped_bot,
    stepped_market,
    synthetic,
)
from typer.testing import CliRunner

from fleece.cli import app
from fleece.models import Bar, TradingState
from fleece.state_store import StateStore

ORDERS_ROUTE = "POST /v2/orders"
BREAKER_AFTER = 3


def fleece(command: str, env: dict[str, str], tmp: Path) -> str:
    """Run one ``fleece`` command (halt, resume, reset-breaker) in ``env``; returns its output."""
    result = CliRunner().invoke(app, [command, "--env-file", str(tmp / "absent.env")], env=env)
    assert result.exit_code == 0, result.output
    return result.output


def refusal_reasons(db: Path) -> set[str]:
    """The distinct reasons of every stored refusal."""
    return {r[0] for r in query(db, "SELECT DISTINCT reason FROM refusals")}


def refusals_of(db: Path, reason: str) -> int:
    """How many refusals were stored with ``reason``."""
    return int(query(db, "SELECT COUNT(*) FROM refusals WHERE reason = ?", (reason,))[0][0])


def run(env: dict[str, str], market: Market, minutes: int) -> SteppedBot:
    """One bot run over ``minutes`` market minutes, stopped gracefully."""
    return asyncio.run(run_stepped(config_from(env), market, minutes))


# ---------------------------------------------------------------- kill switch and halt


def test_kill_switch_sends_nothing_and_records_every_refusal_as_kill_switch(
    paths: Paths, market: Market
) -> None:
    harness = run(paper_env(paths, market.url, KILL_SWITCH="true"), market, minutes=8)

    assert harness.exit_code == 0
    assert market.requests(ORDERS_ROUTE) == 0 and market.orders() == []
    assert refusal_reasons(paths.db) == {"kill_switch"}
    assert refusals_of(paths.db, "kill_switch") >= 3
    assert query(paths.db, "SELECT COUNT(*) FROM order_intents")[0][0] == 0
    with StateStore(paths.db) as store:
        assert store.trading_state() == (TradingState.HALTED, "kill_switch")


def test_fleece_halt_survives_a_restart_and_blocks_orders_until_fleece_resume(
    paths: Paths, market: Market
) -> None:
    env = paper_env(paths, market.url)
    halted = fleece("halt", env, paths.root)

    run(env, market, minutes=6)
    halted_first = (market.requests(ORDERS_ROUTE), refusals_of(paths.db, "kill_switch"))
    run(env, market, minutes=6)  # a restart: the switch is read back from the store
    halted_after_restart = (market.requests(ORDERS_ROUTE), refusals_of(paths.db, "kill_switch"))
    resumed = fleece("resume", env, paths.root)
    run(env, market, minutes=8)

    assert "kill switch on (operator): trading HALTED (kill_switch)" in halted
    assert "kill switch off: trading ACTIVE" in resumed
    assert halted_first[0] == 0 and halted_first[1] > 0
    assert halted_after_restart[0] == 0 and halted_after_restart[1] > halted_first[1]
    assert market.requests(ORDERS_ROUTE) > 0


def test_fleece_resume_says_the_bot_stays_halted_by_the_environments_switch(
    paths: Paths, market: Market
) -> None:
    # Lifting the persisted switch cannot lift KILL_SWITCH=true: the answer says so, in the
    # words Telegram's /resume uses, instead of "trading may resume".
    env = paper_env(paths, market.url, KILL_SWITCH="true")
    fleece("halt", env, paths.root)

    resumed = fleece("resume", env, paths.root)

    assert (
        "kill switch on (KILL_SWITCH=true in the environment): trading HALTED (kill_switch)"
        in resumed
    )


def test_fleece_halt_while_the_bot_runs_blocks_its_next_orders(
    paths: Paths, market: Market
) -> None:
    env = paper_env(paths, market.url)

    async def scenario() -> tuple[int, int]:
        harness = await SteppedBot(config_from(env), market).start()
        await harness.step_until(lambda: market.requests(ORDERS_ROUTE) > 0, "a first order")
        fleece("halt", env, paths.root)
        sent_when_halted = market.requests(ORDERS_ROUTE)
        await harness.step(15)
        await harness.stop()
        return sent_when_halted, market.requests(ORDERS_ROUTE)

    sent_when_halted, sent_at_the_end = asyncio.run(scenario())

    # HALTED means no new orders at all: not from signals, nor from the shutdown.
    assert sent_at_the_end == sent_when_halted
    assert refusals_of(paths.db, "kill_switch") > 0


# ---------------------------------------------------------------- circuit breaker


def cheaper(bar: Bar, factor: float) -> Bar:
    """``bar`` with its prices multiplied by ``factor`` (to 1/10,000 dollar)."""
    o, h, lo, c = (round(p * factor, 4) for p in (bar.open, bar.high, bar.low, bar.close))
    return replace(bar, open=o, high=h, low=lo, close=c)


@pytest.fixture
def rejecting_market() -> Iterator[Market]:
    """Like :func:`market`, but a cash account ($1,900: below the $2,000 a margin account needs)
    with 30% slippage, far beyond the 4% above the last close that Alpaca (and the risk
    manager's sizing) values a market buy at: a buy sized to the whole equity always exceeds
    buying power at this exchange (403)."""
    bars = synthetic(EIGHT_SYMBOLS)
    with stepped_market(bars, ny("09:30"), cash=1_900, slippage_bps=3_000) as served:
        yield served


@pytest.fixture
def breaker_paths(tmp_path: Path) -> Paths:
    """Whole-equity entries and a breaker that trips after three consecutive failures."""
    return scenario_files(
        tmp_path,
        EIGHT_SYMBOLS,
        risk={"max_position_pct": 1.0, "circuit_breaker_failures": BREAKER_AFTER},
    )


def breaker_state(db: Path) -> tuple[bool, int]:
    """(tripped, consecutive failures) as the store holds them."""
    with StateStore(db) as store:
        return store.breaker()


def trip(paths: Paths, market: Market) -> None:
    """Run the bot until the exchange has refused three orders in a row."""

    async def scenario() -> None:
        harness = await stepped_bot(paths, market)
        await harness.step_until(
            lambda: market.requests(ORDERS_ROUTE) >= BREAKER_AFTER, "three refused orders"
        )
        await harness.step_until(
            lambda: (
                harness.bot.trader is not None
                and harness.bot.trader.refusals["circuit_breaker"] > 0
            ),
            "a signal refused by the tripped breaker",
        )
        await harness.stop()

    asyncio.run(scenario())


def test_circuit_breaker_trips_after_consecutive_order_failures_and_halts_trading(
    breaker_paths: Paths, rejecting_market: Market
) -> None:
    trip(breaker_paths, rejecting_market)

    statuses = query(breaker_paths.db, "SELECT status, last_error FROM order_intents")
    assert rejecting_market.requests(ORDERS_ROUTE) == BREAKER_AFTER
    assert rejecting_market.orders() == []  # every one refused by the exchange
    assert [r[0] for r in statuses] == ["rejected"] * BREAKER_AFTER
    assert all("insufficient buying power" in r[1] for r in statuses)
    assert breaker_state(breaker_paths.db) == (True, BREAKER_AFTER)
    assert refusals_of(breaker_paths.db, "circuit_breaker") > 0


def test_an_entry_sized_to_a_tight_account_is_accepted_by_an_exchange_that_slips(
    breaker_paths: Paths,
) -> None:
    """Whole-equity entries from a $1,900 cash account, on an exchange whose market buys slip
    3%: the risk manager values a buy as the exchange does (4% above the last close, Alpaca's
    worst case) and sizes it to fit, so the exchange accepts it. Sized at the last close, as
    before, the buy was refused 403 and counted toward the circuit breaker."""
    # Prices of $11 to $29: a whole-equity buy at the last close leaves under 1.6% unspent,
    # less than the 3% the exchange slips it by.
    bars = {s: [cheaper(b, 0.05) for b in day] for s, day in synthetic(EIGHT_SYMBOLS).items()}
    with stepped_market(bars, ny("09:30"), cash=1_900, slippage_bps=300) as slipping:

        async def scenario() -> None:
            harness = await stepped_bot(breaker_paths, slipping)
            await harness.step_until(lambda: slipping.requests(ORDERS_ROUTE) >= 1, "an entry")
            await harness.step(3)
            await harness.stop()

        asyncio.run(scenario())

    statuses = [r[0] for r in query(breaker_paths.db, "SELECT status FROM order_intents")]
    assert statuses and "rejected" not in statuses
    assert len(slipping.orders()) == slipping.requests(ORDERS_ROUTE)  # each one accepted
    assert breaker_state(breaker_paths.db) == (False, 0)


def test_a_tripped_breaker_survives_a_restart_until_circuit_breaker_reset_true(
    breaker_paths: Paths, rejecting_market: Market
) -> None:
    trip(breaker_paths, rejecting_market)
    env = paper_env(breaker_paths, rejecting_market.url)

    run(env, rejecting_market, minutes=6)
    sent_after_restart = rejecting_market.requests(ORDERS_ROUTE)
    state_after_restart = breaker_state(breaker_paths.db)
    run({**env, "CIRCUIT_BREAKER_RESET": "true"}, rejecting_market, minutes=8)

    assert sent_after_restart == BREAKER_AFTER
    assert state_after_restart == (True, BREAKER_AFTER)
    # Reset: orders flow again (and, refused again, trip the breaker again from zero).
    assert rejecting_market.requests(ORDERS_ROUTE) > BREAKER_AFTER


def test_fleece_reset_breaker_lets_the_next_run_send_orders_again(
    breaker_paths: Paths, rejecting_market: Market
) -> None:
    trip(breaker_paths, rejecting_market)
    env = paper_env(breaker_paths, rejecting_market.url)

    assert "circuit breaker reset" in fleece("reset-breaker", env, breaker_paths.root)
    reset_state = breaker_state(breaker_paths.db)
    run(env, rejecting_market, minutes=8)

    assert reset_state == (False, 0)
    assert rejecting_market.requests(ORDERS_ROUTE) > BREAKER_AFTER


# ---------------------------------------------------------------- dry run


def test_dry_run_sends_nothing_and_stores_each_decision_as_a_dry_run_intent(
    paths: Paths, market: Market
) -> None:
    harness = run(paper_env(paths, market.url, DRY_RUN="true"), market, minutes=8)

    intents = query(paths.db, "SELECT status, dry_run, submit_attempts FROM order_intents")
    assert harness.exit_code == 0
    assert market.requests(ORDERS_ROUTE) == 0 and market.exchange.state()["orders_submitted"] == 0
    assert len(intents) >= 3
    assert {tuple(r) for r in intents} == {("dry_run", 1, 0)}
