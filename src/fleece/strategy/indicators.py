"""Moving averages over a whole series, exact: the one place windows of closes are summed.

The vectorised paths (:meth:`~fleece.strategy.Strategy.candidates`), the indicators strategies
draw (the backtest report and the dashboard draw :meth:`~fleece.strategy.Strategy.indicators`,
never SMAs of their own) and the strategy template all take their window sums here: int64
cumulative sums of tick prices, so every sum is exact and equal to the running sum a bar-by-bar
strategy keeps (property tests hold the two paths equal).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from fleece.models import TICKS_PER_DOLLAR

__all__ = ["sma", "window_sums"]

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]


def window_sums(ticks: npt.ArrayLike, window: int) -> I64:
    """The sum of the ``window`` values ending at each index; 0 where the window is not full.

    Args:
        ticks: integer prices (1/10,000 dollar), oldest first.
        window: the window length, at least 1.

    Raises:
        ValueError: ``window`` below 1.
    """
    if window < 1:
        raise ValueError(f"a window must be at least 1, got {window}")
    values = np.asarray(ticks, dtype=np.int64)
    n = len(values)
    sums = np.zeros(n, dtype=np.int64)
    if window <= n:
        total = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(values, out=total[1:])
        sums[window - 1 :] = total[window:] - total[: n - window + 1]
    return sums


def sma(ticks: npt.ArrayLike, window: int) -> F64:
    """The simple moving average in dollars at each index, NaN until the window is full.

    The exact tick sum divided by the window, then by ticks per dollar: for display (a
    decision compares the integer sums, never these floats).
    """
    sums = window_sums(ticks, window)
    out = np.full(len(sums), np.nan, dtype=np.float64)
    out[window - 1 :] = sums[window - 1 :].astype(np.float64) / window / TICKS_PER_DOLLAR
    return out
