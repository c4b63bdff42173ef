"""The backtest report's charts, written as plotly.js takes them (traces and layout as JSON,
arrays as base64 typed arrays) rather than built through plotly.py's validating figure objects,
which took most of a large run's output time.

Long runs are thinned for display only (every n-th minute, said in the chart's title), within a
budget of points for the whole page, so that it stays a few megabytes whatever the number of
symbols; markers always carry every fill. Times are New York wall time (:func:`new_york_ms`),
the time axis plotly shows as it is, for every report's charts.
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np
import numpy.typing as npt

from fleece.backtest.runner import BacktestResult
from fleece.backtest.signals import market_series
from fleece.backtest.stats import drawdown
from fleece.calendar import NEW_YORK
from fleece.html_page import TRADING_HOURS
from fleece.minute_grid import Grid, GridSeries
from fleece.models import TICKS_PER_DOLLAR, Fill, Side
from fleece.protection import ExitReason

#: Points per line drawn in one symbol's price chart, at most; longer series are thinned.
MAX_PRICE_POINTS = 5_000
#: Points per line over all the symbols' price charts (their lines share it out, each keeping
#: at least MIN_PRICE_POINTS): what keeps the page small when many symbols run long.
PRICE_POINTS_BUDGET = 32_000
MIN_PRICE_POINTS = 500
#: Points of the equity curve drawn; two months of minutes (~16,000) fit.
MAX_EQUITY_POINTS = 20_000
Figure = dict[str, Any]


def new_york_ms(seconds: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """Epoch seconds as milliseconds of New York wall time (plotly shows them as they are).

    New York's offset changes only on whole UTC hours, so it is looked up once per hour.
    """
    seconds = np.asarray(seconds, dtype=np.int64)
    if not len(seconds):
        return seconds
    hours, where = np.unique(seconds // 3600, return_inverse=True)
    offsets = np.array(
        [_offset_seconds(datetime.fromtimestamp(h * 3600, UTC)) for h in hours.tolist()],
        dtype=np.int64,
    )
    return (seconds + offsets[where]) * 1000


def _offset_seconds(at: datetime) -> int:
    offset = at.astimezone(NEW_YORK).utcoffset()
    return int(offset.total_seconds()) if offset is not None else 0


def typed(values: npt.ArrayLike) -> dict[str, str]:
    """An array as plotly.js reads it fastest: base64 of its float64 bytes (exact)."""
    data = np.ascontiguousarray(np.asarray(values, dtype="<f8"))
    return {"dtype": "f8", "bdata": base64.b64encode(data.tobytes()).decode("ascii")}


def _stride(n: int, cap: int) -> int:
    return max(1, math.ceil(n / cap))


def equity_figure(result: BacktestResult) -> Figure:
    """Equity (top) and drawdown from the running peak (bottom), sharing the time axis."""
    curve = result.equity
    step = _stride(len(curve), MAX_EQUITY_POINTS)
    equity = curve.equity.astype(np.float64) / 100
    below = drawdown(equity) * 100
    x = typed(new_york_ms(curve.ts[::step]))
    title = "Equity and drawdown" + (f" (1 minute in {step} shown)" if step > 1 else "")
    data = [
        {
            "type": "scatter",
            "x": x,
            "y": typed(equity[::step]),
            "name": "equity ($)",
            "mode": "lines",
            "xaxis": "x",
            "yaxis": "y",
        },
        {
            "type": "scatter",
            "x": x,
            "y": typed(below[::step]),
            "name": "drawdown (%)",
            "mode": "lines",
            "fill": "tozeroy",
            "xaxis": "x",
            "yaxis": "y2",
        },
    ]
    layout = {
        "title": {"text": title},
        "height": 560,
        "margin": {"t": 50, "b": 30},
        "showlegend": True,
        "xaxis": {"type": "date", "rangebreaks": TRADING_HOURS, "anchor": "y2"},
        "yaxis": {"domain": [0.36, 1.0], "title": {"text": "equity ($)"}},
        "yaxis2": {"domain": [0.0, 0.28], "title": {"text": "drawdown (%)"}, "anchor": "x"},
    }
    return {"data": data, "layout": layout}


def _symbol_traces(
    series: GridSeries,
    fills: Sequence[Fill],
    indicators: dict[str, np.ndarray],
    reasons: Mapping[Fill, ExitReason],
    cap: int,
) -> tuple[list[dict[str, Any]], int]:
    """The close on the grid, the strategy's indicators and the fills of one symbol (the
    protective exits marked apart: stop-outs and take-profits)."""
    step = _stride(len(series), cap)
    x = typed(new_york_ms(series.ts[::step]))
    traces: list[dict[str, Any]] = [
        {
            "type": "scatter",
            "x": x,
            "y": typed(series.close[::step] / TICKS_PER_DOLLAR),
            "name": f"{series.symbol} close",
            "mode": "lines",
        }
    ]
    for label, values in indicators.items():
        traces.append(
            {"type": "scatter", "x": x, "y": typed(values[::step]), "name": label, "mode": "lines"}
        )
    kinds: list[tuple[str, str, Callable[[Fill], bool]]] = [
        ("entries", "triangle-up", lambda f: f.side is Side.BUY),
        ("exits", "triangle-down", lambda f: f.side is Side.SELL and f not in reasons),
        ("stop-outs", "x", lambda f: f in reasons and reasons[f].stop_out),
        ("take-profits", "star", lambda f: f in reasons and not reasons[f].stop_out),
    ]
    for symbol_name, marker, chosen in kinds:
        own = [f for f in fills if chosen(f)]
        if not own and symbol_name not in ("entries", "exits"):
            continue
        stamps = np.array([int(f.timestamp.timestamp()) for f in own], np.int64)
        traces.append(
            {
                "type": "scatter",
                "x": typed(new_york_ms(stamps)),
                "y": typed([f.price for f in own]),
                "name": symbol_name,
                "mode": "markers",
                "marker": {"symbol": marker, "size": 10},
            }
        )
    return traces, step


def price_figure(
    result: BacktestResult, reasons: Mapping[Fill, ExitReason] | None = None
) -> Figure:
    """Price, the strategy's indicators and the fills of each symbol; a menu picks the symbol."""
    strategy = result.config.strategy.build()
    grid = Grid.of((s.open, s.close) for s in result.sessions)
    by_symbol: dict[str, list[Fill]] = {}
    for fill in result.fills:
        by_symbol.setdefault(fill.symbol, []).append(fill)
    symbols = list(result.market.symbols)
    cap = min(MAX_PRICE_POINTS, max(MIN_PRICE_POINTS, PRICE_POINTS_BUDGET // max(len(symbols), 1)))
    data: list[dict[str, Any]] = []
    titles: list[str] = []
    owners: list[int] = []  # which symbol each trace belongs to
    for k, symbol in enumerate(symbols):
        series = market_series(result.market, symbol, grid)
        traces, step = _symbol_traces(
            series, by_symbol.get(symbol, []), strategy.indicators(series), reasons or {}, cap
        )
        for trace in traces:
            trace["visible"] = k == 0
            trace["legendgroup"] = symbol
            data.append(trace)
            owners.append(k)
        thinning = f" (1 minute in {step} shown)" if step > 1 else ""
        titles.append(f"{symbol}: price, {strategy.name}, entries and exits{thinning}")
    buttons = [
        {
            "label": symbol,
            "method": "update",
            "args": [{"visible": [owner == k for owner in owners]}, {"title.text": titles[k]}],
        }
        for k, symbol in enumerate(symbols)
    ]
    layout = {
        "title": {"text": titles[0] if titles else "No bars"},
        "height": 520,
        "margin": {"t": 80, "b": 30},
        "xaxis": {"type": "date", "rangebreaks": TRADING_HOURS},
        "updatemenus": [{"buttons": buttons, "direction": "down", "x": 1.0, "y": 1.18}]
        if buttons
        else [],
    }
    return {"data": data, "layout": layout}


def plot(figure: Figure, div_id: str) -> str:
    """A figure's div and the script that draws it."""
    config = {"displaylogo": False, "responsive": True}
    args = ",\n".join(
        json.dumps(part, separators=(",", ":"), allow_nan=False)
        for part in (figure["data"], figure["layout"], config)
    )
    return (
        f'<div id="{div_id}" class="plotly-graph-div" style="height:{figure["layout"]["height"]}px;'
        f' width:100%;"></div>\n<script type="text/javascript">\n'
        f'Plotly.newPlot("{div_id}",\n{args})\n</script>'
    )
