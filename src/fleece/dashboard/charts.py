"""The two charts' data: the equity curve and one symbol's session with SMAs and our fills.

Pure functions over rows already read from the store, so they are easy to check on their own.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Literal

from fleece.dashboard.schemas import BarSeries, EquitySeries, Marker
from fleece.dashboard.series import sma_series, thin
from fleece.dashboard.sessions import SessionWindow
from fleece.models import Bar, Fill
from fleece.state_store import EquitySnapshot

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
    windows: dict[str, int],
    is_regular: Callable[[datetime], bool],
) -> BarSeries:
    """``symbol``'s regular bars within ``session`` with the SMAs and our fills on them.

    Args:
        symbol: the symbol.
        bars: its stored bars, oldest first, from far enough back to fill the slow window.
        fills: fills of any symbol (those of ``symbol`` in the session become markers).
        session: the session to show (None: every regular bar given).
        windows: "fast", "medium" and "slow" windows in bars.
        is_regular: whether a bar starting then is a regular-session bar.
    """
    regular = [b for b in bars if is_regular(b.timestamp)]
    closes = [b.close for b in regular]
    fast, medium, slow = (sma_series(closes, windows[k]) for k in ("fast", "medium", "slow"))
    shown = [
        i
        for i, b in enumerate(regular)
        if session is None or session.open <= b.timestamp < session.close
    ]
    marked = [
        f
        for f in fills
        if f.symbol == symbol
        and (session is None or session.open <= f.timestamp < session.close + FILLS_AFTER_CLOSE)
    ]
    return BarSeries(
        symbol=symbol,
        session_date=session.day if session else None,
        windows=dict(windows),
        t=[regular[i].timestamp for i in shown],
        open=[regular[i].open for i in shown],
        high=[regular[i].high for i in shown],
        low=[regular[i].low for i in shown],
        close=[regular[i].close for i in shown],
        volume=[regular[i].volume for i in shown],
        sma_fast=[fast[i] for i in shown],
        sma_medium=[medium[i] for i in shown],
        sma_slow=[slow[i] for i in shown],
        markers=[Marker(t=f.timestamp, side=f.side, price=f.price, qty=f.qty) for f in marked],
    )
