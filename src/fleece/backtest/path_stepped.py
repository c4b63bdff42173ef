"""The fast path of a strategy without a vectorised one: every grid minute, few polls.

The strategy is stepped through every minute of the grid, as the bot steps it, but the polling
cycle (exchange, order refresh, account, risk, order manager) runs only where it can change
something:

* **No order open when the minute's poll begins.** Then the poll's refresh has nothing to learn
  (nothing can fill or expire), so what the strategy may know — the position held, the orders
  pending, the last prices, the time — is known before the poll. The strategy is asked here,
  with the context the trader would build (:meth:`fleece.trader.Trader.minute_context`), and the
  cycle runs only if it signalled; its signals then go straight to
  :meth:`fleece.trader.Trader.act`. A signal only ever changes its own symbol's position and
  pending orders, so asking the strategy for every symbol of the minute before acting on any of
  them gives it the contexts it would have had, bar after bar.
* **An order open when the minute's poll begins.** The order may fill or expire in this very
  poll, before the bars are decided on ("one poll, in this order": fills, account, decisions),
  so the minute runs the whole cycle and the strategy sees the holdings after the refresh.

The minutes without a cycle are checked for the daily loss line as the vectorised path checks
them (:mod:`fleece.backtest.loss_scan`). Bars are laid on the grid column-wise
(:func:`fleece.backtest.signals.market_series`), one session at a time, so that a year of
minutes never exists as bar objects all at once (nor as full columns: each symbol keeps, per
minute, the row of its latest real bar). Tests hold this path equal to the exact one
(every minute a full cycle) on the runner's parity cases and on random sparse data.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from itertools import repeat
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from fleece.backtest.data import I64, MarketData, SymbolBars
from fleece.backtest.loss_scan import LossScanner
from fleece.backtest.signals import market_series
from fleece.calendar import Session
from fleece.data.validate import paused_gc
from fleece.minute_grid import MINUTE_S, Grid, carried_bar
from fleece.models import TICKS_PER_DOLLAR, Bar
from fleece.strategy.api import MinuteContext

if TYPE_CHECKING:
    from fleece.backtest.run_view import Decided, RunView


@dataclass(frozen=True)
class SessionMinutes:
    """One session of the grid: its bars minute by minute (symbols in order), and its bounds.

    Attributes:
        session: the session.
        opened: its open as the trader's calendar gives it (the strategy's context).
        closes: its close, likewise.
        minutes: the minute starts, epoch seconds.
        bars: for each minute, the grid bar of every symbol on the grid then.
    """

    session: Session
    opened: datetime
    closes: datetime
    minutes: list[int]
    bars: list[list[Bar]]


# Building a frozen dataclass runs object.__setattr__ once per field, in Python, per object; a
# year of grid minutes is millions of bars. Setting Bar's slots a column at a time (one C loop
# per field) builds the very same objects in under half the time. Only while Bar is exactly
# these fields with nothing to run after them; otherwise the constructor is used.
_FIELDS = (
    "symbol",
    "timestamp",
    "open",
    "high",
    "low",
    "close",
    "volume",
    "trade_count",
    "vwap",
    "carried",
)
_SLOTS_MATCH = (
    tuple(f.name for f in fields(Bar)) == _FIELDS
    and not hasattr(Bar, "__post_init__")
    and "__slots__" in Bar.__dict__
)


def grid_bars(
    symbol: str,
    stamps: Sequence[datetime],
    ohlcv: tuple[list[float], list[float], list[float], list[float], list[int]],
    real: list[bool],
) -> list[Bar]:
    """One symbol's grid bars: a real bar where ``real``, else the carried bar (the last close
    repeated, as :func:`fleece.minute_grid.carried_bar` makes it: open, high, low and vwap at
    the close, volume and trade count 0); prices in dollars, a carried minute's already the
    close in ``ohlcv``."""
    opens, highs, lows, closes, volumes = ohlcv
    n = len(real)
    every = all(real)
    if not _SLOTS_MATCH:
        return [
            Bar(symbol, t, o, h, lo, c, v) if r else carried_bar(symbol, t, c)
            for t, o, h, lo, c, v, r in zip(
                stamps, opens, highs, lows, closes, volumes, real, strict=True
            )
        ]
    counts: Iterable[int | None] = repeat(None, n)
    vwaps: Iterable[float | None] = repeat(None, n)
    carried: Iterable[bool] = repeat(False, n)
    if not every:
        counts = [None if r else 0 for r in real]
        vwaps = [None if r else c for r, c in zip(real, closes, strict=True)]
        carried = [not r for r in real]
    out = list(map(Bar.__new__, repeat(Bar, n)))
    columns: tuple[Iterable[object], ...] = (
        *(repeat(symbol, n), stamps, opens, highs, lows, closes, volumes),
        *(counts, vwaps, carried),
    )
    consume = deque[object](maxlen=0).extend
    for name, values in zip(_FIELDS, columns, strict=True):
        put: Any = getattr(Bar, name).__set__  # the slot's own setter: a C call per object
        consume(map(put, out, values))
    return out


@dataclass(frozen=True, eq=False)
class _OnGrid:
    """One symbol on the grid, kept small for a long run: for each grid minute from its first,
    the row of its latest real bar in its columns, and whether that minute had one."""

    bars: SymbolBars
    first: int  # grid index of its first minute
    latest: I64
    real: npt.NDArray[np.bool_]

    @classmethod
    def of(cls, market: MarketData, symbol: str, grid: Grid) -> _OnGrid:
        series = market_series(market, symbol, grid)
        real = series.real
        # A symbol's first grid minute is its first real bar: every minute has a latest one.
        latest = np.maximum.accumulate(np.where(real, series.rows, -1)).astype(np.int64)
        return cls(market.bars[symbol], len(grid.minutes) - len(series), latest, real)

    def bars_between(self, a: int, b: int, stamps: Sequence[datetime]) -> list[Bar]:
        """Its grid bars at its minutes ``a:b`` (a carried minute: the last close repeated)."""
        rows, real = self.latest[a:b], self.real[a:b]
        columns = self.bars
        close = columns.close[rows]
        prices = [
            (np.where(real, column[rows], close) / TICKS_PER_DOLLAR).tolist()
            for column in (columns.open, columns.high, columns.low)
        ]
        opens, highs, lows = prices
        volumes = np.where(real, columns.volume[rows], 0).tolist()
        closes = (close / TICKS_PER_DOLLAR).tolist()
        return grid_bars(
            columns.symbol, stamps, (opens, highs, lows, closes, volumes), real.tolist()
        )


def session_minutes(run: RunView) -> Iterator[SessionMinutes]:
    """The grid of ``run``, one session at a time, with every symbol's bars on it."""
    grid = run.minute_grid
    symbols = [_OnGrid.of(run.market, symbol, grid) for symbol in run.market.symbols]
    book = run.trader.sessions
    g0 = 0
    for session in run.sessions:
        g1 = g0 + session.minutes
        minutes = grid.minutes[g0:g1].tolist()
        stamps = [datetime.fromtimestamp(m, UTC) for m in minutes]
        columns: list[list[Bar | None]] = []
        joined = False  # a symbol joins the grid during this session
        with paused_gc():  # thousands of bars, no cycle among them
            for symbol in symbols:
                first = symbol.first
                if first >= g1:
                    continue  # not on the grid yet
                start = max(first, g0)
                column: list[Bar | None] = [None] * (start - g0)
                column += symbol.bars_between(start - first, g1 - first, stamps[start - g0 :])
                joined |= start > g0
                columns.append(column)
        rows: list[list[Bar]]
        if not columns:
            rows = [[] for _ in minutes]
        elif joined:
            rows = [[b for b in row if b is not None] for row in zip(*columns, strict=True)]
        else:
            rows = [list(row) for row in zip(*columns, strict=True)]
        day = book.session_at(stamps[0]) if stamps else None
        opened, closes = (day.open, day.close) if day else (session.open, session.close)
        yield SessionMinutes(session, opened, closes, minutes, rows)
        g0 = g1


def decide(
    run: RunView, bars: Sequence[Bar], now: datetime, s: SessionMinutes, flat: bool
) -> Decided:
    """Step the strategy through one minute's bars with the context the trader would build.

    Only valid while no order is open: the position held is then the portfolio's, and nothing
    is pending. ``flat`` (the warm-up) shows every symbol as not held, as the trader's warm-up
    does.
    """
    last_price = run.trader.last_price
    held = None if flat else run.trader.portfolio.qty
    on_minute = run.strategy.on_minute
    nobody = MinuteContext(now, 0, False, False, s.opened, s.closes, last_price)
    decided: Decided = []
    for bar in bars:
        symbol = bar.symbol
        last_price[symbol] = bar.close
        qty = held.get(symbol) if held else None
        if qty:
            signal = on_minute(
                bar, MinuteContext(now, qty, False, False, s.opened, s.closes, last_price)
            )
        else:
            signal = on_minute(bar, nobody)
        if signal is not None:
            decided.append((bar, signal))
    return decided


async def run_stepped(run: RunView) -> None:
    """Every grid minute through the strategy; a polling cycle only where it can matter."""
    await run._seed()
    if not len(run.grid):
        return
    scanner = LossScanner(run)
    orders = run.orders
    last = int(run.grid[0]) - MINUTE_S
    if run.start_at is not None:
        last = max(last, run.start_at)
    done, total = 0, len(run.grid)
    for minutes in session_minutes(run):
        opened = int(minutes.session.open.timestamp())
        # The session's instants: its open (no bar has closed yet), then each minute's close.
        instants = [opened, *(m + MINUTE_S for m in minutes.minutes)]
        bars_of: list[list[Bar]] = [[], *minutes.bars]
        for at, bars in zip(instants, bars_of, strict=True):
            if not run._decides(at):
                decide(run, bars, datetime.fromtimestamp(at, UTC), minutes, flat=True)
            elif orders.has_open:
                # An order may fill in this poll: the refresh comes before the decisions.
                scanner.scan(last, at, inclusive=False)
                await run.cycle(at, bars, None)
                last = at
            elif bars:
                decided = decide(run, bars, datetime.fromtimestamp(at, UTC), minutes, flat=False)
                if decided:
                    scanner.scan(last, at, inclusive=False)
                    await run.cycle(at, bars, None, decided=decided)
                    last = at
        done += len(instants)
        if run.progress is not None:
            run.progress(done / total)
    end = int(run.grid[-1])
    scanner.scan(last, end, inclusive=True)
    run.broker.advance_to(datetime.fromtimestamp(end, UTC))
