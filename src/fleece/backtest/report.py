"""The backtest report: a self-contained HTML page (plotly.js inline, opens offline), a rich table.

The page holds, top to bottom: the statistics; the equity curve with the drawdown underneath;
the price of each symbol on the minute grid with the strategy's indicators and the entry/exit
fills (a menu selects the symbol); the table of round-trip trades. The charts are
:mod:`fleece.backtest.report_charts`'s; tables always carry every fill (up to
``MAX_TABLE_ROWS`` trades). Times are shown in New York time. The output is deterministic: fixed
element ids, no timestamps; plotly.js comes from the plotly package, inlined.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path

from rich.table import Table

from fleece.accounting import cents_text
from fleece.backtest.report_charts import equity_figure, plot, price_figure
from fleece.backtest.runner import BacktestResult
from fleece.backtest.stats import RoundTrip, Stats, round_trips
from fleece.calendar import NEW_YORK
from fleece.html_page import STYLE, html_page
from fleece.notify.messages import percent_text
from fleece.protection import ExitReason, Protection, exits_line, fill_reasons
from fleece.strategy.registry import StrategySpec

#: Trades listed in the page's table (all are in trades.csv).
MAX_TABLE_ROWS = 2_000


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


def _strategy_line(spec: StrategySpec) -> str:
    params = ", ".join(f"{k}={v}" for k, v in spec.params.model_dump().items())
    return f"{spec.name} ({params})" if params else spec.name


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
    equity_div = plot(equity_figure(result), "equity-chart")
    price_div = plot(price_figure(result, reasons), "price-chart")
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
