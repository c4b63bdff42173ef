"""Strategies: pure, synchronous objects that turn bars into signals.

A strategy sees only bars and whether the caller holds the symbol; it does no I/O and reads no
clock, so the live runtime, the built-in exchange and the backtest drive the same object.
:func:`build_strategy` turns a configured name and parameters into a strategy, rejecting unknown
names and parameters by name.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Protocol

from fleece.models import Bar, Signal
from fleece.strategy.sma_crossover import (
    REASON_CROSS_ABOVE,
    REASON_CROSS_BELOW,
    SmaCrossover,
    SymbolState,
    validate_windows,
)
from fleece.strategy.vectorized import crossover_events, signals_from_events

__all__ = [
    "REASON_CROSS_ABOVE",
    "REASON_CROSS_BELOW",
    "STRATEGIES",
    "SmaCrossover",
    "Strategy",
    "SymbolState",
    "build_strategy",
    "crossover_events",
    "signals_from_events",
    "validate_windows",
]


class Strategy(Protocol):
    """What the runtime and the backtest need from a strategy."""

    name: str

    def on_bar(self, bar: Bar, holding: bool) -> Signal | None:
        """Process one bar at its close; return a signal or ``None``."""
        ...

    def warmup(self, bars: Iterable[Bar]) -> None:
        """Feed history without producing signals."""
        ...

    def smas(self, symbol: str) -> tuple[float | None, float | None, float | None]:
        """Indicator values for display."""
        ...


STRATEGIES: Mapping[str, tuple[str, ...]] = {
    SmaCrossover.name: ("fast", "medium", "slow"),
}


def build_strategy(name: str, params: Mapping[str, int] | None = None) -> SmaCrossover:
    """Build the strategy called ``name`` with ``params``.

    Args:
        name: a key of :data:`STRATEGIES`, e.g. ``"sma_crossover"``.
        params: keyword parameters; omitted ones take the strategy's defaults.

    Returns:
        The configured strategy.

    Raises:
        ValueError: for an unknown name, an unknown parameter (named in the message) or
            invalid values.
    """
    if name not in STRATEGIES:
        known = ", ".join(sorted(STRATEGIES))
        raise ValueError(f"unknown strategy {name!r} (known: {known})")
    given = dict(params or {})
    unknown = sorted(set(given) - set(STRATEGIES[name]))
    if unknown:
        raise ValueError(f"unknown parameter(s) for {name}: {', '.join(unknown)}")
    return SmaCrossover(**given)
