"""Backtests on the live bot's own decision core, fills by the built-in exchange's engine.

The pieces, innermost first:

- :mod:`~fleece.backtest.data`: bars column-wise (:class:`MarketData`), synthetic or from files;
- :mod:`~fleece.backtest.market`: the exchange's bar store and calendar over those columns;
- :mod:`~fleece.backtest.sim_broker`: the broker interface over the exchange's engine;
- :mod:`~fleece.backtest.memory_store`: the state store's API in memory;
- :mod:`~fleece.backtest.signals` and :mod:`~fleece.backtest.loss_scan`: the fast path;
- :mod:`~fleece.backtest.runner`: :func:`run_backtest`, the bot's polling cycle over the bars;
- :mod:`~fleece.backtest.equity`, :mod:`~fleece.backtest.stats`,
  :mod:`~fleece.backtest.outputs`, :mod:`~fleece.backtest.report`: what a run gives back;
- :mod:`~fleece.backtest.replay` and :mod:`~fleece.backtest.download`: live days and real bars;
- :mod:`~fleece.backtest.cli`: ``fleece backtest``, ``fleece replay``, ``fleece data download``.

Typical use::

    from fleece.backtest import BacktestConfig, run_backtest, synthetic_market, write_outputs
    result = run_backtest(synthetic_market(["SPY"], date(2024, 1, 2), 20), BacktestConfig(limits))
    stats = write_outputs(result, Path("out"))
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fleece.lazy_exports import lazy_getattr

if TYPE_CHECKING:
    from fleece.backtest.data import MarketData, load_market, market_from_bars, synthetic_market
    from fleece.backtest.outputs import write_outputs
    from fleece.backtest.replay import ReplayReport, replay_day
    from fleece.backtest.result import BacktestConfig, BacktestResult
    from fleece.backtest.runner import run_backtest
    from fleece.backtest.stats import Stats, compute_stats

# Loaded on first use: numpy, the exchange's engine and plotly are not needed to import the CLI.
_HOMES = {
    "BacktestConfig": "result",
    "BacktestResult": "result",
    "MarketData": "data",
    "ReplayReport": "replay",
    "Stats": "stats",
    "compute_stats": "stats",
    "load_market": "data",
    "market_from_bars": "data",
    "replay_day": "replay",
    "run_backtest": "runner",
    "synthetic_market": "data",
    "write_outputs": "outputs",
}
__all__ = [
    "BacktestConfig",
    "BacktestResult",
    "MarketData",
    "ReplayReport",
    "Stats",
    "compute_stats",
    "load_market",
    "market_from_bars",
    "replay_day",
    "run_backtest",
    "synthetic_market",
    "write_outputs",
]


__getattr__ = lazy_getattr(__name__, _HOMES)
