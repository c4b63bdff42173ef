"""The realised P&L of a backtest: the statistics, the summary and the dashboard agree to the cent.

A real-bar backtest (SPY and IBM, October 2013) whose orders fill in parts, as Alpaca's paper
account fills about one order in ten, so that positions are built and closed in lots at
different prices: the fills on which first in, first out and average cost disagree.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from backtest_helpers import config, real

from fleece.backtest.runner import Run
from fleece.exchange.partial_fills import PaperPartialFills
from fleece.state_store import StateStore

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from accounting_helpers import fifo_realised_cents, realised_three_ways


def test_stats_summary_and_dashboard_realise_the_same_pnl_on_a_real_bar_backtest(
    tmp_path: Path,
) -> None:
    db = tmp_path / "trades.db"
    with StateStore(db) as store:
        run = Run(real(), config(slippage_bps=5.0, mode="exact"), store=store)
        run.engine.partial_fills = PaperPartialFills(0.5, seed=1)
        asyncio.run(run.run_exact())

    realised = realised_three_ways(db, tmp_path)

    assert len(realised.fills) > 20
    assert realised.summary == realised.stats == realised.dashboard
    # These fills tell the rules apart: had any of the three matched first in, first out, it
    # would differ from the others.
    assert fifo_realised_cents(realised.fills) != round(realised.stats * 100)
