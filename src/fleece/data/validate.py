"""Bar validation shared by the file importer and the live polling feed.

One vocabulary of reasons, whoever finds the problem:

==========================  ====================================================
``missing_field``           a required key/column is absent or empty
``wrong_type``              a value cannot be read as the expected type
``naive_timestamp``         the timestamp carries no UTC offset
``timestamp_out_of_range``  the start lies outside the market calendar's range
``nan_price``               an OHLC price is NaN
``infinite_price``          an OHLC price is infinite
``non_positive_price``      an OHLC price is zero or negative
``value_out_of_range``      a price of :data:`MAX_PRICE` or more, or a volume beyond
                            :data:`MAX_VOLUME`: no stock has traded so
``high_below_low``          high < low
``high_below_open_close``   high < max(open, close)
``low_above_open_close``    low > min(open, close)
``negative_volume``         volume < 0
``duplicate_timestamp``     same start as a kept bar of the symbol
``out_of_order``            not in time order with the symbol's kept bars
``from_the_future``         the bar has not closed yet (start + 1 minute > now)
==========================  ====================================================

Order, for a whole series (a file, or :func:`clean_series`): of the bars that pass every other
check, the longest run in strictly increasing time is kept, the earliest such run when several
are as long; each other bar is refused alone. One mis-dated row (a 2030 bar inside 2013 data)
thus loses only itself, where comparing each bar with the last accepted one would keep the 2030
bar and refuse every good bar after it. The live feed, which cannot see later bars, compares
with the last accepted bar (:func:`bar_problem`'s ``previous``) and refuses bars from the future.

Reading raw values into bars (``missing_field``, ``wrong_type``, ``naive_timestamp``) is
:mod:`fleece.data.parsing`'s.
"""

from __future__ import annotations

import gc
import math
from bisect import bisect_left
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from numpy.typing import NDArray

from fleece.calendar import ONE_MINUTE
from fleece.data.parsing import EPOCH, ONE_US
from fleece.models import Bar

#: No share has ever traded at a billion dollars (the dearest, BRK.A, is under a million);
#: bounding prices also keeps them inside the integer ticks the backtest computes in.
MAX_PRICE = 1e9
#: More shares in one minute than any stock trades in a year; beyond it int64 arithmetic on
#: volumes (cumulative sums, vwap) would lose exactness.
MAX_VOLUME = 2**53

# Every reason, in order of precedence when a bar has several problems. Column-wise code
# uses ``REASONS.index(reason) + 1`` as the reason's code (0 meaning "fine").
REASONS: tuple[str, ...] = (
    "missing_field",
    "wrong_type",
    "naive_timestamp",
    "timestamp_out_of_range",
    "nan_price",
    "infinite_price",
    "non_positive_price",
    "value_out_of_range",
    "high_below_low",
    "high_below_open_close",
    "low_above_open_close",
    "negative_volume",
    "duplicate_timestamp",
    "out_of_order",
    "from_the_future",
)
REASON_CODES: dict[str, int] = {reason: code for code, reason in enumerate(REASONS, start=1)}


@dataclass(frozen=True, slots=True)
class BarProblem:
    """A bar (or raw row) that was refused, and why.

    Attributes:
        symbol: the symbol the bar was for.
        timestamp: the bar's start, when it could be read.
        reason: one word of the module's vocabulary.
        source: where the bar came from: ``"SPY.csv:42"`` (file and line) or ``"feed"``.
    """

    symbol: str
    timestamp: datetime | None
    reason: str
    source: str


def bar_problem(
    bar: Bar,
    previous: datetime | None = None,
    now: datetime | None = None,
    span: tuple[datetime, datetime] | None = None,
) -> str | None:
    """Say what is wrong with ``bar``, or None when it can be used.

    Args:
        bar: the bar to check.
        previous: start of the last accepted bar of the same symbol, if any.
        now: the current time; when given, bars that have not closed yet are refused
            (the live feed must never act on a bar still in progress).
        span: ``[first, end)`` of the starts the market calendar covers, when known.

    Returns:
        A reason from the module's vocabulary, or None.
    """
    ts = bar.timestamp
    if ts.tzinfo is None or ts.utcoffset() is None:
        return "naive_timestamp"
    if span is not None and not span[0] <= ts < span[1]:
        return "timestamp_out_of_range"
    reason = _price_problem(bar.open, bar.high, bar.low, bar.close)
    if reason is None and bar.volume > MAX_VOLUME:
        reason = "value_out_of_range"
    if reason is not None:
        return reason
    if bar.volume < 0:
        return "negative_volume"
    if previous is not None:
        if ts == previous:
            return "duplicate_timestamp"
        if ts < previous:
            return "out_of_order"
    if now is not None and ts + ONE_MINUTE > now:
        return "from_the_future"
    return None


def _price_problem(open_: float, high: float, low: float, close: float) -> str | None:
    prices = (open_, high, low, close)
    if any(math.isnan(p) for p in prices):
        return "nan_price"
    if any(math.isinf(p) for p in prices):
        return "infinite_price"
    if any(p <= 0 for p in prices):
        return "non_positive_price"
    if any(p >= MAX_PRICE for p in prices):
        return "value_out_of_range"
    if high < low:
        return "high_below_low"
    if high < max(open_, close):
        return "high_below_open_close"
    if low > min(open_, close):
        return "low_above_open_close"
    return None


def kept_in_time_order(starts: Sequence[int]) -> list[bool]:
    """Which of ``starts`` to keep: the longest strictly increasing run, earliest on ties.

    The rows left out are the fewest whose removal puts the rest in strict time order, so a
    single mis-dated row costs only itself. Of several equally long runs, the one made of the
    earliest rows is kept: of duplicates the first, of two swapped rows the one read first.
    O(n log n); callers skip it for series already in order.

    Args:
        starts: bar starts as integers (e.g. microseconds since the epoch), in arrival order.

    Returns:
        Per start, True to keep it.
    """
    # rising_from[i]: the length of the longest increasing run that starts at row i. Scanning
    # backwards, heads[k] holds minus the latest start of a run of length k + 1 seen so far.
    rising_from = [0] * len(starts)
    heads: list[int] = []
    for i in range(len(starts) - 1, -1, -1):
        k = bisect_left(heads, -starts[i])
        rising_from[i] = k + 1
        if k == len(heads):
            heads.append(-starts[i])
        else:
            heads[k] = -starts[i]
    # Greedy from the front: the earliest row that can still begin a run of the needed length.
    keep = [False] * len(starts)
    need = len(heads)
    last: int | None = None
    for i, start in enumerate(starts):
        if need and rising_from[i] == need and (last is None or start > last):
            keep[i] = True
            last = start
            need -= 1
    return keep


def order_reasons(starts: Sequence[int]) -> list[str | None]:
    """Per start, None to keep it, else ``duplicate_timestamp`` or ``out_of_order``."""
    keep = kept_in_time_order(starts)
    kept = {s for s, k in zip(starts, keep, strict=True) if k}
    return [
        None if k else ("duplicate_timestamp" if s in kept else "out_of_order")
        for s, k in zip(starts, keep, strict=True)
    ]


@contextmanager
def paused_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector while building many bars at once.

    Creating a million :class:`Bar` objects triggers hundreds of collections that scan a
    growing heap and find nothing to free (bars hold no cycles): pausing them halves the time
    of a large import. Reference counting still frees memory; a paused collector only defers.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def clean_series(
    bars: Iterable[Bar], source: str, span: tuple[datetime, datetime] | None = None
) -> tuple[list[Bar], list[BarProblem]]:
    """Keep the usable bars in their order and report the others.

    Each symbol's order is judged over the whole series (see the module docstring), so one bad
    bar never causes good ones to be refused; of duplicates the first is kept.

    Args:
        bars: bars of one or several symbols, in the order they arrived.
        source: recorded on every problem (a file name, or ``"feed"``).
        span: ``[first, end)`` of the starts the market calendar covers, when known.

    Returns:
        The accepted bars and the problems, both in input order.
    """
    series = list(bars)
    reasons = [bar_problem(bar, span=span) for bar in series]
    by_symbol: dict[str, list[int]] = {}
    for i, (bar, reason) in enumerate(zip(series, reasons, strict=True)):
        if reason is None:
            by_symbol.setdefault(bar.symbol, []).append(i)
    for rows in by_symbol.values():
        starts = [(series[i].timestamp - EPOCH) // ONE_US for i in rows]
        for i, reason in zip(rows, order_reasons(starts), strict=True):
            reasons[i] = reason
    kept: list[Bar] = []
    problems: list[BarProblem] = []
    for bar, reason in zip(series, reasons, strict=True):
        if reason is None:
            kept.append(bar)
        else:
            ts = bar.timestamp if reason != "naive_timestamp" else None
            problems.append(BarProblem(bar.symbol, ts, reason, source))
    return kept, problems


@dataclass(frozen=True)
class BarColumns:
    """One symbol's raw bars column-wise, as an importer reads them, before judging.

    Attributes:
        ts_us: bar starts in microseconds since the epoch, UTC (anything where unreadable).
        open: opening prices (NaN allowed: it is judged).
        high: high prices.
        low: low prices.
        close: closing prices.
        volume: volumes.
        parse_codes: per row, 0 or the code of a reading problem (``missing_field``,
            ``wrong_type``, ``naive_timestamp``) that makes the other values meaningless.
    """

    ts_us: NDArray[np.int64]
    open: NDArray[np.float64]
    high: NDArray[np.float64]
    low: NDArray[np.float64]
    close: NDArray[np.float64]
    volume: NDArray[np.int64]
    parse_codes: NDArray[np.int8]


def judge_columns(columns: BarColumns, span_us: tuple[int, int] | None = None) -> NDArray[np.int8]:
    """Judge every row at once, exactly as :func:`clean_series` would one by one.

    Args:
        columns: one symbol's rows.
        span_us: ``[first, end)`` of the starts the market calendar covers, in microseconds
            since the epoch, when known.

    Returns:
        Per row, 0 for a bar to keep or the code (see :data:`REASON_CODES`) of its problem.
    """
    codes = columns.parse_codes.copy()

    def mark(mask: NDArray[np.bool_] | np.bool_, reason: str) -> None:
        codes[(codes == 0) & mask] = REASON_CODES[reason]

    if span_us is not None:
        first, end = span_us
        mark((columns.ts_us < first) | (columns.ts_us >= end), "timestamp_out_of_range")
    prices = np.stack([columns.open, columns.high, columns.low, columns.close])
    with np.errstate(invalid="ignore"):  # NaN rows are already marked; comparisons just say False
        mark(np.isnan(prices).any(axis=0), "nan_price")
        mark(np.isinf(prices).any(axis=0), "infinite_price")
        mark((prices <= 0).any(axis=0), "non_positive_price")
        huge = (prices >= MAX_PRICE).any(axis=0) | (columns.volume > MAX_VOLUME)
        mark(huge, "value_out_of_range")
        mark(columns.high < columns.low, "high_below_low")
        mark(columns.high < np.maximum(columns.open, columns.close), "high_below_open_close")
        mark(columns.low > np.minimum(columns.open, columns.close), "low_above_open_close")
    mark(columns.volume < 0, "negative_volume")
    rows = np.flatnonzero(codes == 0)
    starts = columns.ts_us[rows]
    if len(starts) > 1 and not (np.diff(starts) > 0).all():
        # Only files out of order pay for the whole-series rule, in Python.
        reasons = order_reasons(starts.tolist())
        for row, reason in zip(rows.tolist(), reasons, strict=True):
            if reason is not None:
                codes[row] = REASON_CODES[reason]
    return codes
