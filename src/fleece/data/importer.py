"""Import and export real minute bars: one ``<SYMBOL>.csv`` or ``<SYMBOL>.parquet`` per symbol.

Columns: ``timestamp,open,high,low,close,volume`` (Alpaca's ``t,o,h,l,c,v`` are accepted too),
optionally ``trade_count`` and ``vwap``. ``timestamp`` is the bar start, ISO-8601 with an offset
or ``Z`` (CSV), or a timezone-aware timestamp column (Parquet).

Files are read column-wise with pyarrow and validated with numpy, so a million rows load in a
few seconds; the reasons are those of :mod:`fleece.data.validate`, with the same precedence and
the same whole-series ordering rule as :func:`clean_series`. Each bad row is dropped alone and
reported with its file, line and reason (:func:`log_problems`); the rest of the file loads.
"""

from __future__ import annotations

import csv
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import repeat
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
from numpy.typing import NDArray

from fleece.calendar import MarketCalendar
from fleece.data.validate import (
    MAX_VOLUME,
    REASON_CODES,
    REASONS,
    BarColumns,
    BarProblem,
    judge_columns,
    parse_float,
    parse_timestamp,
    paused_gc,
)
from fleece.errors import DataError
from fleece.models import Bar

OnError = Literal["drop", "refuse"]
REQUIRED = ("timestamp", "open", "high", "low", "close", "volume")
OPTIONAL = ("trade_count", "vwap")
SUFFIXES = (".csv", ".parquet")
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
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US_PER_S = 1_000_000
#: Warning lines per call of :func:`log_problems`; a file of garbage is counted, not echoed.
MAX_PROBLEM_LINES = 50

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoadResult:
    """Bars per symbol (each list in time order) and everything that was dropped."""

    bars: dict[str, list[Bar]]
    problems: list[BarProblem]


def load_bar_file(path: Path, symbol: str | None = None, on_error: OnError = "drop") -> LoadResult:
    """Load one CSV or Parquet file of minute bars.

    Args:
        path: the file; its suffix (``.csv`` or ``.parquet``) says how to read it.
        symbol: the symbol of its bars; by default the upper-cased file stem.
        on_error: ``"drop"`` reports bad rows in ``problems`` and keeps the rest;
            ``"refuse"`` raises on the first bad row.

    Returns:
        The bars under their symbol, and the problems found.

    Raises:
        DataError: (one line) the file is missing, unreadable, lacks a required column, or,
            in refuse mode, has a bad row: the message names the file, the line and the reason.
    """
    symbol = (symbol or path.stem).upper()
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise DataError(f"{path}: not a bar file (expected .csv or .parquet)")
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    if suffix == ".csv":
        table, first, unit = _read_csv(path), 2, "line"  # line 1 is the header
    else:
        table, first, unit = _read_parquet(path), 1, "row"
    read = _read_columns(table, path)
    codes = judge_columns(read.columns, _calendar_span_us())
    bad = np.flatnonzero(codes).tolist()
    if bad and on_error == "refuse":
        row = bad[0]
        raise DataError(f"{path}, {unit} {row + first}: {REASONS[codes[row] - 1]}")
    where = f"{path.name}:" if unit == "line" else f"{path.name}:row "
    problems = [
        BarProblem(symbol, read.timestamp(row), REASONS[codes[row] - 1], f"{where}{row + first}")
        for row in bad
    ]
    return LoadResult({symbol: read.bars(symbol, np.flatnonzero(codes == 0))}, problems)


def load_bars_dir(
    path: Path, symbols: Sequence[str] | None = None, on_error: OnError = "drop"
) -> LoadResult:
    """Load ``<SYMBOL>.csv`` / ``<SYMBOL>.parquet`` files from a directory.

    Args:
        path: the directory.
        symbols: the symbols to load (case-insensitive); by default every bar file in it.
        on_error: as for :func:`load_bar_file`.

    Returns:
        Bars per symbol and the problems of all files, in symbol order.

    Raises:
        DataError: (one line) the directory or a requested symbol's file is missing, a symbol
            has both a CSV and a Parquet file, or a file cannot be loaded.
    """
    if not path.is_dir():
        raise DataError(f"{path}: no such directory")
    files = _files_for(path, symbols) if symbols is not None else _all_files(path)
    bars: dict[str, list[Bar]] = {}
    problems: list[BarProblem] = []
    for symbol, file in files.items():
        result = load_bar_file(file, symbol, on_error)
        bars.update(result.bars)
        problems.extend(result.problems)
    return LoadResult(bars, problems)


def log_problems(problems: Sequence[BarProblem], where: Path | str) -> None:
    """Log one warning line per dropped row (file, line, reason, timestamp), then the count.

    At most :data:`MAX_PROBLEM_LINES` rows are shown; the count line always says how many.
    """
    for problem in problems[:MAX_PROBLEM_LINES]:
        stamp = problem.timestamp.isoformat() if problem.timestamp else "unreadable"
        log.warning(
            "bar row dropped at=%s reason=%s symbol=%s timestamp=%s",
            problem.source,
            problem.reason,
            problem.symbol,
            stamp,
        )
    if problems:
        hidden = len(problems) - MAX_PROBLEM_LINES
        more = f" ({hidden} not shown)" if hidden > 0 else ""
        log.warning("bar rows dropped count=%d in=%s%s", len(problems), where, more)


def _calendar_span_us() -> tuple[int, int]:
    # Rows the market calendar cannot place (before 2005, or years ahead) would stop the
    # backtest and the exchange: they are refused like any other bad row.
    first, end = MarketCalendar().span()
    return (first - _EPOCH) // timedelta(microseconds=1), (end - _EPOCH) // timedelta(
        microseconds=1
    )


def write_bars_csv(bars: Sequence[Bar], path: Path) -> None:
    """Write one symbol's bars as CSV that :func:`load_bar_file` reads back identically.

    Timestamps are written in UTC with ``Z``; floats in their shortest exact form. The
    ``trade_count`` and ``vwap`` columns are added only when some bar has them.

    Raises:
        ValueError: if the bars belong to more than one symbol (the file has no symbol column).
    """
    _single_symbol(bars)
    extra = _has_extras(bars)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(REQUIRED + OPTIONAL if extra else REQUIRED)
        for bar in bars:
            row: list[object] = [
                _iso_utc(bar.timestamp),
                bar.open,
                bar.high,
                bar.low,
                bar.close,
                bar.volume,
            ]
            if extra:
                row += ["" if bar.trade_count is None else bar.trade_count]
                row += ["" if bar.vwap is None else bar.vwap]
            writer.writerow(row)


def write_bars_parquet(bars: Sequence[Bar], path: Path) -> None:
    """Write one symbol's bars as Parquet (timestamp as ``timestamp[us, tz=UTC]``).

    Raises:
        ValueError: if the bars belong to more than one symbol.
    """
    _single_symbol(bars)
    arrays: dict[str, Any] = {
        "timestamp": pa.array([b.timestamp for b in bars], type=pa.timestamp("us", tz="UTC")),
        "open": pa.array([b.open for b in bars], type=pa.float64()),
        "high": pa.array([b.high for b in bars], type=pa.float64()),
        "low": pa.array([b.low for b in bars], type=pa.float64()),
        "close": pa.array([b.close for b in bars], type=pa.float64()),
        "volume": pa.array([b.volume for b in bars], type=pa.int64()),
    }
    if _has_extras(bars):
        arrays["trade_count"] = pa.array([b.trade_count for b in bars], type=pa.int64())
        arrays["vwap"] = pa.array([b.vwap for b in bars], type=pa.float64())
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table(arrays), path)


def _read_csv(path: Path) -> Any:
    # The header is read first so that every column can be read as text: typing is then ours
    # to do, row by row when needed, instead of one bad cell failing the whole file.
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            header = next(csv.reader(handle), None)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"{path}: cannot read: {_one_line(exc)}") from exc
    if not header:
        raise DataError(f"{path}: empty file (no header line)")
    options = pa_csv.ConvertOptions(
        column_types=dict.fromkeys(header, pa.string()), strings_can_be_null=False
    )
    try:
        return pa_csv.read_csv(path, convert_options=options)
    except (pa.ArrowException, OSError) as exc:
        raise DataError(f"{path}: cannot parse CSV: {_one_line(exc)}") from exc


def _read_parquet(path: Path) -> Any:
    try:
        return pq.read_table(path)
    except (pa.ArrowException, OSError) as exc:
        raise DataError(f"{path}: cannot read Parquet: {_one_line(exc)}") from exc


@dataclass(frozen=True)
class _ReadColumns:
    """A file's columns: the judged ones, plus what only the bars need."""

    columns: BarColumns
    ts_readable: NDArray[np.bool_]
    trade_count: list[Any] | None
    vwap: list[Any] | None

    def timestamp(self, row: int) -> datetime | None:
        if not self.ts_readable[row]:
            return None
        return _EPOCH + timedelta(microseconds=int(self.columns.ts_us[row]))

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


def _read_columns(table: Any, path: Path) -> _ReadColumns:
    by_name: dict[str, Any] = {}
    for name, column in zip(table.column_names, table.columns, strict=True):
        key = str(name).strip().lower()
        by_name.setdefault(_ALIASES.get(key, key), column.combine_chunks())
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
    return _ReadColumns(columns, ts_codes == 0, optional["trade_count"], optional["vwap"])


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
    return column, np.asarray(column.is_null().to_numpy(zero_copy_only=False), dtype=bool)


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
        cast = pc.cast(column, pa.float64())
        values = np.asarray(cast.fill_null(0.0).to_numpy(zero_copy_only=False), dtype=np.float64)
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
    ints = pc.cast(column, pa.int64()).fill_null(0)
    return np.asarray(ints.to_numpy(zero_copy_only=False), dtype=np.int64)


def _timestamps_slowly(cells: list[Any]) -> tuple[NDArray[np.int64], NDArray[np.int8]]:
    # One cell (naive, garbled) spoils the vectorised cast: read them one by one to tell which.
    values = np.zeros(len(cells), dtype=np.int64)
    codes = np.zeros(len(cells), dtype=np.int8)
    one_us = timedelta(microseconds=1)
    for i, cell in enumerate(cells):
        parsed = parse_timestamp(cell) if cell is not None else "missing_field"
        if isinstance(parsed, str):
            codes[i] = REASON_CODES[parsed]
        else:
            values[i] = (parsed - _EPOCH) // one_us
    return values, codes


def _pick(values: list[Any] | None, rows: NDArray[np.intp]) -> Any:
    if values is None:
        return repeat(None)
    return [values[i] for i in rows.tolist()]


def _datetimes(ts_us: NDArray[np.int64]) -> list[datetime]:
    # fromtimestamp on whole seconds is twice as fast as epoch + timedelta, and minute bars
    # start on whole seconds.
    if not np.any(ts_us % _US_PER_S):
        from_ts = datetime.fromtimestamp
        return [from_ts(s, UTC) for s in (ts_us // _US_PER_S).tolist()]
    return [_EPOCH + timedelta(microseconds=us) for us in ts_us.tolist()]


def _all_files(path: Path) -> dict[str, Path]:
    files: dict[str, Path] = {}
    for file in sorted(path.iterdir()):
        if not file.is_file() or file.suffix.lower() not in SUFFIXES:
            continue
        symbol = file.stem.upper()
        if symbol in files:
            raise DataError(f"{path}: {symbol} has both {files[symbol].name} and {file.name}")
        files[symbol] = file
    if not files:
        raise DataError(f"{path}: no .csv or .parquet bar files")
    return files


def _files_for(path: Path, symbols: Sequence[str]) -> dict[str, Path]:
    files: dict[str, Path] = {}
    for raw in symbols:
        symbol = raw.upper()
        found = [path / f"{symbol}{suffix}" for suffix in SUFFIXES]
        found = [file for file in found if file.is_file()]
        if not found:
            raise DataError(f"{path}: no {symbol}.csv or {symbol}.parquet")
        if len(found) > 1:
            raise DataError(f"{path}: {symbol} has both {found[0].name} and {found[1].name}")
        files[symbol] = found[0]
    return files


def _single_symbol(bars: Sequence[Bar]) -> None:
    symbols = {bar.symbol for bar in bars}
    if len(symbols) > 1:
        raise ValueError(f"one symbol per file, got {', '.join(sorted(symbols))}")


def _has_extras(bars: Sequence[Bar]) -> bool:
    return any(bar.trade_count is not None or bar.vwap is not None for bar in bars)


def _iso_utc(ts: datetime) -> str:
    return ts.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
