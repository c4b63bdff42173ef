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
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
from numpy.typing import NDArray

from fleece.calendar import MarketCalendar
from fleece.data.arrays import SymbolArrays
from fleece.data.columns import OPTIONAL, REQUIRED, ReadColumns, canonical, read_columns
from fleece.data.parsing import EPOCH, ONE_US, US_PER_S
from fleece.data.validate import REASONS, BarProblem, judge_columns
from fleece.errors import DataError
from fleece.models import Bar

OnError = Literal["drop", "refuse"]
SUFFIXES = (".csv", ".parquet")
#: Warning lines per call of :func:`log_problems`; a file of garbage is counted, not echoed.
MAX_PROBLEM_LINES = 50

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoadResult:
    """Bars per symbol (each list in time order) and everything that was dropped."""

    bars: dict[str, list[Bar]]
    problems: list[BarProblem]


def load_bar_arrays(
    path: Path, symbol: str | None = None, on_error: OnError = "drop"
) -> tuple[SymbolArrays, list[BarProblem]]:
    """Load one bar file as columns: the rows :func:`load_bar_file` keeps, as arrays.

    The same reading, judging and reasons as :func:`load_bar_file` (one bad row dropped alone),
    without building a :class:`~fleece.models.Bar` per row: a backtest of 31 symbols reads half
    a million rows, and building then unpacking objects took most of its loading time.

    Raises:
        DataError: as :func:`load_bar_file`.
    """
    symbol = (symbol or path.stem).upper()
    read, codes, problems = _kept(path, symbol, on_error)
    cols = read.columns
    keep = np.flatnonzero(codes == 0)
    arrays = SymbolArrays(
        symbol,
        cols.ts_us[keep] // US_PER_S,
        cols.open[keep],
        cols.high[keep],
        cols.low[keep],
        cols.close[keep],
        cols.volume[keep],
    )
    return arrays, problems


def _kept(
    path: Path, symbol: str, on_error: OnError
) -> tuple[ReadColumns, NDArray[np.int8], list[BarProblem]]:
    """Read and judge ``path``; raise on a bad row in refuse mode, else list the problems."""
    read, codes, first, unit = _judged(path)
    bad = np.flatnonzero(codes).tolist()
    if bad and on_error == "refuse":
        row = bad[0]
        raise DataError(f"{path}, {unit} {row + first}: {REASONS[codes[row] - 1]}")
    where = f"{path.name}:" if unit == "line" else f"{path.name}:row "
    problems = [
        BarProblem(symbol, read.timestamp(row), REASONS[codes[row] - 1], f"{where}{row + first}")
        for row in bad
    ]
    return read, codes, problems


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
    read, codes, problems = _kept(path, symbol, on_error)
    return LoadResult({symbol: read.bars(symbol, np.flatnonzero(codes == 0))}, problems)


def bar_file_span(path: Path) -> tuple[datetime, datetime] | None:
    """First and last bar start that :func:`load_bar_file` would keep, without building bars.

    Returns:
        None when no row of the file is usable.

    Raises:
        DataError: as :func:`load_bar_file`.
    """
    read, codes, _, _ = _judged(path)
    kept = read.columns.ts_us[codes == 0]
    if not len(kept):
        return None
    return EPOCH + int(kept.min()) * ONE_US, EPOCH + int(kept.max()) * ONE_US


def _judged(path: Path) -> tuple[ReadColumns, NDArray[np.int8], int, str]:
    """Read and judge a bar file: (columns, per-row codes, number of its first row, unit)."""
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise DataError(f"{path}: not a bar file (expected .csv or .parquet)")
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    if suffix == ".csv":
        table, first, unit = _read_csv(path), 2, "line"  # line 1 is the header
    else:
        table, first, unit = _read_parquet(path), 1, "row"
    read = read_columns(table, path)
    return read, judge_columns(read.columns, _calendar_span_us()), first, unit


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
    files = bar_files(path, symbols)
    bars: dict[str, list[Bar]] = {}
    problems: list[BarProblem] = []
    for symbol, file in files.items():
        result = load_bar_file(file, symbol, on_error)
        bars.update(result.bars)
        problems.extend(result.problems)
    return LoadResult(bars, problems)


def bar_files(path: Path, symbols: Sequence[str] | None = None) -> dict[str, Path]:
    """The bar file of each symbol (upper-cased) in folder ``path``: of ``symbols``, or all.

    Raises:
        DataError: (one line) the directory or a requested symbol's file is missing, or a
            symbol has both a CSV and a Parquet file.
    """
    if not path.is_dir():
        raise DataError(f"{path}: no such directory")
    return files_for(path, symbols) if symbols is not None else _all_files(path)


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
    return (first - EPOCH) // ONE_US, (end - EPOCH) // ONE_US


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


#: The known columns' types for the typed first read of a CSV file (see :func:`_read_csv`).
_CSV_TYPES = {
    "timestamp": pa.timestamp("ns", tz="UTC"),
    **dict.fromkeys((*REQUIRED[1:], *OPTIONAL), pa.float64()),
}


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
    # A clean file (nearly all of them) is typed by Arrow's parser as it is read: the same
    # parsers :mod:`fleece.data.columns` casts the text with, in one pass. The first cell that
    # does not parse (a word, a naive timestamp) fails that read; the file is then read as text
    # and each cell judged alone.
    typed = {name: _CSV_TYPES.get(canonical(name), pa.string()) for name in header}
    options = pa_csv.ConvertOptions(column_types=typed, null_values=[""], strings_can_be_null=False)
    try:
        return pa_csv.read_csv(path, convert_options=options)
    except pa.ArrowInvalid:
        pass  # some cell does not parse: read as text below, each cell judged alone
    except (pa.ArrowException, OSError) as exc:
        raise DataError(f"{path}: cannot parse CSV: {_one_line(exc)}") from exc
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


def files_for(path: Path, symbols: Sequence[str]) -> dict[str, Path]:
    """The bar file of each symbol in folder ``path``.

    Raises:
        DataError: a symbol has no file, or both a CSV and a Parquet one.
    """
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
