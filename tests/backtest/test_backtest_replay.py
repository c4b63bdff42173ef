"""Specification of ``fleece replay``: a recorded day replays to the same decisions, and any
decision that was altered is found.

The recorded day is made the way the bot makes one: the trader, risk manager and order manager
writing to a real state store (here driven by the backtest over the exchange's engine), plus the
bars, an equity snapshot at each close and a bot run, as the runtime records them.
"""

from __future__ import annotations

import shutil
import sqlite3
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from backtest_helpers import config, synthetic
from typer.testing import CliRunner

from fleece.backtest.replay import NOT_IN_BOT, NOT_REPLAYED, QTY, replay_day
from fleece.backtest.runner import run_backtest
from fleece.cli import app
from fleece.state_store import StateStore

DAY = date(2024, 1, 3)
OPEN = datetime(2024, 1, 3, 14, 30, tzinfo=UTC)
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def original(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three sessions of a bot's life in a state store (made once: it takes a moment)."""
    market = synthetic(("SPY", "AAPL", "TSLA"), days=3)
    path = tmp_path_factory.mktemp("recorded") / "trades.db"
    with StateStore(path) as store:
        result = run_backtest(market, config(), store=store)
        store.add_bars(bars.bar(i) for bars in market.bars.values() for i in range(len(bars)))
        curve = result.equity
        for k in curve.session_end.nonzero()[0].tolist():
            at = datetime.fromtimestamp(int(curve.ts[k]), UTC)
            equity, cash = int(curve.equity[k]) / 100, int(curve.cash[k]) / 100
            store.add_equity_snapshot(at, equity, cash, equity - cash, 0, 0)
        run = store.start_run(datetime(2024, 1, 2, 14, 0, tzinfo=UTC), 4242, "paper")
        store.end_run(run, datetime(2024, 1, 4, 22, 0, tzinfo=UTC), "stopped")
    return path


@pytest.fixture
def recorded(original: Path, tmp_path: Path) -> Path:
    """A copy of the recorded store that a test may alter."""
    copy = tmp_path / "trades.db"
    shutil.copyfile(original, copy)
    return copy


def sql(path: Path, statement: str, *params: object) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute(statement, params)


def first_decision_of_the_day(path: Path, side: str = "buy") -> str:
    with sqlite3.connect(path) as conn:
        row = conn.execute(
            "SELECT client_order_id FROM order_intents WHERE signal_timestamp_utc >= ?"
            " AND side = ? ORDER BY signal_timestamp_utc LIMIT 1",
            (OPEN.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), side),
        ).fetchone()
    return str(row[0])


def test_an_untouched_day_replays_to_the_same_decisions(recorded: Path) -> None:
    with StateStore(recorded) as store:
        report = replay_day(store, DAY, config())

    assert report.differences == []
    assert len(report.bot) >= 5 and report.bot == report.replay
    assert report.start_positions  # the day began with positions carried from the day before


def test_a_decision_with_an_altered_size_is_reported(recorded: Path) -> None:
    cid = first_decision_of_the_day(recorded)
    sql(recorded, "UPDATE order_intents SET qty = qty + 1 WHERE client_order_id = ?", cid)

    with StateStore(recorded) as store:
        report = replay_day(store, DAY, config())

    assert [(d.kind, d.client_order_id) for d in report.differences] == [(QTY, cid)]
    assert report.differences[0].bot_qty == report.differences[0].replay_qty + 1  # type: ignore[operator]


def test_a_decision_taken_on_another_bar_is_reported_both_ways(recorded: Path) -> None:
    # What a clock bug looks like: the bot acted one bar late.
    cid = first_decision_of_the_day(recorded, "sell")
    symbol, side, stamp = cid.split("-")[1:4]
    late = datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC) + timedelta(minutes=1)
    moved = f"sma_crossover-{symbol}-{side}-{late:%Y%m%dT%H%M%SZ}"
    sql(recorded, "PRAGMA foreign_keys = OFF")
    with sqlite3.connect(recorded) as conn:
        conn.execute(
            "UPDATE trades SET client_order_id = ? WHERE client_order_id = ?", (moved, cid)
        )
        conn.execute(
            "UPDATE order_intents SET client_order_id = ?, signal_timestamp_utc = ?"
            " WHERE client_order_id = ?",
            (moved, late.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), cid),
        )

    with StateStore(recorded) as store:
        report = replay_day(store, DAY, config())

    kinds = {(d.kind, d.client_order_id) for d in report.differences}
    assert (NOT_REPLAYED, moved) in kinds and (NOT_IN_BOT, cid) in kinds
    assert report.decisions_differ


def test_only_the_minutes_the_bot_was_running_are_compared(recorded: Path) -> None:
    cid = first_decision_of_the_day(recorded)
    sql(recorded, "DELETE FROM trades WHERE client_order_id = ?", cid)
    sql(recorded, "DELETE FROM order_intents WHERE client_order_id = ?", cid)
    signal = datetime.strptime(cid.split("-")[-1], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    sql(recorded, "DELETE FROM bot_runs")
    with StateStore(recorded) as store:
        # The bot started only after that decision's bar: it cannot be blamed for it.
        store.start_run(signal + timedelta(minutes=5), 1, "paper")

        report = replay_day(store, DAY, config())

    assert cid not in {d.client_order_id for d in report.differences}
    assert report.windows[0][0] == signal + timedelta(minutes=5)


def test_a_stores_first_day_replays_from_its_first_snapshot_with_earlier_fills_undone(
    recorded: Path,
) -> None:
    # The bot's first session has no snapshot before the open: the day's cash at the open is
    # the first snapshot's (here: the close's, after every fill of the day) with the fills
    # between the open and that snapshot undone.
    first_day = date(2024, 1, 2)
    with StateStore(recorded) as store:
        fills_that_day = [f for f in store.fills() if f.timestamp.date() == first_day]
        report = replay_day(store, first_day, config())

    assert fills_that_day, "the first day traded"
    assert report.start_cash == config().cash
    assert report.start_positions == {}
    assert report.differences == []


def test_without_any_snapshot_of_the_day_or_before_the_starting_cash_is_unknown(
    recorded: Path,
) -> None:
    from fleece.errors import DataError

    sql(recorded, "DELETE FROM equity_curve")
    with StateStore(recorded) as store, pytest.raises(DataError, match="give --cash"):
        replay_day(store, date(2024, 1, 2), config())
    with StateStore(recorded) as store:
        assert replay_day(store, date(2024, 1, 2), config(), cash=config().cash).differences == []


def test_replay_of_a_day_without_bars_is_a_data_error(recorded: Path) -> None:
    from fleece.errors import DataError

    with StateStore(recorded) as store, pytest.raises(DataError, match="no bars recorded"):
        replay_day(store, date(2024, 2, 1), config())


def test_the_command_reports_the_altered_decision_and_fails(recorded: Path) -> None:
    cid = first_decision_of_the_day(recorded)
    sql(recorded, "UPDATE order_intents SET side = 'sell' WHERE client_order_id = ?", cid)
    runner = CliRunner()
    args = ["replay", "2024-01-03", "--db", str(recorded), "--config"]
    args += [str(REPO / "config" / "trading.yaml"), "--env-file", "/nonexistent/.env"]

    clean = runner.invoke(app, ["replay", "2024-01-04", *args[2:]])
    altered = runner.invoke(app, args)

    assert clean.exit_code == 0, clean.output
    assert "no difference" in clean.output
    assert altered.exit_code == 1, altered.output
    assert "not_replayed" in altered.output and "not_in_bot" in altered.output
