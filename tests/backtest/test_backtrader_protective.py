"""A second engine agrees on protective exits: backtrader's Stop and Limit orders, as an OCO pair,
stop out and take profit where alpaca-fleece's exchange does.

The benchmark's strategy (bench/backtrader_run.py) with each position's stop-loss and
take-profit (bench/backtrader_protective.py: backtrader's own ``Stop`` and ``Limit`` orders, one
cancelling the other, sent at the poll after the entry fills) against ``run_backtest`` with
``risk.stop_loss_pct`` and ``risk.take_profit_pct`` held at the exchange, on the real SPY and
IBM minute bars of October 2013, as they are and with 10 % of the minutes removed. Every fill
must be the same (time, symbol, side, quantity, price), and so must every stop-out and
take-profit. A change to the exchange's stop rules (filling a gap at the stop instead of the
open, a take-profit before the stop in a bar reaching both, a stop on a carried minute, the
levels' rounding) makes the lists part.
"""

from __future__ import annotations

import functools
import sys
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

import backtrader_protective
import backtrader_run
import fleece_run
from common import Trade, dataset_columns

from fleece.backtest.runner import run_backtest
from fleece.protection import Protection, fill_reasons

STOP_LOSS_PCT = 0.001
TAKE_PROFIT_PCT = 0.0015
Exit = tuple[str, str, str]  # (fill time, symbol, reason)


@dataclass(frozen=True)
class Both:
    """Each engine's fills and protective exits over one data set."""

    fleece: list[Trade]
    fleece_exits: list[Exit]
    backtrader: list[Trade]
    backtrader_exits: list[Exit]


@functools.cache
def both_engines(dataset: str) -> Both:
    columns = list(dataset_columns(dataset, days=0, symbols=[], seed=0))
    protection = Protection(stop_loss_pct=STOP_LOSS_PCT, take_profit_pct=TAKE_PROFIT_PCT)
    result = run_backtest(
        fleece_run.market_of(columns), replace(fleece_run.CONFIG, protection=protection)
    )
    exits = sorted(
        (f.timestamp.isoformat().replace("+00:00", "Z"), f.symbol, reason.value)
        for f, reason in fill_reasons(result.fills, result.intents).items()
    )
    frames, bounds, _ = backtrader_run.grid_frames(columns)
    trades, theirs = backtrader_protective.run_protected(
        frames, bounds, STOP_LOSS_PCT, TAKE_PROFIT_PCT
    )
    return Both(
        fleece_run.trades_of(result), exits, trades, backtrader_protective.exit_times(theirs)
    )


@pytest.fixture(scope="module", params=["real", "real-sparse"])
def both(request: pytest.FixtureRequest) -> Both:
    return both_engines(request.param)


def test_backtrader_fills_the_same_orders_protective_exits_included(both: Both) -> None:
    assert len(both.fleece) >= 40
    assert both.backtrader == both.fleece


def test_backtrader_stops_out_and_takes_profit_at_the_same_fills(both: Both) -> None:
    reasons = [reason for *_, reason in both.fleece_exits]

    assert reasons.count("stop_loss") >= 5
    assert reasons.count("take_profit") >= 5
    assert both.backtrader_exits == both.fleece_exits


def test_the_protected_run_differs_from_the_unprotected_one(both: Both) -> None:
    plain = fleece_run.trades_of(
        run_backtest(
            fleece_run.market_of(dataset_columns("real", days=0, symbols=[], seed=0)),
            fleece_run.CONFIG,
        )
    )

    assert both.fleece != plain
