"""A second engine agrees: backtrader, fed the minute grid by its own code, trades as ``fleece
backtest`` does, for the SMA crossover and for the Donchian breakout.

The benchmark's two engines (bench/) run here in-process on the real SPY and IBM minute bars of
October 2013, as they are and with 10 % of each symbol's minutes removed at random (seeded):

- alpaca-fleece (bench/fleece_run.py): ``run_backtest``, the decision path of ``fleece backtest``
  (the vectorised fast path for ``sma_crossover``; the bar-by-bar fast path for
  ``donchian_breakout``, which has no vectorised one);
- backtrader 1.9.78.123 (bench/backtrader_run.py): the documented minute-grid rule implemented
  again with pandas (each symbol's regular bars forward-filled onto the session minutes from its
  first one, carried minutes with volume 0 and high = low = close), backtrader's own indicators
  (SMA sums; highest high and lowest low for the channel), market orders that a volume filler
  lets fill only on real bars, expiry at the session's close; the strategies' rules written
  again from their documentation (README; donchian.py's docstring).

Every fill must be the same: time, symbol, side, quantity, price. A change to alpaca-fleece's
grid (not carrying empty minutes, filling on a carried minute, judging only minutes with a bar)
or to a strategy's rule (a channel that includes the current minute, a comparison that is not
strict) makes the two lists part.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

import backtrader_run
import fleece_run
from common import REAL_DROP, STRATEGIES, Columns, Trade, dataset_columns

from fleece.backtest.runner import run_backtest

MINUTE = 60


@dataclass(frozen=True)
class Both:
    """One data set's bars and each engine's fills."""

    columns: list[Columns]
    fleece: list[Trade]
    backtrader: list[Trade]


@functools.cache
def both_engines(dataset: str, strategy: str) -> Both:
    columns = list(dataset_columns(dataset, days=0, symbols=[], seed=0))
    result = run_backtest(fleece_run.market_of(columns), fleece_run.config_for(strategy))
    frames, bounds, _ = backtrader_run.grid_frames(columns, channels=True)
    return Both(columns, fleece_run.trades_of(result), backtrader_run.run(frames, bounds, strategy))


@pytest.fixture(
    scope="module",
    params=[(d, s) for s in STRATEGIES for d in ("real", "real-sparse")],
    ids="-".join,
)
def both(request: pytest.FixtureRequest) -> Both:
    return both_engines(*request.param)


@pytest.fixture(scope="module", params=STRATEGIES)
def sparse(request: pytest.FixtureRequest) -> Both:
    return both_engines("real-sparse", request.param)


def after_carried_minutes(trades: Sequence[Trade], columns: Sequence[Columns]) -> list[Trade]:
    """The fills whose previous minute, in the same session, had no bar of their symbol: the
    order was decided on a carried minute, or it waited over one for a real bar."""
    starts = {c.symbol: set(c.ts.tolist()) for c in columns}
    sessions = backtrader_run.session_bounds(columns).tolist()
    out = []
    for t in trades:
        before = int(datetime.fromisoformat(t.timestamp).timestamp()) - MINUTE
        in_session = any(o <= before < c for o, c in sessions)
        if in_session and before not in starts[t.symbol]:
            out.append(t)
    return out


def test_backtrader_fills_the_same_orders_at_the_same_times_and_prices(both: Both) -> None:
    assert len(both.fleece) >= 40
    assert {t.side for t in both.fleece} == {"buy", "sell"}
    assert both.backtrader == both.fleece


def test_the_sparse_bars_put_carried_minutes_in_the_way_of_orders(sparse: Both) -> None:
    dense = {c.symbol: len(c) for c in dataset_columns("real", days=0, symbols=[], seed=0)}
    removed = {c.symbol: 1 - len(c) / dense[c.symbol] for c in sparse.columns}
    touched = after_carried_minutes(sparse.fleece, sparse.columns)

    assert removed == pytest.approx({"IBM": REAL_DROP, "SPY": REAL_DROP}, abs=0.001)
    assert len(touched) >= 3
