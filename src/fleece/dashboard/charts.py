"""The two charts' data: the equity curve, and one symbol's session with the strategy's
indicators and our fills.

Pure functions over rows already read from the store, so they are easy to check on their own.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Literal

import numpy as np
import numpy.typing as npt

from fleece.dashboard.schemas import BarSeries, EquitySeries, Marker
from fleece.dashboard.series import thin
from fleece.dashboard.sessions import SessionWindow
from fleece.minute_grid import Grid, grid_series
from fleece.models import TICKS_PER_DOLLAR, Bar, Fill, to_ticks
from fleece.notify.messages import fill_text
from fleece.state_store import EquitySnapshot
from fleece.strategy.api import Strategy

MAX_EQUITY_POINTS = 1000
FILLS_AFTER_CLOSE = timedelta(hours=1)  # a closing order may fill just after the bell


def equity_series(
    curve: Sequence[EquitySnapshot], which: Literal["today", "all"], since: datetime
) -> EquitySeries:
    """The points at or after ``since`` (today), or the whole curve thinned (all time).

    Args:
        curve: the equity curve, oldest first.
        which: "today" or "all".
        since: where today begins.
    """
    if which == "today":
        points = [p for p in curve if p.timestamp >= since]
    else:
        points = [curve[i] for i in thin(len(curve), MAX_EQUITY_POINTS)]
    return EquitySeries(
        range=which,
        max_points=MAX_EQUITY_POINTS,
        t=[p.timestamp for p in points],
        equity=[p.equity for p in points],
        cash=[p.cash for p in points],
    )


def bar_series(
    symbol: str,
    bars: Sequence[Bar],
    fills: Sequence[Fill],
    *,
    session: SessionWindow | None,
    strategy: Strategy,
    sessions: Sequence[tuple[datetime, datetime]],
    is_regular: Callable[[datetime], bool],
) -> BarSeries:
    """``symbol``'s minutes of ``session`` on the grid, the strategy's indicators, our fills.

    The bars are laid on the minute grid exactly as the strategy met them (a minute without a
    bar repeats the last close), and the indicators are the strategy's own
    (:meth:`~fleece.strategy.Strategy.indicators`): the chart shows what it decided on.

    Args:
        symbol: the symbol.
        bars: its stored bars, oldest first, from far enough back to fill the indicators.
        fills: fills of any symbol (those of ``symbol`` in the session become markers).
        session: the session to show (None: every minute given).
        strategy: the configured strategy.
        sessions: ``(open, close)`` of every session the bars may fall in.
        is_regular: whether a bar starting then is a regular-session bar.
    """
    regular = [b for b in bars if is_regular(b.timestamp)]
    grid = Grid.of(sessions)
    series = grid_series(
        symbol,
        grid,
        np.array([int(b.timestamp.timestamp()) for b in regular], dtype=np.int64),
        [
            *(
                np.array([to_ticks(getattr(b, k)) for b in regular], dtype=np.int64)
                for k in ("open", "high", "low", "close")
            ),
            np.array([b.volume for b in regular], dtype=np.int64),
        ],
    )
    drawn = strategy.indicators(series) if len(series) else {}
    lo = int(session.open.timestamp()) if session else None
    hi = int(session.close.timestamp()) if session else None
    shown = [
        i
        for i, t in enumerate(series.ts.tolist())
        if session is None or (lo is not None and hi is not None and lo <= t < hi)
    ]
    marked = [
        f
        for f in fills
        if f.symbol == symbol
        and (session is None or session.open <= f.timestamp < session.close + FILLS_AFTER_CLOSE)
    ]

    def dollars(values: npt.NDArray[np.int64]) -> list[float]:
        return [values.item(i) / TICKS_PER_DOLLAR for i in shown]

    return BarSeries(
        symbol=symbol,
        session_date=session.day if session else None,
        strategy=strategy.name,
        t=[datetime.fromtimestamp(series.ts.item(i), UTC) for i in shown],
        open=dollars(series.open),
        high=dollars(series.high),
        low=dollars(series.low),
        close=dollars(series.close),
        volume=[series.volume.item(i) for i in shown],
        carried=[not bool(series.real[i]) for i in shown],
        indicators={
            name: [None if math.isnan(v) else v for v in (values[i].item() for i in shown)]
            for name, values in drawn.items()
        },
        markers=[
            Marker(
                t=f.timestamp,
                side=f.side,
                price=f.price,
                qty=f.qty,
                text=fill_text(f.side, f.qty, f.symbol, f.price),
            )
            for f in marked
        ],
    )
