"""Strategies: pure, synchronous objects that turn minutes of the grid into signals.

The public API (see :mod:`fleece.strategy.api` and docs/strategies.md): subclass
:class:`Strategy` naming its parameters (``Strategy[MyParams]``, a :class:`StrategyParams`
model: the class's ``Params``, the type of ``self.params``), decide in
:meth:`Strategy.on_minute`, draw with :meth:`Strategy.indicators`, and optionally offer a
vectorised :meth:`Strategy.candidates` (prove it with
:func:`fleece.strategy.testing.check_vectorised`).
Strategies are found by name, entry point (``fleece.strategies``) or ``file.py:Class``
(:mod:`fleece.strategy.registry`).
"""

from __future__ import annotations

from fleece.config_bounds import MAX_WINDOW_BARS, WindowBars
from fleece.minute_grid import GridSeries
from fleece.models import TICKS_PER_DOLLAR, Bar, Side, Signal, to_ticks
from fleece.strategy.api import MinuteContext, Strategy, StrategyParams, nan_series
from fleece.strategy.donchian import DonchianBreakout
from fleece.strategy.indicators import sma, window_sums
from fleece.strategy.opening_range import OpeningRange
from fleece.strategy.sma_crossover import (
    REASON_CROSS_ABOVE,
    REASON_CROSS_BELOW,
    SmaCrossover,
    SymbolState,
)
from fleece.strategy.vectorized import crossover_events, signals_from_events, validate_windows

__all__ = [
    "MAX_WINDOW_BARS",
    "REASON_CROSS_ABOVE",
    "REASON_CROSS_BELOW",
    "TICKS_PER_DOLLAR",
    "Bar",
    "DonchianBreakout",
    "GridSeries",
    "MinuteContext",
    "OpeningRange",
    "Side",
    "Signal",
    "SmaCrossover",
    "Strategy",
    "StrategyParams",
    "SymbolState",
    "WindowBars",
    "crossover_events",
    "nan_series",
    "signals_from_events",
    "sma",
    "to_ticks",
    "validate_windows",
    "window_sums",
]
