"""``fleece data download``: cache Alpaca's 1-minute bars locally for backtests.

Bars come from Alpaca's market-data API (or any loopback server speaking it, such as the built-in
exchange) through alpaca-py, one multi-symbol request per month of the range (alpaca-py follows
the pages), and are validated as the live feed validates them. Each symbol's bars are merged into
``<DIR>/<SYMBOL>.csv`` (existing bars are kept, new ones added, duplicates dropped), the format
``fleece backtest --data DIR`` reads. Keys come from the environment or ``.env`` and never appear
in any message.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from fleece.calendar import day_start
from fleece.data.importer import load_bar_file, write_bars_csv
from fleece.data.parsing import parse_bar
from fleece.data.validate import bar_problem
from fleece.errors import BrokerError, ConfigError
from fleece.models import Bar

log = logging.getLogger(__name__)
#: Days per request: a month of 31 symbols is about 250,000 bars, a few dozen pages.
CHUNK_DAYS = 31


@dataclass(frozen=True, slots=True)
class DownloadSummary:
    """What a download fetched and what the cache holds afterwards, per symbol."""

    fetched: dict[str, int]
    skipped: dict[str, int]
    cached: dict[str, int]
    files: dict[str, Path]


def month_chunks(start: date, end: date) -> list[tuple[datetime, datetime]]:
    """``[start, end]`` (New York days) as consecutive UTC ranges of at most CHUNK_DAYS days."""
    if end < start:
        raise ConfigError("command line", "--end", f"{end} is before --start {start}")
    chunks = []
    day = start
    while day <= end:
        last = min(end, day + timedelta(days=CHUNK_DAYS - 1))
        chunks.append((day_start(day), day_start(last + timedelta(days=1))))
        day = last + timedelta(days=1)
    return chunks


def fetch_bars(
    client: Any,
    symbols: Sequence[str],
    start: datetime,
    end: datetime,
    feed: str,
) -> tuple[dict[str, list[Bar]], dict[str, int]]:
    """One multi-symbol request for 1-minute bars in ``[start, end)``; bad bars are skipped.

    Args:
        client: an alpaca-py ``StockHistoricalDataClient`` built with ``raw_data=True``.
        symbols: the symbols.
        start: first instant (UTC).
        end: end instant (UTC), exclusive.
        feed: ``"iex"`` or ``"sip"``.

    Raises:
        BrokerError: the request failed (one line, no secrets).
    """
    from alpaca.common.enums import Sort
    from alpaca.data.enums import DataFeed
    from alpaca.data.requests import StockBarsRequest
    from alpaca.data.timeframe import TimeFrame

    from fleece.broker_answers import classify

    request = StockBarsRequest(
        symbol_or_symbols=list(symbols),
        timeframe=TimeFrame.Minute,
        start=start,
        end=end - timedelta(microseconds=1),
        feed=DataFeed(feed),
        sort=Sort.ASC,
    )
    try:
        raw = client.get_stock_bars(request)
    except Exception as exc:  # classified into one clean line; nothing else escapes
        failure = classify(exc)
        raise BrokerError(f"bar download failed: {failure.message}", failure.status) from None
    bars: dict[str, list[Bar]] = {}
    skipped: dict[str, int] = {}
    for symbol, items in (raw or {}).items():
        for item in items if isinstance(items, list) else []:
            parsed = parse_bar(str(symbol), item) if isinstance(item, dict) else "wrong_type"
            if isinstance(parsed, Bar) and bar_problem(parsed) is None:
                bars.setdefault(str(symbol), []).append(parsed)
            else:
                skipped[str(symbol)] = skipped.get(str(symbol), 0) + 1
    return bars, skipped


def merge_into_cache(directory: Path, symbol: str, bars: Sequence[Bar]) -> tuple[Path, int]:
    """Add ``bars`` to ``<directory>/<symbol>.csv``; returns the file and its bar count."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{symbol}.csv"
    known: dict[datetime, Bar] = {}
    if path.exists():
        for bar in load_bar_file(path, symbol).bars.get(symbol, []):
            known[bar.timestamp] = bar
    for bar in bars:
        known.setdefault(bar.timestamp, bar)
    merged = [known[ts] for ts in sorted(known)]
    write_bars_csv(merged, path)
    return path, len(merged)


def download(
    client: Any,
    symbols: Sequence[str],
    start: date,
    end: date,
    directory: Path,
    *,
    feed: str = "iex",
    progress: Callable[[int, int], None] | None = None,
) -> DownloadSummary:
    """Fetch ``symbols``' minute bars for the New York days ``start`` to ``end`` into the cache."""
    chunks = month_chunks(start, end)
    fetched: dict[str, list[Bar]] = {s: [] for s in symbols}
    skipped: dict[str, int] = {}
    for n, (lo, hi) in enumerate(chunks):
        chunk, bad = fetch_bars(client, symbols, lo, hi, feed)
        for symbol, got in chunk.items():
            fetched.setdefault(symbol, []).extend(got)
        for symbol, count in bad.items():
            skipped[symbol] = skipped.get(symbol, 0) + count
        if progress is not None:
            progress(n + 1, len(chunks))
    files: dict[str, Path] = {}
    cached: dict[str, int] = {}
    for symbol, bars in fetched.items():
        if not bars and not (directory / f"{symbol}.csv").exists():
            continue
        files[symbol], cached[symbol] = merge_into_cache(directory, symbol, bars)
    for symbol, count in skipped.items():
        log.warning("bad bars skipped symbol=%s count=%d", symbol, count)
    return DownloadSummary(
        fetched={s: len(b) for s, b in fetched.items()},
        skipped=skipped,
        cached=cached,
        files=files,
    )
