"""The minute grid: every regular-session minute is one step of every strategy window.

A free Alpaca account reads the IEX feed, and IEX has no bar for a minute in which nothing printed
on IEX; a thin stock loses a third of its minutes or more. A strategy that counted *bars* would
then average over more wall time than it says ("a 10-minute SMA" spanning 14 minutes), and a
backtest on complete minutes would predict a different bot. So strategies step on a grid of
minutes instead, and this module is the one place that builds it, for the live runtime (and so
for runs on the built-in exchange) and for the backtest alike:

* The grid's minutes are the bar starts of the regular sessions, open to close (early closes
  honoured); extended-hours bars never enter it.
* A symbol joins the grid at its first regular bar ever and stays on it from then on, across
  sessions and nights.
* At each minute every symbol on the grid gets one bar: its real bar of that minute, or a
  *carried* bar repeating its last regular close (open = high = low = close = that close,
  volume 0): nothing traded, so the price did not change.
* Bars of one minute are handed on in symbol order.

:class:`Carry` steps the grid minute by minute; :func:`grid_closes` computes a symbol's whole
close series on the grid at once for the backtest's vectorised path. A property test holds the
two equal on random sparse data. :class:`LiveGrid` adds what only the live feed needs: when a
minute counts as empty (``data.bar_settle_seconds`` after its end) and what a bar arriving after
that is (late: stored and counted, never fed to the strategy).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Generic, TypeVar

import numpy as np
import numpy.typing as npt

from fleece.calendar import ONE_MINUTE
from fleece.models import TICKS_PER_DOLLAR, Bar

MINUTE_S = int(ONE_MINUTE.total_seconds())  # the calendar's minute, in epoch seconds
BOOL = npt.NDArray[np.bool_]
I64 = npt.NDArray[np.int64]


def minute_of(ts: datetime) -> datetime:
    """The start of the minute ``ts`` lies in (bars are labelled by their start)."""
    return ts.replace(second=0, microsecond=0)


def session_minutes(sessions: Iterable[tuple[datetime, datetime]]) -> I64:
    """Every regular-session minute start, epoch seconds, ascending: the grid's minutes.

    Args:
        sessions: ``(open, close)`` instants (UTC-aware) of each session, in any order.
    """
    parts = [
        int(opened.timestamp())
        + MINUTE_S * np.arange(int((closed - opened).total_seconds()) // MINUTE_S, dtype=np.int64)
        for opened, closed in sorted(sessions)
    ]
    if not parts:
        return np.zeros(0, dtype=np.int64)
    return np.concatenate(parts)


@dataclass(frozen=True, eq=False)
class Grid:
    """The grid's minutes with each minute's session bounds (epoch seconds, aligned)."""

    minutes: I64
    session_open: I64
    session_close: I64

    @classmethod
    def of(cls, sessions: Iterable[tuple[datetime, datetime]]) -> Grid:
        """The grid of ``sessions`` (``(open, close)`` pairs, any order)."""
        ordered = sorted(sessions)
        minutes = session_minutes(ordered)
        counts = [int((c - o).total_seconds()) // MINUTE_S for o, c in ordered]
        opens = np.repeat(np.array([int(o.timestamp()) for o, _ in ordered], np.int64), counts)
        closes = np.repeat(np.array([int(c.timestamp()) for _, c in ordered], np.int64), counts)
        return cls(minutes, opens.astype(np.int64), closes.astype(np.int64))


#: Integer columns of ticks or shares: int64 on the grid, int32 where they fit in a backtest.
IntsT = TypeVar("IntsT", bound=npt.NDArray[np.signedinteger[Any]])


@dataclass(frozen=True, eq=False)
class TickBars(Generic[IntsT]):
    """One symbol's minute bars column-wise, prices in ticks; row ``i`` of every array is one bar.

    Attributes:
        symbol: the symbol.
        ts: bar starts, epoch seconds (UTC), ascending.
        open: opens in ticks (1/10,000 dollar).
        high: highs in ticks.
        low: lows in ticks.
        close: closes in ticks.
        volume: volumes.
    """

    symbol: str
    ts: I64
    open: IntsT
    high: IntsT
    low: IntsT
    close: IntsT
    volume: IntsT

    def __len__(self) -> int:
        return len(self.ts)

    def bar(self, i: int) -> Bar:
        """Row ``i`` as a :class:`~fleece.models.Bar` (prices back in dollars, exactly)."""
        # ndarray.item() hands back a Python int without a numpy scalar in between.
        return Bar(
            self.symbol,
            datetime.fromtimestamp(self.ts.item(i), UTC),
            self.open.item(i) / TICKS_PER_DOLLAR,
            self.high.item(i) / TICKS_PER_DOLLAR,
            self.low.item(i) / TICKS_PER_DOLLAR,
            self.close.item(i) / TICKS_PER_DOLLAR,
            self.volume.item(i),
        )


@dataclass(frozen=True, eq=False)
class GridSeries(TickBars[I64]):
    """One symbol's minutes on the grid, column-wise, from its first regular bar on.

    The columns of :class:`TickBars`, one row per minute of the grid (``ts``: the minutes). A
    carried minute (no bar) has open = high = low = close = the last close, volume 0 and
    ``real`` False.

    Attributes:
        real: True where the minute had a bar.
        rows: for each minute, the index of its real bar in the arrays it was built from,
            or -1 where carried.
        session_open: epoch seconds of each minute's session open.
        session_close: epoch seconds of each minute's session close.
    """

    real: BOOL
    rows: I64
    session_open: I64
    session_close: I64

    def bar(self, i: int) -> Bar:
        """Minute ``i`` as the grid hands it on: its real bar, or the carried bar
        (:func:`carried_bar`) of a minute without one."""
        if self.real[i]:
            return super().bar(i)
        minute = datetime.fromtimestamp(self.ts.item(i), UTC)
        return carried_bar(self.symbol, minute, self.close.item(i) / TICKS_PER_DOLLAR)


def grid_series(
    symbol: str,
    grid: Grid,
    ts: I64,
    ohlcv: Sequence[npt.ArrayLike],
) -> GridSeries:
    """One symbol's bars laid on ``grid``, carried where it had none, from its first bar on.

    Args:
        symbol: the symbol.
        grid: the grid (:meth:`Grid.of`).
        ts: the symbol's regular-session bar starts, epoch seconds, ascending, each a minute
            of the grid.
        ohlcv: opens, highs, lows, closes (ticks) and volumes, aligned with ``ts``.

    Raises:
        ValueError: a bar start is not one of the grid's minutes, or not five columns.
    """
    if len(ohlcv) != 5:
        raise ValueError("expected five columns: open, high, low, close, volume")
    first, _closes, rows = grid_closes(grid.minutes, ts, np.asarray(ohlcv[3], dtype=np.int64))
    real = rows >= 0
    latest = np.maximum.accumulate(np.where(real, rows, -1)) if len(rows) else rows
    opens, highs, lows, closes, volumes = (np.asarray(c, dtype=np.int64) for c in ohlcv)
    carried_close = closes[latest] if len(rows) else closes[:0]
    take = np.maximum(rows, 0)

    def column(values: I64) -> I64:
        return np.where(real, values[take], carried_close).astype(np.int64) if len(rows) else rows

    return GridSeries(
        symbol=symbol,
        ts=grid.minutes[first:],
        open=column(opens),
        high=column(highs),
        low=column(lows),
        close=carried_close.astype(np.int64),
        volume=np.where(real, volumes[take], 0).astype(np.int64) if len(rows) else rows,
        real=real,
        rows=rows,
        session_open=grid.session_open[first:],
        session_close=grid.session_close[first:],
    )


def carried_bar(symbol: str, minute: datetime, close: float) -> Bar:
    """The bar of a minute without a trade: the last close repeated, no volume."""
    return Bar(symbol, minute, close, close, close, close, 0, 0, close, carried=True)


@dataclass
class Carry:
    """Each symbol's last regular close, and the step that turns a minute's real bars into the
    grid's bars for that minute.

    Attributes:
        last_close: the last regular close of every symbol on the grid.
        steps: minutes stepped.
        carried: carried (empty) minutes handed on, per symbol.
        on_grid: symbol-minutes handed on, per symbol (real plus carried).
    """

    last_close: dict[str, float] = field(default_factory=dict)
    steps: int = 0
    carried: dict[str, int] = field(default_factory=dict)
    on_grid: dict[str, int] = field(default_factory=dict)
    _order: list[str] = field(default_factory=list)

    def step(self, minute: datetime, real: Mapping[str, Bar]) -> list[Bar]:
        """The grid's bars of ``minute``: one per symbol on the grid, in symbol order.

        Args:
            minute: the minute's start (UTC-aware), a regular-session minute.
            real: the real bars of that minute by symbol (a symbol's first one puts it on the
                grid).
        """
        for symbol, bar in real.items():
            if symbol not in self.last_close:
                self._order.append(symbol)
                self._order.sort()
                self.carried[symbol] = 0
                self.on_grid[symbol] = 0
            self.last_close[symbol] = bar.close
        out: list[Bar] = []
        for symbol in self._order:
            bar_or_none = real.get(symbol)
            if bar_or_none is None:
                bar_or_none = carried_bar(symbol, minute, self.last_close[symbol])
                self.carried[symbol] += 1
            self.on_grid[symbol] += 1
            out.append(bar_or_none)
        self.steps += 1
        return out

    def empty_share(self, symbol: str) -> float | None:
        """The share of ``symbol``'s grid minutes that had no bar (None when never on the grid)."""
        seen = self.on_grid.get(symbol, 0)
        return self.carried[symbol] / seen if seen else None


def grid_closes(
    minutes: I64, ts: I64, close: npt.NDArray[np.signedinteger]
) -> tuple[int, npt.NDArray[np.int64], I64]:
    """One symbol's closes on the grid, from its first regular bar on, in one pass.

    Args:
        minutes: the grid's minutes (:func:`session_minutes`), epoch seconds.
        ts: the symbol's regular-session bar starts, epoch seconds, ascending, each one of
            ``minutes``.
        close: the bars' closes (ticks), aligned with ``ts``.

    Returns:
        ``(first, closes, rows)``: the grid index of the symbol's first bar; the close of every
        grid minute from there to the end (carried where no bar); and for each of those minutes
        the index into ``ts`` of its real bar, or -1 for a carried minute. Empty arrays (and
        ``first == len(minutes)``) when the symbol has no regular bar.

    Raises:
        ValueError: a bar start is not one of the grid's minutes.
    """
    n = len(minutes)
    if len(ts) == 0:
        return n, np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    at = np.searchsorted(minutes, ts, "left")
    if int(at.max()) >= n or not np.array_equal(minutes[np.minimum(at, n - 1)], ts):
        raise ValueError("a regular bar does not start on a minute of the grid")
    first = int(at[0])
    mark = np.zeros(n - first, dtype=np.int64)
    mark[at - first] = np.arange(1, len(ts) + 1, dtype=np.int64)
    latest = np.maximum.accumulate(mark)  # 1-based index of the last real bar at each minute
    closes = np.asarray(close, dtype=np.int64)[latest - 1]
    rows = np.where(mark > 0, mark - 1, -1).astype(np.int64)
    return first, closes, rows


@dataclass
class LiveGrid:
    """The grid as the live feed meets it: bars arrive by polling, minutes are judged by time.

    A minute counts as empty for a symbol once the first poll made at least ``settle`` after the
    minute's end answered without a bar for it: Alpaca publishes a bar 1-3 s after its minute;
    a poll earlier than that could mistake an unpublished bar for no trade. A bar that arrives
    for a minute already judged is *late*: the caller stores and counts it, and it is never fed
    to the strategy, so what ``fleece replay`` replays (the bars that were not late) is what the
    strategy was fed.

    Args:
        settle: how long after a minute's end its bars are taken as complete.
        start: the first minute the grid may judge (the warm-up's start).
    """

    settle: timedelta
    start: datetime
    carry: Carry = field(default_factory=Carry)
    judged_until: datetime | None = None  # the last minute judged (its bars fed or carried)
    late: int = 0
    _pending: dict[datetime, dict[str, Bar]] = field(default_factory=dict)

    def receive(self, bars: Iterable[Bar], is_regular: Callable[[datetime], bool]) -> list[Bar]:
        """Take polled bars; return the late ones (their minute was judged already)."""
        late: list[Bar] = []
        for bar in bars:
            if not is_regular(bar.timestamp):
                continue  # extended hours never enter the grid
            minute = minute_of(bar.timestamp)
            if self.judged_until is not None and minute <= self.judged_until:
                late.append(bar)
                continue
            self._pending.setdefault(minute, {})[bar.symbol] = bar
        self.late += len(late)
        return late

    def settled_until(self, polled_at: datetime) -> datetime:
        """The last minute whose bars are complete for a poll made at ``polled_at``."""
        return minute_of(polled_at - self.settle) - ONE_MINUTE

    def judge(
        self, polled_at: datetime, sessions: Iterable[tuple[datetime, datetime]]
    ) -> list[Bar]:
        """Judge every settled grid minute not judged yet; return their grid bars.

        Args:
            polled_at: when the poll that answered was made (before its request left).
            sessions: ``(open, close)`` of the sessions around now (the broker's calendar).

        Returns:
            The grid's bars of each newly judged minute, minute by minute, symbols in order.
        """
        after = self.judged_until or self.start - ONE_MINUTE
        out: list[Bar] = []
        for minute in minutes_between(sessions, after, self.settled_until(polled_at)):
            out.extend(self.carry.step(minute, self._pending.pop(minute, {})))
            self.judged_until = minute
        if self.judged_until is not None:
            # Bars of a minute that is not on the grid (a calendar gap) would wait forever.
            for stale in [m for m in self._pending if m <= self.judged_until]:
                del self._pending[stale]
        return out


def minutes_between(
    sessions: Iterable[tuple[datetime, datetime]], after: datetime, upto: datetime
) -> list[datetime]:
    """The grid's minutes in ``(after, upto]``, as datetimes (the live feed's few per poll)."""
    lo, hi = int(after.timestamp()), int(upto.timestamp())
    grid = session_minutes(
        (o, c) for o, c in sessions if c.timestamp() > lo and o.timestamp() <= hi
    )
    picked = grid[(grid > lo) & (grid <= hi)]
    return [datetime.fromtimestamp(s, UTC) for s in picked.tolist()]
