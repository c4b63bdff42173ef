"""The backtest report: a self-contained HTML page (plotly.js inline, opens offline), a rich table.

The page holds, top to bottom: the statistics; the equity curve with the drawdown underneath;
the price of each symbol on the minute grid with the strategy's indicators and the entry/exit
fills (a menu selects the symbol); the table of round-trip trades. Long runs are thinned for
display only (every n-th minute, said in the chart's title), within a budget of points for the
whole page so that it stays a few megabytes whatever the number of symbols; markers and tables
always carry every fill. Times are shown in New York time. The output is deterministic: fixed
element ids, no timestamps.

The figures are written as plotly.js takes them (traces and layout as JSON, arrays as base64
typed arrays) rather than built through plotly.py's validating figure objects, which took most
of a large run's output time; plotly.js itself comes from the plotly package, inlined.
"""

from __future__ import annotations

import base64
import html
import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from rich.table import Table

from fleece.accounting import cents_text
from fleece.backtest.runner import BacktestResult
from fleece.backtest.signals import market_series
from fleece.backtest.stats import RoundTrip, Stats, round_trips
from fleece.calendar import NEW_YORK
from fleece.html_page import STYLE, TRADING_HOURS, html_page
from fleece.minute_grid import Grid, GridSeries
from fleece.models import TICKS_PER_DOLLAR, Fill, Side
from fleece.notify.messages import percent_text
from fleece.protection import ExitReason, Protection, exits_line, fill_reasons
from fleece.strategy.registry import StrategySpec

#: Points per line drawn in one symbol's price chart, at most; longer series are thinned.
MAX_PRICE_POINTS = 5_000
#: Points per line over all the symbols' price charts (their lines share it out, each keeping
#: at least MIN_PRICE_POINTS): what keeps the page small when many symbols run long.
PRICE_POINTS_BUDGET = 32_000
MIN_PRICE_POINTS = 500
#: Points of the equity curve drawn; two months of minutes (~16,000) fit.
MAX_EQUITY_POINTS = 20_000
#: Trades listed in the page's table (all are in trades.csv).
MAX_TABLE_ROWS = 2_000
#: Hide nights and weekends on time axes (New York wall time).
Figure = dict[str, Any]


def _pct(value: float | None) -> str:
    return "n/a" if value is None else percent_text(value)


def _num(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def _money(value: float | None) -> str:
    if value is None:
        return "n/a"
    return f"-${-value:,.2f}" if value < 0 else f"${value:,.2f}"


def _day(iso: str | None) -> str:
    return "n/a" if iso is None else iso[:10]


def _days(value: float) -> str:
    whole = int(value)
    hours = (value - whole) * 24
    return f"{whole} d {hours:.1f} h"


def stat_rows(stats: Stats) -> list[tuple[str, str]]:
    """The statistics as (label, formatted value) rows, in display order."""
    return [
        ("Period", f"{_day(stats.start)} to {_day(stats.end)} ({stats.sessions} sessions)"),
        ("Initial equity", _money(stats.initial_equity)),
        ("Final equity", _money(stats.final_equity)),
        ("Total return", _pct(stats.total_return)),
        ("CAGR", _pct(stats.cagr)),
        ("Sharpe ratio", _num(stats.sharpe)),
        ("Sortino ratio", _num(stats.sortino)),
        ("Max drawdown", _pct(stats.max_drawdown)),
        ("Max drawdown duration", _days(stats.max_drawdown_duration_days)),
        ("Realised P&L", _money(stats.realised_pnl)),
        ("Win rate", _pct(stats.win_rate)),
        ("Profit factor", _num(stats.profit_factor)),
        ("Average win", _money(stats.avg_win)),
        ("Average loss", _money(stats.avg_loss)),
        ("Trades", f"{stats.trades} closed, {stats.open_trades} open ({stats.fills} fills)"),
        ("Exposure", _pct(stats.exposure)),
    ]


def stats_table(stats: Stats, title: str = "Backtest") -> Table:
    """The statistics as a rich table for the terminal."""
    table = Table(title=title, show_header=False, title_justify="left")
    table.add_column("statistic", style="bold")
    table.add_column("value", justify="right")
    for label, value in stat_rows(stats):
        table.add_row(label, value)
    return table


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
    peaks = np.maximum.accumulate(equity) if len(equity) else equity
    drawdown = (equity / peaks - 1.0) * 100 if len(equity) else equity
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
            "y": typed(drawdown[::step]),
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


def _strategy_line(spec: StrategySpec) -> str:
    params = ", ".join(f"{k}={v}" for k, v in spec.params.model_dump().items())
    return f"{spec.name} ({params})" if params else spec.name


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


def _plot(figure: Figure, div_id: str) -> str:
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


def _trade_rows(trips: Sequence[RoundTrip], exits: Mapping[tuple[str, datetime], str]) -> str:
    def when(ts: datetime | None) -> str:
        return "" if ts is None else ts.astimezone(NEW_YORK).strftime("%Y-%m-%d %H:%M")

    rows = []
    for t in trips[:MAX_TABLE_ROWS]:
        pnl = "" if t.pnl_cents is None else cents_text(t.pnl_cents)
        ret = "" if t.return_pct is None else percent_text(t.return_pct)
        exit_price = "" if t.exit_price is None else f"{t.exit_price:g}"
        cells = (
            t.symbol,
            str(t.qty),
            when(t.entry_time),
            f"{t.entry_price:g}",
            when(t.exit_time),
            exit_price,
            pnl,
            ret,
            exits.get((t.symbol, t.exit_time), "strategy") if t.exit_time else "",
        )
        rows.append("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells) + "</tr>")
    return "\n".join(rows)


# Labels (the first column) read left to right.
_STYLE = STYLE + "td:first-child, th:first-child { text-align: left; }\n"


def render_report(result: BacktestResult, stats: Stats) -> str:
    """The whole report page as a string (plotly.js inlined)."""
    trips = round_trips(result.fills)
    reasons = fill_reasons(result.fills, result.intents)
    exits = {(f.symbol, f.timestamp): _EXIT_NAMES[r] for f, r in reasons.items()}
    stats_html = "\n".join(
        f"<tr><th>{html.escape(label)}</th><td>{html.escape(value)}</td></tr>"
        for label, value in stat_rows(stats)
    )
    equity_div = _plot(equity_figure(result), "equity-chart")
    price_div = _plot(price_figure(result, reasons), "price-chart")
    cfg = result.config
    symbols = ", ".join(result.market.symbols)
    shown = min(len(trips), MAX_TABLE_ROWS)
    more = (
        f'<p class="note">{shown} of {len(trips)} trades shown; every fill is in trades.csv.</p>'
        if len(trips) > shown
        else ""
    )
    header = (
        "<th>Symbol</th><th>Qty</th><th>Entry (New York)</th><th>Entry price</th>"
        "<th>Exit (New York)</th><th>Exit price</th><th>P&amp;L ($)</th><th>Return</th>"
        "<th>Exit by</th>"
    )
    protection = _protection_line(cfg.protection, reasons.values())
    body = f"""<h1>alpaca-fleece backtest</h1>
<p class="note">Symbols: {html.escape(symbols)}. Starting cash ${cfg.cash:,.2f}; slippage
{cfg.slippage_bps:g} bps; strategy {html.escape(_strategy_line(cfg.strategy))}; fills at the open
of the next real bar, as the built-in exchange fills.</p>
{protection}
<h2>Statistics</h2>
<table id="stats">
{stats_html}
</table>
<h2>Equity</h2>
{equity_div}
<h2>Prices and trades</h2>
{price_div}
<h2>Trades</h2>
{more}
<table id="trades">
<thead><tr>{header}</tr></thead>
<tbody>
{_trade_rows(trips, exits)}
</tbody>
</table>"""
    return html_page("alpaca-fleece backtest", body, _STYLE)


_EXIT_NAMES = {
    ExitReason.STOP_LOSS: "stop-loss",
    ExitReason.TAKE_PROFIT: "take-profit",
    ExitReason.TRAILING_STOP: "trailing stop",
}


def _protection_line(protection: Protection, reasons: Iterable[ExitReason]) -> str:
    """The protective exits configured and what they did (nothing when none are set)."""
    if not protection.on:
        return ""
    levels = [
        f"{name} {percent_text(value)}"
        for name, value in (
            ("stop-loss", protection.stop_loss_pct),
            ("take-profit", protection.take_profit_pct),
            ("trailing stop", protection.trailing_stop_pct),
        )
        if value is not None
    ]
    where = "held at the exchange" if protection.mode == "broker" else "watched by the bot"
    return (
        f'<p class="note" id="protection">Protective exits ({", ".join(levels)}, {where}): '
        f"{html.escape(exits_line(reasons))}.</p>"
    )


def write_report(result: BacktestResult, stats: Stats, path: Path) -> None:
    """Write the report page to ``path``."""
    path.write_text(render_report(result, stats), encoding="utf-8")
