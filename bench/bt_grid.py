"""The minute grid for backtrader, built from the documented rule with numpy and pandas.

Nothing of ``fleece.minute_grid`` is used here, so that the cross-check tests the rule and not
one shared function (see backtrader_run.py for the rule as it is written down):

* every regular-session minute is one step; extended-hours bars never enter the grid;
* a symbol joins the grid at its first regular bar ever and stays on it;
* a minute without a bar repeats the symbol's last regular close as its open, high, low and
  close (a *carried* bar), with volume 0.

Prices are also carried as integer ticks (1/10,000 dollar), the unit the rules compare in.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

import backtrader as bt
import numpy as np
import pandas as pd
from common import TICKS, Columns

from fleece.calendar import MarketCalendar

MINUTE = 60


def session_bounds(columns: Iterable[Columns]) -> np.ndarray:
    """``(open, close)`` epoch seconds of every session from the one in progress at the first
    bar (of any symbol, extended hours included) to the last one opened by the last bar."""
    firsts, lasts = zip(*((int(c.ts[0]), int(c.ts[-1])) for c in columns if len(c)), strict=True)
    first, last = min(firsts), max(lasts)
    day = timedelta(days=1)
    span = [datetime.fromtimestamp(t, UTC).date() for t in (first, last)]
    sessions = MarketCalendar().sessions(span[0] - day, span[1] + day)
    bounds = [(int(s.open.timestamp()), int(s.close.timestamp())) for s in sessions]
    return np.array([(o, c) for o, c in bounds if c > first and o <= last], dtype=np.int64)


def grid_minutes(bounds: np.ndarray) -> np.ndarray:
    """Every regular-session minute start of ``bounds``, ascending."""
    return np.concatenate([np.arange(o, c, MINUTE, dtype=np.int64) for o, c in bounds])


def on_grid(
    c: Columns, bounds: np.ndarray, minutes: np.ndarray, channels: bool = False
) -> pd.DataFrame | None:
    """``c``'s regular bars forward-filled onto the grid from its first regular bar on (None
    when it has none): carried minutes repeat the last close as open, high, low and close, with
    volume 0. Indexed by bar start, naive UTC. ``ticks`` is the close in ticks; ``channels``
    adds the high and the low in ticks too."""
    at = np.searchsorted(bounds[:, 0], c.ts, "right") - 1
    regular = (at >= 0) & (c.ts < bounds[np.maximum(at, 0), 1])
    ts = c.ts[regular]
    if not len(ts):
        return None
    if (c.volume[regular] <= 0).any():
        # The filler tells a carried minute by its volume 0; a real one must not look the same.
        raise SystemExit(f"{c.symbol}: a regular bar with no volume; the filler would skip it")
    bars = pd.DataFrame(
        {
            "open": c.open[regular],
            "high": c.high[regular],
            "low": c.low[regular],
            "close": c.close[regular],
            "volume": c.volume[regular].astype(np.float64),
        },
        index=ts,
    )
    steps = minutes[minutes >= ts[0]]
    grid = bars.reindex(steps)
    close = grid["close"].ffill()
    for column in ("open", "high", "low"):
        grid[column] = grid[column].fillna(close)
    grid["close"] = close
    grid["volume"] = grid["volume"].fillna(0.0)
    grid["ticks"] = np.rint(close.to_numpy() * TICKS)
    if channels:
        grid["high_ticks"] = np.rint(grid["high"].to_numpy() * TICKS)
        grid["low_ticks"] = np.rint(grid["low"].to_numpy() * TICKS)
    grid.index = pd.to_datetime(steps, unit="s")
    return grid


def grid_frames(
    columns: Iterable[Columns], channels: bool = False
) -> tuple[dict[str, pd.DataFrame], np.ndarray, int]:
    """Each symbol's bars on the minute grid; the sessions; the real regular bars among them."""
    listed = list(columns)
    bounds = session_bounds(listed)
    minutes = grid_minutes(bounds)
    frames: dict[str, pd.DataFrame] = {}
    real = 0
    while listed:
        c = listed.pop(0)  # each symbol's columns go once its grid frame exists
        grid = on_grid(c, bounds, minutes, channels)
        if grid is not None:
            frames[c.symbol] = grid
            real += int((grid["volume"] > 0).sum())
    return frames, bounds, real


def real_bars_only(order: bt.Order, price: float, ago: int) -> int:
    """backtrader volume filler: the whole order on a real bar, nothing on a carried one (volume
    0), so that a market order waits for the symbol's next real bar."""
    return abs(order.executed.remsize) if order.data.volume[ago] > 0 else 0


class TickBars(bt.feeds.PandasData):
    """OHLCV plus the close in ticks (1/10,000 dollar), the unit the rules compare in."""

    lines = ("ticks",)
    params = (("ticks", -1),)


class ChannelBars(bt.feeds.PandasData):
    """OHLCV plus the close, the high and the low in ticks (for the channel breakout)."""

    lines = ("ticks", "high_ticks", "low_ticks")
    params = (("ticks", -1), ("high_ticks", -1), ("low_ticks", -1))
