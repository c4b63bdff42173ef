"""The statistics a sweep can rank runs by (kept import-light for the command line's help)."""

from __future__ import annotations

#: Fields of :class:`~fleece.backtest.stats.Stats` a sweep can rank by; for each of them higher
#: is better (max_drawdown is a fraction <= 0, so closer to zero ranks higher).
METRICS = (
    "sharpe",
    "sortino",
    "total_return",
    "cagr",
    "max_drawdown",
    "profit_factor",
    "win_rate",
    "final_equity",
)

#: Metrics shown as percentages.
PERCENT_METRICS = frozenset({"total_return", "cagr", "max_drawdown", "win_rate"})

#: What runs are ranked by unless ``--metric`` says otherwise (docs/sweep.md).
DEFAULT_METRIC = "sharpe"
