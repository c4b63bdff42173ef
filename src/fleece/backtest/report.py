"""The backtest report: a self-contained HTML page (plotly inlined, opens offline) and a rich table.

The page holds, top to bottom: the statistics; the equity curve with the drawdown underneath;
the price of each symbol on the minute grid with the strategy's indicators and the entry/exit
fills (a menu selects the symbol); the table of round-trip trades. Long runs are thinned for
display only (every n-th minute, said in the chart's title); markers and tables always carry
every fill. Times are shown in New York time. The output is deterministic: fixed element ids,
no timestamps.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.offline import get_plotlyjs
from plotly.subplots import make_subplots
from rich.table import Table

from fleece.backtest.runner import BacktestResult
from fleece.backtest.signals import market_series
from fleece.backtest.stats import RoundTrip, Stats, round_trips
from fleece.calendar import NEW_YORK
from fleece.minute_grid import Grid, GridSeries
from fleece.models import TICKS_PER_DOLLAR, Fill, Side
from fleece.protection import ExitReason, Protection, exits_line, fill_reasons
from fleece.strategy.registry import StrategySpec

#: Points per line drawn in a price chart; longer series are thinned (display only).
MAX_PRICE_POINTS = 5_000
#: Points of the equity curve drawn; a year of minutes (~98,000) fits.
MAX_EQUITY_POINTS = 120_000
#: Trades listed in the page's table (all are in trades.csv).
MAX_TABLE_ROWS = 2_000
_NEW_YORK = "America/New_York"
#: Hide nights and weekends on time axes (New York wall time).
TRADING_HOURS = [{"bounds": ["sat", "mon"]}, {"pattern": "hour", "bounds": [16, 9.5]}]


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:.2f}%"


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


def new_york_ms(seconds: np.ndarray) -> np.ndarray:
    """Epoch seconds as milliseconds of New York wall time (plotly shows them as they are)."""
    stamps = pd.to_datetime(seconds, unit="s", utc=True).tz_convert(_NEW_YORK).tz_localize(None)
    return np.asarray(stamps.values.astype("datetime64[ms]").astype(np.int64))


def _stride(n: int, cap: int) -> int:
    return max(1, math.ceil(n / cap))


def equity_figure(result: BacktestResult) -> go.Figure:
    """Equity (top) and drawdown from the running peak (bottom), sharing the time axis."""
    curve = result.equity
    step = _stride(len(curve), MAX_EQUITY_POINTS)
    equity = curve.equity.astype(np.float64) / 100
    peaks = np.maximum.accumulate(equity) if len(equity) else equity
    drawdown = (equity / peaks - 1.0) * 100 if len(equity) else equity
    x = new_york_ms(curve.ts[::step])
    title = "Equity and drawdown" + (f" (1 minute in {step} shown)" if step > 1 else "")
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.7, 0.3])
    fig.add_trace(go.Scatter(x=x, y=equity[::step], name="equity ($)", mode="lines"), 1, 1)
    fig.add_trace(
        go.Scatter(x=x, y=drawdown[::step], name="drawdown (%)", mode="lines", fill="tozeroy"),
        2,
        1,
    )
    fig.update_xaxes(type="date", rangebreaks=TRADING_HOURS)
    fig.update_layout(title=title, height=560, margin={"t": 50, "b": 30}, showlegend=True)
    return fig


def _symbol_traces(
    series: GridSeries,
    fills: Sequence[Fill],
    indicators: dict[str, np.ndarray],
    reasons: Mapping[Fill, ExitReason],
) -> tuple[list[go.Scatter], int]:
    """The close on the grid, the strategy's indicators and the fills of one symbol (the
    protective exits marked apart: stop-outs and take-profits)."""
    step = _stride(len(series), MAX_PRICE_POINTS)
    x = new_york_ms(series.ts[::step])
    traces = [
        go.Scatter(
            x=x,
            y=series.close[::step] / TICKS_PER_DOLLAR,
            name=f"{series.symbol} close",
            mode="lines",
        )
    ]
    for label, values in indicators.items():
        traces.append(go.Scatter(x=x, y=values[::step], name=label, mode="lines"))
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
        traces.append(
            go.Scatter(
                x=new_york_ms(np.array([int(f.timestamp.timestamp()) for f in own], np.int64)),
                y=[f.price for f in own],
                name=symbol_name,
                mode="markers",
                marker={"symbol": marker, "size": 10},
            )
        )
    return traces, step


def _strategy_line(spec: StrategySpec) -> str:
    params = ", ".join(f"{k}={v}" for k, v in spec.params.model_dump().items())
    return f"{spec.name} ({params})" if params else spec.name


def price_figure(
    result: BacktestResult, reasons: Mapping[Fill, ExitReason] | None = None
) -> go.Figure:
    """Price, the strategy's indicators and the fills of each symbol; a menu picks the symbol."""
    strategy = result.config.strategy.build()
    grid = Grid.of((s.open, s.close) for s in result.sessions)
    by_symbol: dict[str, list[Fill]] = {}
    for fill in result.fills:
        by_symbol.setdefault(fill.symbol, []).append(fill)
    fig = go.Figure()
    symbols = list(result.market.symbols)
    titles: list[str] = []
    owners: list[int] = []  # which symbol each trace belongs to
    for k, symbol in enumerate(symbols):
        series = market_series(result.market, symbol, grid)
        traces, step = _symbol_traces(
            series, by_symbol.get(symbol, []), strategy.indicators(series), reasons or {}
        )
        for trace in traces:
            trace.visible = k == 0
            trace.legendgroup = symbol
            fig.add_trace(trace)
            owners.append(k)
        thinning = f" (1 minute in {step} shown)" if step > 1 else ""
        titles.append(f"{symbol}: price, {strategy.name}, entries and exits{thinning}")
    buttons = []
    for k, symbol in enumerate(symbols):
        visible = [owner == k for owner in owners]
        buttons.append(
            {
                "label": symbol,
                "method": "update",
                "args": [{"visible": visible}, {"title": titles[k]}],
            }
        )
    fig.update_layout(
        title=titles[0] if titles else "No bars",
        height=520,
        margin={"t": 80, "b": 30},
        xaxis={"type": "date", "rangebreaks": TRADING_HOURS},
        updatemenus=[{"buttons": buttons, "direction": "down", "x": 1.0, "y": 1.18}]
        if buttons
        else [],
    )
    return fig


def _trade_rows(trips: Sequence[RoundTrip], exits: Mapping[tuple[str, datetime], str]) -> str:
    def when(ts: datetime | None) -> str:
        return "" if ts is None else ts.astimezone(NEW_YORK).strftime("%Y-%m-%d %H:%M")

    rows = []
    for t in trips[:MAX_TABLE_ROWS]:
        pnl = "" if t.pnl_cents is None else f"{t.pnl_cents / 100:.2f}"
        ret = "" if t.return_pct is None else f"{t.return_pct * 100:.2f}%"
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


_STYLE = """
body { font-family: system-ui, sans-serif; margin: 24px; color: #222; }
table { border-collapse: collapse; margin: 8px 0 24px; font-size: 14px; }
td, th { border: 1px solid #ccc; padding: 4px 10px; text-align: right; }
th { background: #f3f3f3; }
td:first-child, th:first-child { text-align: left; }
.note { color: #666; font-size: 13px; }
"""


def render_report(result: BacktestResult, stats: Stats) -> str:
    """The whole report page as a string (plotly.js inlined)."""
    trips = round_trips(result.fills)
    reasons = fill_reasons(result.fills, result.intents)
    exits = {(f.symbol, f.timestamp): _EXIT_NAMES[r] for f, r in reasons.items()}
    stats_html = "\n".join(
        f"<tr><th>{html.escape(label)}</th><td>{html.escape(value)}</td></tr>"
        for label, value in stat_rows(stats)
    )
    plot_config = {"displaylogo": False, "responsive": True}
    equity_div: str = equity_figure(result).to_html(
        full_html=False, include_plotlyjs=False, div_id="equity-chart", config=plot_config
    )
    price_div: str = price_figure(result, reasons).to_html(
        full_html=False, include_plotlyjs=False, div_id="price-chart", config=plot_config
    )
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
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>alpaca-fleece backtest</title>
<style>{_STYLE}</style>
<script type="text/javascript">{get_plotlyjs()}</script>
</head>
<body>
<h1>alpaca-fleece backtest</h1>
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
</table>
</body>
</html>
"""


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
        f"{name} {value:.2%}"
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
