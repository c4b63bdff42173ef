"""The SMA crossover rule over a whole series at once, exact, for fast backtests.

:func:`crossover_events` finds, for one symbol's closes, the bars where the price-only part of
the rule of :mod:`fleece.strategy.sma_crossover` fires; it agrees with
:class:`~fleece.strategy.sma_crossover.SmaCrossover` bar for bar. Window sums are exact int64
sums of tick prices (:func:`~fleece.strategy.indicators.window_sums`), and averages are
compared cross-multiplied, so the answer is exact. Whether a candidate becomes a trade depends
on the position, which is sequential: :func:`signals_from_events` applies the flat/holding
alternation assuming every entry fills.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from fleece.config_bounds import MAX_WINDOW_BARS
from fleece.models import Side
from fleece.strategy.indicators import window_sums

BoolArray = npt.NDArray[np.bool_]
# Headroom for int64: every intermediate (cumsum, window sum times a window length) stays below
# this, so numpy never wraps around silently.
_INT64_SAFE = 2**62


def validate_windows(fast: int, medium: int, slow: int) -> None:
    """Raise ``ValueError`` unless ``1 <= fast < medium < slow <= MAX_WINDOW_BARS``.

    Args:
        fast: the fast SMA window, in bars.
        medium: the medium SMA window, in bars.
        slow: the slow SMA window, in bars.
    """
    for name, value in (("fast", fast), ("medium", medium), ("slow", slow)):
        # bool is an int subclass; True as a window is a bug, not a window of one bar.
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{name} window must be an integer, got {value!r}")
    if fast < 1:
        raise ValueError(f"fast window must be at least 1 bar, got {fast}")
    if not fast < medium < slow:
        raise ValueError(f"windows must satisfy fast < medium < slow, got {fast}, {medium}, {slow}")
    if slow > MAX_WINDOW_BARS:
        # The bound trading.yaml has; a sweep's command-line windows meet it here.
        raise ValueError(
            f"slow window of {slow} bars is longer than a week of regular-session minutes "
            f"({MAX_WINDOW_BARS})"
        )


def crossover_events(
    close_ticks: npt.ArrayLike, fast: int = 10, medium: int = 30, slow: int = 90
) -> tuple[BoolArray, BoolArray]:
    """Return the candidate entry and exit bars of one symbol's close series.

    Bar ``t`` is an *up* candidate when the fast SMA crosses above the medium one
    (``fast[t-1] <= medium[t-1]`` and ``fast[t] > medium[t]``) while ``medium[t] > slow[t]``;
    a *down* candidate when it crosses below (``fast[t-1] >= medium[t-1]`` and
    ``fast[t] < medium[t]``). Neither is possible before the slow window is full (``t < slow - 1``).

    Args:
        close_ticks: closes as integers of 1/10,000 dollar (:func:`fleece.models.to_ticks`),
            oldest first, regular-session bars only.
        fast: fast SMA window in bars.
        medium: medium SMA window in bars.
        slow: slow SMA window in bars.

    Returns:
        ``(up, down)``: boolean arrays as long as the series.

    Raises:
        ValueError: on bad windows, a non-integer or non-1-D series, negative prices, or a
            series so large that int64 arithmetic could overflow.
    """
    validate_windows(fast, medium, slow)
    ticks = np.asarray(close_ticks)
    if ticks.ndim != 1:
        raise ValueError(f"close_ticks must be one-dimensional, got shape {ticks.shape}")
    n = len(ticks)
    if n == 0:
        return np.zeros(0, dtype=np.bool_), np.zeros(0, dtype=np.bool_)
    if not np.issubdtype(ticks.dtype, np.integer):
        raise ValueError(f"close_ticks must be integer ticks, got dtype {ticks.dtype}")
    ticks = ticks.astype(np.int64)
    low, high = int(ticks.min()), int(ticks.max())
    if low < 0:
        raise ValueError(f"close_ticks must be non-negative, got {low}")
    # Python ints here, so the check itself cannot overflow.
    if high * max(n, slow * slow) >= _INT64_SAFE:
        raise ValueError("close_ticks too large for exact int64 arithmetic")

    sum_fast = window_sums(ticks, fast)
    sum_medium = window_sums(ticks, medium)
    sum_slow = window_sums(ticks, slow)

    fast_vs_medium = np.sign(sum_fast * medium - sum_medium * fast)
    medium_vs_slow = np.sign(sum_medium * slow - sum_slow * medium)

    up = np.zeros(n, dtype=np.bool_)
    down = np.zeros(n, dtype=np.bool_)
    first = slow - 1  # the first bar with a full slow window; t-1 has fast and medium there
    if first < n:
        before, now = fast_vs_medium[first - 1 : n - 1], fast_vs_medium[first:]
        up[first:] = (before <= 0) & (now > 0) & (medium_vs_slow[first:] > 0)
        down[first:] = (before >= 0) & (now < 0)
    return up, down


def signals_from_events(up: npt.ArrayLike, down: npt.ArrayLike) -> list[tuple[int, Side]]:
    """Turn candidate events into the signal sequence, assuming every entry fills.

    Starting flat: an *up* bar while flat is a BUY and makes us hold; a *down* bar while
    holding is a SELL and makes us flat; every other candidate is ignored.

    Args:
        up: boolean entry candidates, as from :func:`crossover_events`.
        down: boolean exit candidates, the same length.

    Returns:
        ``(bar_index, side)`` pairs in time order, alternating BUY, SELL, BUY, ...

    Raises:
        ValueError: if the arrays differ in length.
    """
    up_arr = np.asarray(up, dtype=np.bool_)
    down_arr = np.asarray(down, dtype=np.bool_)
    if up_arr.shape != down_arr.shape:
        raise ValueError(f"up and down differ in shape: {up_arr.shape} vs {down_arr.shape}")
    signals: list[tuple[int, Side]] = []
    holding = False
    # Only candidate bars can change anything, so walk those rather than every bar.
    for index in np.flatnonzero(up_arr | down_arr).tolist():
        if not holding and up_arr[index]:
            signals.append((index, Side.BUY))
            holding = True
        elif holding and down_arr[index]:
            signals.append((index, Side.SELL))
            holding = False
    return signals
