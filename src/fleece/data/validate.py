"""Bar validation shared by the file importer and the live polling feed.

One vocabulary of reasons, whoever finds the problem:

==========================  ====================================================
``missing_field``           a required key/column is absent or empty
``wrong_type``              a value cannot be read as the expected type
``naive_timestamp``         the timestamp carries no UTC offset
``nan_price``               an OHLC price is NaN
``infinite_price``          an OHLC price is infinite
``non_positive_price``      an OHLC price is zero or negative
``high_below_low``          high < low
``high_below_open_close``   high < max(open, close)
``low_above_open_close``    low > min(open, close)
``negative_volume``         volume < 0
``duplicate_timestamp``     same start as the last accepted bar of the symbol
``out_of_order``            earlier start than the last accepted bar of the symbol
``from_the_future``         the bar has not closed yet (start + 1 minute > now)
==========================  ====================================================
"""

from __future__ import annotations

import gc
import math
import numbers
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
from numpy.typing import NDArray

from fleece.models import Bar

BAR_LENGTH = timedelta(minutes=1)

# Every reason, in order of precedence when a bar has several problems. Column-wise code
# uses ``REASONS.index(reason) + 1`` as the reason's code (0 meaning "fine").
REASONS: tuple[str, ...] = (
    "missing_field",
    "wrong_type",
    "naive_timestamp",
    "nan_price",
    "infinite_price",
    "non_positive_price",
    "high_below_low",
    "high_below_open_close",
    "low_above_open_close",
    "negative_volume",
    "duplicate_timestamp",
    "out_of_order",
    "from_the_future",
)
REASON_CODES: dict[str, int] = {reason: code for code, reason in enumerate(REASONS, start=1)}

# (Alpaca's short key, our long key) for every field parse_bar understands.
_KEYS: dict[str, tuple[str, str]] = {
    "timestamp": ("t", "timestamp"),
    "open": ("o", "open"),
    "high": ("h", "high"),
    "low": ("l", "low"),
    "close": ("c", "close"),
    "volume": ("v", "volume"),
    "trade_count": ("n", "trade_count"),
    "vwap": ("vw", "vwap"),
}


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
    bar: Bar, previous: datetime | None = None, now: datetime | None = None
) -> str | None:
    """Say what is wrong with ``bar``, or None when it can be used.

    Args:
        bar: the bar to check.
        previous: start of the last accepted bar of the same symbol, if any.
        now: the current time; when given, bars that have not closed yet are refused
            (the live feed must never act on a bar still in progress).

    Returns:
        A reason from the module's vocabulary, or None.
    """
    ts = bar.timestamp
    if ts.tzinfo is None or ts.utcoffset() is None:
        return "naive_timestamp"
    reason = _price_problem(bar.open, bar.high, bar.low, bar.close)
    if reason is not None:
        return reason
    if bar.volume < 0:
        return "negative_volume"
    if previous is not None:
        if ts == previous:
            return "duplicate_timestamp"
        if ts < previous:
            return "out_of_order"
    if now is not None and ts + BAR_LENGTH > now:
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
    if high < low:
        return "high_below_low"
    if high < max(open_, close):
        return "high_below_open_close"
    if low > min(open_, close):
        return "low_above_open_close"
    return None


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


def clean_series(bars: Iterable[Bar], source: str) -> tuple[list[Bar], list[BarProblem]]:
    """Keep the usable bars in their order and report the others.

    Ordering is checked per symbol against the last *accepted* bar, so one bad bar
    cannot cause its good successors to be refused; of duplicates the first is kept.

    Args:
        bars: bars of one or several symbols, in the order they arrived.
        source: recorded on every problem (a file name, or ``"feed"``).

    Returns:
        The accepted bars and the problems, both in input order.
    """
    kept: list[Bar] = []
    problems: list[BarProblem] = []
    last: dict[str, datetime] = {}
    for bar in bars:
        reason = bar_problem(bar, last.get(bar.symbol))
        if reason is None:
            kept.append(bar)
            last[bar.symbol] = bar.timestamp
        else:
            ts = bar.timestamp if reason != "naive_timestamp" else None
            problems.append(BarProblem(bar.symbol, ts, reason, source))
    return kept, problems


def parse_bar(symbol: str, raw: Mapping[str, object]) -> Bar | str:
    """Turn an API object or a CSV row into a :class:`Bar`, never raising.

    Accepts Alpaca's keys (``t o h l c v n vw``) or long names (``timestamp open high low
    close volume trade_count vwap``). Numbers may be given as strings; timestamps as ISO-8601
    strings with an offset or ``Z``, or as aware datetimes. The timestamp is converted to UTC.
    Prices are not judged here: pass the result through :func:`bar_problem`.

    Args:
        symbol: the symbol to put on the bar.
        raw: the mapping to read.

    Returns:
        The bar, or a reason: ``"missing_field"``, ``"wrong_type"`` or ``"naive_timestamp"``.
    """
    values: dict[str, object] = {}
    for field, keys in _KEYS.items():
        values[field] = _lookup(raw, keys)
    required = ("timestamp", "open", "high", "low", "close", "volume")
    if any(values[f] is None or values[f] == "" for f in required):
        return "missing_field"
    ts = parse_timestamp(values["timestamp"])
    if isinstance(ts, str):
        return ts
    prices = [parse_float(values[f]) for f in ("open", "high", "low", "close")]
    volume = parse_int(values["volume"])
    trade_count = parse_int(values["trade_count"]) if _present(values["trade_count"]) else None
    vwap = parse_float(values["vwap"]) if _present(values["vwap"]) else None
    if any(p is None for p in prices) or volume is None:
        return "wrong_type"
    if _present(values["trade_count"]) and trade_count is None:
        return "wrong_type"
    if _present(values["vwap"]) and vwap is None:
        return "wrong_type"
    open_, high, low, close = (p for p in prices if p is not None)
    return Bar(symbol, ts, open_, high, low, close, volume, trade_count, vwap)


def _lookup(raw: Mapping[str, object], keys: tuple[str, str]) -> object:
    for key in keys:
        if key in raw:
            return raw[key]
    return None


def _present(value: object) -> bool:
    return value is not None and value != ""


def parse_timestamp(value: object) -> datetime | str:
    """Read an aware timestamp (ISO-8601 string or datetime) as UTC.

    Returns:
        The UTC datetime, or ``"naive_timestamp"`` / ``"wrong_type"``.
    """
    if isinstance(value, str):
        try:
            # fromisoformat accepts "Z" and offsets from Python 3.11 on.
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            return "wrong_type"
    if not isinstance(value, datetime):
        return "wrong_type"
    if value.tzinfo is None or value.utcoffset() is None:
        return "naive_timestamp"
    return value.astimezone(UTC)


def parse_float(value: object) -> float | None:
    """Read a float from a number or numeric string; None when it is not one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, numbers.Real):  # also numpy scalars, which pandas and pyarrow hand out
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def parse_int(value: object) -> int | None:
    """Read an integer from an int, an integral float or a numeric string; else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            pass  # "1200.0" is still a whole number: try it as a float below
    number = parse_float(value)
    if number is None or not math.isfinite(number) or not number.is_integer():
        return None
    return int(number)


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


def judge_columns(columns: BarColumns) -> NDArray[np.int8]:
    """Judge every row at once, exactly as :func:`clean_series` would one by one.

    Returns:
        Per row, 0 for a bar to keep or the code (see :data:`REASON_CODES`) of its problem.
    """
    codes = columns.parse_codes.copy()

    def mark(mask: NDArray[np.bool_] | np.bool_, reason: str) -> None:
        codes[(codes == 0) & mask] = REASON_CODES[reason]

    prices = np.stack([columns.open, columns.high, columns.low, columns.close])
    with np.errstate(invalid="ignore"):  # NaN rows are already marked; comparisons just say False
        mark(np.isnan(prices).any(axis=0), "nan_price")
        mark(np.isinf(prices).any(axis=0), "infinite_price")
        mark((prices <= 0).any(axis=0), "non_positive_price")
        mark(columns.high < columns.low, "high_below_low")
        mark(columns.high < np.maximum(columns.open, columns.close), "high_below_open_close")
        mark(columns.low > np.minimum(columns.open, columns.close), "low_above_open_close")
    mark(columns.volume < 0, "negative_volume")
    # The last accepted start before each row is the running maximum over the rows that passed
    # the checks above: a row refused for its order never raises that maximum, so including it
    # changes nothing, and the sequential rule of clean_series becomes one accumulate.
    candidate = codes == 0
    floor = np.iinfo(np.int64).min
    running = np.maximum.accumulate(np.where(candidate, columns.ts_us, floor))
    previous = np.concatenate(([floor], running))[:-1]
    duplicate = candidate & (columns.ts_us == previous)
    earlier = candidate & (columns.ts_us < previous)
    mark(duplicate, "duplicate_timestamp")
    mark(earlier, "out_of_order")
    return codes
