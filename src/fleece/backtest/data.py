"""Bars for a backtest, column-wise: a year of 31 symbols fits in a few arrays, not 3M objects.

A :class:`SymbolBars` holds one symbol's minute bars as numpy columns: bar starts in seconds
since the Unix epoch (UTC) and prices as integers of 1/10,000 dollar (:func:`~fleece.models.
to_ticks`), the unit every decision and every fill of the exchange is computed in. A
:class:`MarketData` is the set of symbols a run trades. Bar objects are made only when the
matching engine asks for one (a fill or a mark), never for every bar.

Sources: seeded synthetic bars (:func:`synthetic_market`), CSV/Parquet files
(:func:`load_market`, via :mod:`fleece.data.importer`) or bars already in memory
(:func:`market_from_bars`, e.g. the bars the bot recorded in its store).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from fleece.calendar import MarketCalendar, day_start
from fleece.data.arrays import SymbolArrays
from fleece.data.validate import MAX_PRICE, BarProblem
from fleece.errors import DataError
from fleece.minute_grid import TickBars
from fleece.models import TICKS_PER_DOLLAR, Bar

log = logging.getLogger(__name__)

I64 = NDArray[np.int64]
#: Integer columns stored as int32 when every value fits (prices below $214,748, volumes
#: below 2**31 a minute: nearly always), else int64; about 3 million bars then take ~90 MB.
Ints = NDArray[np.signedinteger[Any]]
F64 = NDArray[np.float64]
BOOL = NDArray[np.bool_]
# Prices of this many ticks or more are not stock prices: the bound every bar check applies.
_MAX_TICKS = round(MAX_PRICE * TICKS_PER_DOLLAR)
_INT32_MAX = 2**31 - 1


@dataclass(frozen=True, eq=False)
class SymbolBars(TickBars[Ints]):
    """One symbol's minute bars in a backtest (see :class:`~fleece.minute_grid.TickBars`).

    Bar starts are strictly increasing; prices (ticks) and volumes are int32 when every value
    fits, else int64.

    Attributes:
        regular: True where the bar starts inside an NYSE regular session (early closes
            honoured); only those bars feed the strategy and fill orders.
    """

    regular: BOOL

    def between(self, lo: int | None, hi: int | None) -> SymbolBars:
        """The bars starting in ``[lo, hi)`` (epoch seconds; None leaves that side open)."""
        a = 0 if lo is None else int(np.searchsorted(self.ts, lo, "left"))
        b = len(self.ts) if hi is None else int(np.searchsorted(self.ts, hi, "left"))
        return SymbolBars(
            self.symbol,
            self.ts[a:b],
            self.open[a:b],
            self.high[a:b],
            self.low[a:b],
            self.close[a:b],
            self.volume[a:b],
            self.regular[a:b],
        )


@dataclass(frozen=True, eq=False)
class MarketData:
    """The symbols of one run, each with its bars (``symbols`` lists them sorted).

    Attributes:
        bars: per symbol, its bars.
        dropped: bad rows of the files the bars came from, each dropped alone (and logged).
    """

    bars: Mapping[str, SymbolBars]
    dropped: tuple[BarProblem, ...] = ()

    @property
    def symbols(self) -> tuple[str, ...]:
        """Every symbol, sorted."""
        return tuple(sorted(self.bars))

    @property
    def bar_count(self) -> int:
        """All bars, extended hours included."""
        return sum(len(b) for b in self.bars.values())

    @property
    def regular_count(self) -> int:
        """Regular-session bars: the ones the strategy sees."""
        return sum(int(b.regular.sum()) for b in self.bars.values())

    def span(self) -> tuple[int, int] | None:
        """First and last bar start over all symbols (epoch seconds), or None when empty."""
        firsts = [int(b.ts[0]) for b in self.bars.values() if len(b)]
        lasts = [int(b.ts[-1]) for b in self.bars.values() if len(b)]
        return (min(firsts), max(lasts)) if firsts else None

    def between(self, start: date | None, end: date | None) -> MarketData:
        """Only bars of the New York days ``start`` to ``end`` inclusive (None: open-ended)."""
        lo = None if start is None else int(day_start(start).timestamp())
        hi = None if end is None else int(day_start(end + timedelta(days=1)).timestamp())
        return MarketData({s: b.between(lo, hi) for s, b in self.bars.items()}, self.dropped)


def regular_mask(ts: I64, calendar: MarketCalendar) -> BOOL:
    """True for bar starts inside a regular session (``open <= ts < close``), vectorised."""
    return calendar.regular_mask(ts)


def compact(values: Ints) -> Ints:
    """``values`` as int32 when every value fits, else unchanged (int64)."""
    if len(values) == 0 or (int(values.min()) >= -_INT32_MAX and int(values.max()) <= _INT32_MAX):
        return values.astype(np.int32)
    return values


def _ticks(prices: F64, symbol: str, what: str) -> Ints:
    ticks = np.rint(prices * TICKS_PER_DOLLAR)
    if len(ticks) and (
        not np.isfinite(ticks).all() or ticks.min() <= 0 or ticks.max() >= _MAX_TICKS
    ):
        raise DataError(
            f"{symbol}: {what} prices must be positive, finite and below ${MAX_PRICE:,.0f}"
        )
    exact = ticks / TICKS_PER_DOLLAR == prices
    if not exact.all():
        # Alpaca prices have at most 4 decimals; anything finer is rounded to the tick the
        # strategy and the exchange compute in, and said once.
        log.warning(
            "prices rounded to 1/10,000 dollar symbol=%s column=%s count=%d",
            symbol,
            what,
            int((~exact).sum()),
        )
    return compact(ticks.astype(np.int64))


def symbol_bars_from_columns(  # noqa: PLR0917 (one positional argument per bar column)
    symbol: str,
    ts: I64,
    open_: F64,
    high: F64,
    low: F64,
    close: F64,
    volume: I64,
    calendar: MarketCalendar,
) -> SymbolBars:
    """Build :class:`SymbolBars` from dollar-priced columns.

    Raises:
        DataError: unsorted or duplicate bar starts, or prices that are not positive.
    """
    ts = np.asarray(ts, dtype=np.int64)
    if len(ts) > 1 and not (np.diff(ts) > 0).all():
        raise DataError(f"{symbol}: bar starts must be strictly increasing")
    return SymbolBars(
        symbol=symbol,
        ts=ts,
        open=_ticks(np.asarray(open_, dtype=np.float64), symbol, "open"),
        high=_ticks(np.asarray(high, dtype=np.float64), symbol, "high"),
        low=_ticks(np.asarray(low, dtype=np.float64), symbol, "low"),
        close=_ticks(np.asarray(close, dtype=np.float64), symbol, "close"),
        volume=compact(np.asarray(volume, dtype=np.int64)),
        regular=regular_mask(ts, calendar),
    )


def symbol_bars_of(arrays: SymbolArrays, calendar: MarketCalendar) -> SymbolBars:
    """Build :class:`SymbolBars` from a file's or the generator's columns (see
    :func:`symbol_bars_from_columns`)."""
    return symbol_bars_from_columns(
        arrays.symbol,
        arrays.ts,
        arrays.open,
        arrays.high,
        arrays.low,
        arrays.close,
        arrays.volume,
        calendar,
    )


def symbol_bars_from_list(symbol: str, bars: Sequence[Bar], calendar: MarketCalendar) -> SymbolBars:
    """Build :class:`SymbolBars` from :class:`~fleece.models.Bar` objects (sorted by start)."""
    return symbol_bars_from_columns(
        symbol,
        np.array([int(b.timestamp.timestamp()) for b in bars], dtype=np.int64),
        np.array([b.open for b in bars], dtype=np.float64),
        np.array([b.high for b in bars], dtype=np.float64),
        np.array([b.low for b in bars], dtype=np.float64),
        np.array([b.close for b in bars], dtype=np.float64),
        np.array([b.volume for b in bars], dtype=np.int64),
        calendar,
    )


def market_from_bars(
    bars: Mapping[str, Sequence[Bar]], calendar: MarketCalendar | None = None
) -> MarketData:
    """A :class:`MarketData` from bars per symbol (each list sorted by start)."""
    cal = calendar or MarketCalendar()
    out: dict[str, SymbolBars] = {}
    for symbol, series in bars.items():
        built = symbol_bars_from_list(symbol.upper(), series, cal)
        out[symbol.upper()] = shared(built, out.values())
    return MarketData(out)


def synthetic_market(
    symbols: Sequence[str],
    start: date,
    days: int,
    seed: int = 0,
    calendar: MarketCalendar | None = None,
) -> MarketData:
    """Seeded synthetic bars for ``days`` NYSE sessions from ``start`` (see
    :mod:`fleece.data.synthetic`), built column-wise without any Bar object.

    Args:
        symbols: the symbols (upper-cased).
        start: the first session, or the day after which it is looked for.
        days: how many sessions.
        seed: same seed, same bars.
        calendar: the market calendar (NYSE by default).
    """
    from fleece.data.synthetic import generate_arrays, synthetic_sessions

    cal = calendar or MarketCalendar()
    sessions = synthetic_sessions(start, days, cal)
    out: dict[str, SymbolBars] = {}
    for raw in symbols:
        symbol = raw.upper()
        out[symbol] = shared(
            symbol_bars_of(generate_arrays(symbol, sessions, seed), cal), out.values()
        )
    return MarketData(out)


def shared(bars: SymbolBars, others: Iterable[SymbolBars]) -> SymbolBars:
    """``bars`` reusing another symbol's ``ts`` and ``regular`` columns when they are equal.

    Synthetic symbols (and the symbols of liquid markets) have a bar at every minute: one copy
    of the timestamps serves them all (a year of 31 symbols: 23 MB less). Columns are never
    written after loading, so sharing them is safe.
    """
    for other in others:
        if other.ts is not bars.ts and np.array_equal(other.ts, bars.ts):
            return replace(bars, ts=other.ts, regular=other.regular)
    return bars


def load_market(
    directory: Path, symbols: Sequence[str] | None = None, calendar: MarketCalendar | None = None
) -> MarketData:
    """Bars of ``<SYMBOL>.csv`` / ``.parquet`` files in ``directory``.

    Each bad row is dropped alone and logged (file, line, reason), as the importer's drop mode
    does; the rest loads, and ``dropped`` lists them. Files are read column-wise into the
    arrays (:func:`fleece.data.importer.load_bar_arrays`): no Bar object is made.

    Raises:
        DataError: (one line) the directory or a requested symbol's file is missing or unreadable.
    """
    from fleece.data.importer import bar_files, load_bar_arrays, log_problems

    cal = calendar or MarketCalendar()
    out: dict[str, SymbolBars] = {}
    problems: list[BarProblem] = []
    for symbol, file in bar_files(directory, symbols).items():
        arrays, dropped = load_bar_arrays(file, symbol)
        problems.extend(dropped)
        out[symbol] = shared(symbol_bars_of(arrays, cal), out.values())
    log_problems(problems, directory)
    return MarketData(out, tuple(problems))
