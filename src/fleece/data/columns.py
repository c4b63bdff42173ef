"""A bar file's table read column-wise: typed numpy columns plus, per row, a reading problem.

Every column is read as text or as its Parquet type and typed here, so that one bad cell marks
its row (``missing_field``, ``wrong_type``, ``naive_timestamp``, ``value_out_of_range``) instead of
failing the whole file; :func:`fleece.data.validate.judge_columns` then judges the values.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import repeat
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

from fleece.data.parsing import EPOCH, ONE_US, US_PER_S, parse_float, parse_timestamp
from fleece.data.validate import (
    MAX_VOLUME,
    REASON_CODES,
    BarColumns,
    paused_gc,
)
from fleece.errors import DataError
from fleece.models import Bar

REQUIRED = ("timestamp", "open", "high", "low", "close", "volume")
OPTIONAL = ("trade_count", "vwap")
_ALIASES = {
    "t": "timestamp",
    "o": "open",
    "h": "high",
    "l": "low",
    "c": "close",
    "v": "volume",
    "n": "trade_count",
    "vw": "vwap",
}


@dataclass(frozen=True)
class ReadColumns:
    """A file's columns: the judged ones, plus what only the bars need."""

    columns: BarColumns
    ts_readable: NDArray[np.bool_]
    trade_count: list[Any] | None
    vwap: list[Any] | None

    def timestamp(self, row: int) -> datetime | None:
        if not self.ts_readable[row]:
            return None
        return EPOCH + timedelta(microseconds=int(self.columns.ts_us[row]))

    def bars(self, symbol: str, rows: NDArray[np.intp]) -> list[Bar]:
        cols = self.columns
        with paused_gc():
            return [
                Bar(s, t, o, h, lo, c, v, n, vw)
                for s, t, o, h, lo, c, v, n, vw in zip(
                    repeat(symbol),
                    _datetimes(cols.ts_us[rows]),
                    cols.open[rows].tolist(),
                    cols.high[rows].tolist(),
                    cols.low[rows].tolist(),
                    cols.close[rows].tolist(),
                    cols.volume[rows].tolist(),
                    _pick(self.trade_count, rows),
                    _pick(self.vwap, rows),
                    strict=False,  # repeat() never ends; the other iterables have equal lengths
                )
            ]


def canonical(name: str) -> str:
    """A column's name as the importer knows it (``" T "`` -> ``"timestamp"``)."""
    key = str(name).strip().lower()
    return _ALIASES.get(key, key)


def read_columns(table: Any, path: Path) -> ReadColumns:
    by_name: dict[str, Any] = {}
    for name, column in zip(table.column_names, table.columns, strict=True):
        by_name.setdefault(canonical(name), column.combine_chunks())
    missing = [name for name in REQUIRED if name not in by_name]
    if missing:
        raise DataError(f"{path}: missing column(s) {', '.join(missing)}")
    ts, ts_codes = _timestamps(by_name["timestamp"])
    codes = [ts_codes]
    prices: list[NDArray[np.float64]] = []
    for name in ("open", "high", "low", "close"):
        values, nulls, wrong = _floats(by_name[name])
        prices.append(values)
        codes.append(_codes(nulls, wrong))
    volume, nulls, wrong, huge = _integers(by_name["volume"])
    codes.append(_codes(nulls, wrong, huge))
    optional: dict[str, list[Any] | None] = {}
    for name in OPTIONAL:
        if name not in by_name:
            optional[name] = None
            continue
        values_any: NDArray[Any]
        if name == "trade_count":
            values_any, nulls, wrong, huge = _integers(by_name[name])
        else:
            values_any, nulls, wrong = _floats(by_name[name])
            huge = np.zeros_like(nulls)
        optional[name] = [
            None if null else v for v, null in zip(values_any.tolist(), nulls, strict=True)
        ]
        codes.append(_codes(np.zeros_like(nulls), wrong, huge))
    open_, high, low, close = prices
    parse_codes = _first_code(codes, table.num_rows)
    columns = BarColumns(ts, open_, high, low, close, volume, parse_codes)
    return ReadColumns(columns, ts_codes == 0, optional["trade_count"], optional["vwap"])


def _codes(
    missing: NDArray[np.bool_], wrong: NDArray[np.bool_], huge: NDArray[np.bool_] | None = None
) -> NDArray[np.int8]:
    codes = np.zeros(len(missing), dtype=np.int8)
    if huge is not None:
        codes[huge] = REASON_CODES["value_out_of_range"]
    codes[wrong] = REASON_CODES["wrong_type"]
    codes[missing] = REASON_CODES["missing_field"]
    return codes


def _first_code(codes: list[NDArray[np.int8]], rows: int) -> NDArray[np.int8]:
    # A row's reason is the first one found going through the columns left to right.
    result = np.zeros(rows, dtype=np.int8)
    for column_codes in codes:
        result = np.where(result == 0, column_codes, result)
    return result


def _blanks(column: Any) -> tuple[Any, NDArray[np.bool_]]:
    """Text columns: treat empty cells as nulls. Returns (column with nulls, null mask)."""
    if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        blank = pc.equal(pc.utf8_trim_whitespace(column), "")
        column = pc.if_else(blank, pa.scalar(None, column.type), column)
    if column.null_count == 0:
        return column, np.zeros(len(column), dtype=bool)
    # As bytes (a boolean array is bits).
    return column, _numpy(pc.cast(column.is_null(), pa.uint8()), np.uint8).astype(bool)


def _floats(column: Any) -> tuple[NDArray[np.float64], NDArray[np.bool_], NDArray[np.bool_]]:
    """Read a numeric or text column as float64. Returns (values, nulls, wrong_type)."""
    column, nulls = _blanks(column)
    rows = len(column)
    kind = column.type
    if pa.types.is_null(kind):
        return np.zeros(rows), nulls, np.zeros(rows, dtype=bool)
    if not (
        pa.types.is_integer(kind)
        or pa.types.is_floating(kind)
        or pa.types.is_string(kind)
        or pa.types.is_large_string(kind)
        or pa.types.is_decimal(kind)
    ):
        return np.zeros(rows), nulls, ~nulls
    try:
        cast = _filled(pc.cast(column, pa.float64()), 0.0)
        values = _numpy(cast, np.float64)
        return values, nulls, np.zeros(rows, dtype=bool)
    except pa.ArrowInvalid:
        # Some cell is not a number: find which, the slow way (only for such dirty files).
        parsed = [parse_float(x) for x in column.to_pylist()]
        wrong = np.array([p is None for p in parsed], dtype=bool) & ~nulls
        values = np.array([0.0 if p is None else p for p in parsed], dtype=np.float64)
        return values, nulls, wrong


def _integers(
    column: Any,
) -> tuple[NDArray[np.int64], NDArray[np.bool_], NDArray[np.bool_], NDArray[np.bool_]]:
    """Read a column of whole numbers ("1200", 1200, 1200.0).

    Returns:
        (values, nulls, wrong, huge): ``huge`` marks magnitudes beyond :data:`MAX_VOLUME`,
        whose value is not kept (int64 could not hold them all).
    """
    values, nulls, wrong = _floats(column)
    with np.errstate(invalid="ignore"):
        whole = np.isfinite(values) & (values == np.floor(values))
        huge = whole & (np.abs(values) > MAX_VOLUME)
    wrong = wrong | (~whole & ~nulls)
    fits = whole & ~huge
    return np.where(fits, values, 0).astype(np.int64), nulls, wrong, huge


def _timestamps(column: Any) -> tuple[NDArray[np.int64], NDArray[np.int8]]:
    """Read bar starts as UTC microseconds. Returns (values, codes)."""
    column, nulls = _blanks(column)
    rows = len(column)
    codes = np.zeros(rows, dtype=np.int8)
    kind = column.type
    utc_us = pa.timestamp("us", tz="UTC")
    if pa.types.is_timestamp(kind) and kind.tz is not None:
        values = _timestamp_values(pc.cast(column, utc_us, safe=False))
    elif pa.types.is_timestamp(kind):
        values = np.zeros(rows, dtype=np.int64)
        codes[:] = REASON_CODES["naive_timestamp"]
    elif pa.types.is_string(kind) or pa.types.is_large_string(kind):
        try:
            parsed = pc.cast(column, pa.timestamp("ns", tz="UTC"))
            values = _timestamp_values(pc.cast(parsed, utc_us, safe=False))
        except pa.ArrowInvalid:
            values, codes = _timestamps_slowly(column.to_pylist())
    else:
        values = np.zeros(rows, dtype=np.int64)
        codes[:] = REASON_CODES["wrong_type"]
    codes[nulls] = REASON_CODES["missing_field"]
    return values, codes


def _timestamp_values(column: Any) -> NDArray[np.int64]:
    return _numpy(_filled(pc.cast(column, pa.int64()), 0), np.int64)


# pyarrow imports pandas (about a second) to make a scalar or to convert an array to numpy, to
# look for pandas' types; reading a clean file needs neither, so the two helpers below avoid
# both when they can.


def _filled(column: Any, value: float) -> Any:
    """``column`` with its nulls (the rows already marked missing) set to ``value``."""
    return column.fill_null(value) if column.null_count else column


def _numpy(values: Any, dtype: type[np.generic]) -> NDArray[Any]:
    """A fixed-width Arrow array of ``dtype``'s width as numpy: its data buffer, copied, when
    it has no null (always, after :func:`_filled`)."""
    width = np.dtype(dtype).itemsize
    if values.null_count == 0 and values.type.bit_width == 8 * width:
        if not len(values):
            return np.zeros(0, dtype=dtype)
        data = values.buffers()[1]
        return np.frombuffer(
            data, dtype=dtype, count=len(values), offset=values.offset * width
        ).copy()
    return np.asarray(values.to_numpy(zero_copy_only=False), dtype=dtype)


def _timestamps_slowly(cells: list[Any]) -> tuple[NDArray[np.int64], NDArray[np.int8]]:
    # One cell (naive, garbled) spoils the vectorised cast: read them one by one to tell which.
    values = np.zeros(len(cells), dtype=np.int64)
    codes = np.zeros(len(cells), dtype=np.int8)
    for i, cell in enumerate(cells):
        parsed = parse_timestamp(cell) if cell is not None else "missing_field"
        if isinstance(parsed, str):
            codes[i] = REASON_CODES[parsed]
        else:
            values[i] = (parsed - EPOCH) // ONE_US
    return values, codes


def _pick(values: list[Any] | None, rows: NDArray[np.intp]) -> Any:
    if values is None:
        return repeat(None)
    return [values[i] for i in rows.tolist()]


def _datetimes(ts_us: NDArray[np.int64]) -> list[datetime]:
    # fromtimestamp on whole seconds is twice as fast as epoch + timedelta, and minute bars
    # start on whole seconds.
    if not np.any(ts_us % US_PER_S):
        from_ts = datetime.fromtimestamp
        return [from_ts(s, UTC) for s in (ts_us // US_PER_S).tolist()]
    return [EPOCH + timedelta(microseconds=us) for us in ts_us.tolist()]
