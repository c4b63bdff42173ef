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
strict) makes the two lists part. So does an exit signal that meets the bot's own buy still
waiting for a real bar: both engines cancel the buy (README, "Long only": an exit cancels the
bot's own working buy first) and sell nothing.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

import backtrader_run
import fleece_run
from common import REAL_DROP, STRATEGIES, Columns, Trade, dataset_columns

from fleece.backtest.runner import run_backtest
from fleece.models import Side
from fleece.state_store import IntentStatus

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


def an_entry_met_by_an_exit_before_it_fills() -> list[Columns]:
    """One symbol in one session (2 January 2024, open 14:30 UTC): 100 minutes of a steady rise
    fill the windows with the medium average above the slow one; a one-minute spike (minute
    101) and a dip follow, then the close of minute 110 lifts the fast average just above the
    medium one: an entry. Minutes 111 and 112 have no bar, so the buy waits for a real one; at
    the carried minute 111 the spike leaves the fast window and the fast average falls back
    below the medium one: an exit signal while the buy is still working. Minute 115 enters
    again."""
    closes = [100 + i / 100 for i in range(100)] + [100.99, 103.00] + [100.60] * 8 + [101.25]
    closes += [101.25 + k / 20 for k in range(3, 10)]  # minutes 113 to 119
    minutes = [*range(111), *range(113, 120)]
    opened = int(datetime(2024, 1, 2, 14, 30, tzinfo=UTC).timestamp())
    price = np.array(closes, dtype=np.float64)
    ts = np.array([opened + m * MINUTE for m in minutes], dtype=np.int64)
    volume = np.full(len(ts), 1_000, dtype=np.int64)
    return [Columns("XYZ", ts, price, price, price, price, volume)]


def test_an_exit_signal_cancels_the_buy_still_waiting_for_a_bar_in_both_engines() -> None:
    columns = an_entry_met_by_an_exit_before_it_fills()
    config = fleece_run.config_for("sma_crossover")

    result = run_backtest(fleece_run.market_of(columns), config)
    frames, bounds, _ = backtrader_run.grid_frames(columns)
    theirs = backtrader_run.run(frames, bounds, "sma_crossover")

    buys = [i for i in result.intents if i.side is Side.BUY]
    assert [(b.signal_timestamp.strftime("%H:%M"), b.status) for b in buys[:2]] == [
        ("16:20", IntentStatus.CANCELED),
        ("16:25", IntentStatus.FILLED),
    ]
    assert [t.timestamp for t in fleece_run.trades_of(result)][:1] == ["2024-01-02T16:26:00Z"]
    assert theirs == fleece_run.trades_of(result)
