"""The sweep report: one self-contained HTML page (plotly inlined, opens offline).

Top to bottom: what was swept; a heatmap of the metric over two parameters (each cell the best
run over the other parameters, so no good combination hides behind an average); the best runs;
with walk-forward, the chained out-of-sample equity curve (one colour per window) and the
window table; the combinations skipped and the runs that failed. Deterministic: fixed element
ids, no timestamps, rows in plan order.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from fleece.backtest.report_charts import new_york_ms
from fleece.html_page import TRADING_HOURS, html_page
from fleece.sweep.grid import RISK_AXIS, RISK_HEADING, Grid, GridAxes, value_text
from fleece.sweep.metrics import PERCENT_METRICS
from fleece.sweep.results import figure_cells, figure_columns, fmt, window_figures
from fleece.sweep.sweep import SweepResult
from fleece.sweep.tasks import Outcome
from fleece.sweep.walkforward import ranked

#: Runs listed in the page's table (every run is in runs.csv).
MAX_TABLE_ROWS = 50
#: Points of the walk-forward curve drawn; longer curves are thinned (display only).
MAX_CURVE_POINTS = 120_000


def heatmap_axes(
    axes: GridAxes, requested: Sequence[str] | None = None, grid: Grid | None = None
) -> tuple[str, str]:
    """The two parameters of the heatmap: ``requested``, else the first two that vary.

    Args:
        axes: the sweep's axes (which vary).
        requested: ``--heatmap X,Y``.
        grid: the grid, whose columns are every parameter (the strategy's, ``max_position_pct``,
            ``symbols``); without it, the axes' own.

    Raises:
        ValueError: ``requested`` is not two distinct parameter names.
    """
    known = grid.names if grid is not None and grid.order else axes.names()
    if requested is not None:
        names = tuple(n.strip() for n in requested)
        if len(names) != 2 or names[0] == names[1] or not set(names) <= set(known):
            raise ValueError(
                f"heatmap needs two distinct parameters among {', '.join(known)}, "
                f"got {','.join(names)}"
            )
        return names[0], names[1]
    varying = axes.varying()
    order = [*varying, *(n for n in known if n not in varying)]
    return order[0], order[1]


def heatmap_frame(outcomes: Sequence[Outcome], metric: str, x: str, y: str) -> pd.DataFrame:
    """Best ``metric`` per (``y``, ``x``) cell over the other parameters; NaN where none ran.

    Rows are ``y`` values, columns ``x`` values, both in ascending order.
    """
    cells: dict[tuple[object, object], float] = {}
    for o in outcomes:
        value = o.metric(metric)
        if not o.ok or value is None:
            continue
        key = (o.spec.params.value(y), o.spec.params.value(x))
        cells[key] = max(cells.get(key, -math.inf), value)
    xs = sorted({o.spec.params.value(x) for o in outcomes}, key=_sort_key)
    ys = sorted({o.spec.params.value(y) for o in outcomes}, key=_sort_key)
    z = [[cells.get((yv, xv), math.nan) for xv in xs] for yv in ys]
    return pd.DataFrame(z, index=ys, columns=xs)


def _sort_key(value: object) -> tuple[int, float, str]:
    return (0, float(value), "") if isinstance(value, int | float) else (1, 0.0, str(value))


def heatmap_figure(result: SweepResult, x: str, y: str) -> go.Figure:
    """The metric over parameters ``x`` and ``y`` (best over the others)."""
    metric = result.plan.spec.metric
    frame = heatmap_frame(result.phase("grid"), metric, x, y)
    values = frame.to_numpy(dtype=np.float64)
    pct = metric in PERCENT_METRICS
    text = [[fmt(None if math.isnan(v) else v, pct) for v in row] for row in values]
    fig = go.Figure(
        go.Heatmap(
            z=[[None if math.isnan(v) else v for v in row] for row in values],
            x=[value_text(x, v) for v in frame.columns],
            y=[value_text(y, v) for v in frame.index],
            text=text,
            texttemplate="%{text}",
            colorscale="RdYlGn",
            colorbar={"title": metric},
            hovertemplate=f"{x}=%{{x}}<br>{y}=%{{y}}<br>best {metric}=%{{text}}<extra></extra>",
        )
    )
    fig.update_layout(
        title=f"Best {metric} by {x} and {y} (over the other parameters)",
        xaxis={"title": x, "type": "category"},
        yaxis={"title": y, "type": "category"},
        height=480,
        margin={"t": 50, "b": 40},
    )
    return fig


def walk_forward_figure(result: SweepResult) -> go.Figure:
    """The chained out-of-sample equity, one trace (colour) per test window."""
    oos = result.out_of_sample
    fig = go.Figure()
    if oos is None:
        fig.update_layout(title="No walk-forward test run finished")
        return fig
    step = max(1, math.ceil(len(oos.ts) / MAX_CURVE_POINTS))
    varying = result.plan.spec.axes.varying()
    labels = {
        w.window.index: w.chosen.spec.params.label(varying) for w in result.windows if w.chosen
    }
    for index in np.unique(oos.window).tolist():
        mask = oos.window == index
        ts, equity = oos.ts[mask][::step], oos.equity[mask][::step]
        fig.add_trace(
            go.Scatter(
                x=new_york_ms(ts),
                y=equity,
                mode="lines",
                name=f"window {index}: {labels.get(index, '')}",
            )
        )
    fig.add_hline(y=result.plan.spec.cash, line_dash="dot", line_color="grey")
    thinning = f" (1 minute in {step} shown)" if step > 1 else ""
    fig.update_layout(
        title=f"Walk-forward equity, out of sample, test windows chained{thinning}",
        xaxis={"type": "date", "rangebreaks": TRADING_HOURS},
        yaxis={"title": "equity ($)"},
        height=520,
        margin={"t": 50, "b": 30},
    )
    return fig


def _table(table_id: str, header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "\n".join(
        "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows
    )
    return (
        f'<table id="{table_id}">\n<thead><tr>{head}</tr></thead>\n<tbody>\n{body}\n'
        "</tbody>\n</table>"
    )


def _runs_rows(outcomes: Sequence[Outcome], columns: Sequence[str], metric: str) -> list[list[str]]:
    rows = []
    for rank, o in enumerate(outcomes, 1):
        p = o.spec.params
        rows.append(
            [
                str(rank),
                str(o.spec.id),
                *(p.text(c) for c in columns),
                p.text(RISK_AXIS),
                p.symbols_label,
                *figure_cells(o, metric),
            ]
        )
    return rows


def _window_rows(result: SweepResult) -> list[list[str]]:
    metric = result.plan.spec.metric
    rows = []
    for w in result.windows:
        win, chosen, test = w.window, w.chosen, w.test
        rows.append(
            [
                str(win.index),
                f"{win.train_start} to {win.train_end}",
                f"{win.test_start} to {win.test_end}",
                chosen.spec.params.label() if chosen else "none",
                *window_figures(w, metric),
                (test.error or "ok") if test else "not run",
            ]
        )
    return rows


def _problem_rows(result: SweepResult) -> list[list[str]]:
    rows = [["", "grid", s.params.label(), "skipped", s.reason] for s in result.plan.grid.skipped]
    rows += [
        [str(o.spec.id), o.spec.phase, o.spec.params.label(), "failed", o.error or ""]
        for o in result.failures
    ]
    return rows


def render_report(result: SweepResult, heatmap: tuple[str, str] | None = None) -> str:
    """The whole page as a string.

    Args:
        result: the sweep.
        heatmap: the heatmap's (x, y) parameters; the first two that vary by default.
    """
    spec = result.plan.spec
    metric = spec.metric
    x, y = heatmap or heatmap_axes(spec.axes, None, result.plan.grid)
    config = {"displaylogo": False, "responsive": True}
    heat_div: str = heatmap_figure(result, x, y).to_html(
        full_html=False, include_plotlyjs=False, div_id="heatmap-chart", config=config
    )
    grid = result.phase("grid")
    best = ranked(grid, metric)[:MAX_TABLE_ROWS]
    columns = result.plan.grid.columns
    header = ["#", "run", *columns, RISK_HEADING, "symbols"]
    runs_html = _table(
        "runs",
        header + [label for label, _ in figure_columns(metric)],
        _runs_rows(best, columns, metric),
    )
    days = result.plan.days
    period = f"{days[0]} to {days[-1]} ({len(days)} sessions)" if days else "no sessions"
    sets = "; ".join(",".join(s) for s in spec.axes.symbol_sets)
    sections = [
        f'<h1>alpaca-fleece sweep</h1>\n<p class="note">{len(grid)} runs of the backtest '
        f"engine with the strategy {html.escape(spec.trading.strategy.name)} over "
        f"{html.escape(period)}; symbol sets: {html.escape(sets)}; ranked by "
        f"{html.escape(metric)}; starting cash ${spec.cash:,.2f}, slippage "
        f"{spec.slippage_bps:g} bps. {len(result.plan.grid.skipped)} combinations skipped, "
        f"{len(result.failures)} runs failed.</p>",
        f"<h2>{html.escape(metric)} by {html.escape(x)} and {html.escape(y)}</h2>\n{heat_div}",
        f'<h2>Best runs</h2>\n<p class="note">{len(best)} of {len(grid)} shown; every run is '
        f"in runs.csv.</p>\n{runs_html}",
    ]
    if spec.walk_forward is not None:
        wf_div: str = walk_forward_figure(result).to_html(
            full_html=False, include_plotlyjs=False, div_id="walk-forward-chart", config=config
        )
        oos = result.out_of_sample
        summary = (
            f"Out of sample, chained: return {fmt(oos.total_return, True)}, Sharpe "
            f"{fmt(oos.sharpe)}, max drawdown {fmt(oos.max_drawdown, True)}, {oos.trades} "
            f"trades over {oos.sessions} sessions."
            if oos is not None
            else "No test window finished."
        )
        window_html = _table(
            "walk-forward",
            [
                "window",
                "train",
                "test",
                "chosen",
                f"train {metric}",
                f"test {metric}",
                "test return",
                "test status",
            ],
            _window_rows(result),
        )
        sections.append(
            f'<h2>Walk-forward {spec.walk_forward} (sessions)</h2>\n<p class="note">Parameters '
            f"chosen by {html.escape(metric)} on each train window, then run on the test window "
            f"that follows. {html.escape(summary)}</p>\n{wf_div}\n{window_html}"
        )
    problems = _problem_rows(result)
    if problems:
        sections.append(
            "<h2>Not run</h2>\n"
            + _table("problems", ["run", "phase", "parameters", "status", "reason"], problems)
        )
    return html_page("alpaca-fleece sweep", "\n".join(sections))


def write_report(result: SweepResult, path: Path, heatmap: tuple[str, str] | None = None) -> None:
    """Write the report page to ``path``."""
    path.write_text(render_report(result, heatmap), encoding="utf-8")
