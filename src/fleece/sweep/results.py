"""The sweep's tables: every run (CSV and Parquet), the walk-forward windows, the terminal view.

Files written by :func:`write_tables` (all deterministic: rows in plan order, no timings):

* ``runs.csv`` / ``runs.parquet``: one row per combination and task: the grid phase in grid
  order (skipped combinations in place, with ``status=skipped`` and the reason), then the train
  runs window by window, then the test runs; ``status=failed`` rows carry the error. The
  strategy's parameters have a column each, named by the parameter
  (:func:`~fleece.sweep.grid.column_of`), between ``strategy`` and ``max_position_pct``.
* ``walk_forward.csv`` / ``walk_forward.parquet``: one row per window: its days, the parameters
  chosen, their metric in and out of sample.
* ``walk_forward_equity.csv``: the chained out-of-sample equity (``timestamp_utc,window,equity``;
  times as in a backtest's ``equity.csv``).
"""

from __future__ import annotations

import math
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
from rich.table import Table

from fleece.backtest.outputs import utc_stamps
from fleece.notify.messages import percent_text
from fleece.sweep.grid import (
    RISK_AXIS,
    RISK_HEADING,
    STAT_COLUMNS,
    SYMBOLS_AXIS,
    Params,
    run_columns,
    value_text,
)
from fleece.sweep.metrics import PERCENT_METRICS
from fleece.sweep.sweep import SweepResult
from fleece.sweep.tasks import Outcome
from fleece.sweep.walkforward import WindowResult, ranked

RUNS = "runs"
WALK_FORWARD = "walk_forward"
WALK_FORWARD_EQUITY = "walk_forward_equity.csv"


def _day(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


def _param_cells(params: Params) -> dict[str, Any]:
    return {name: params.value(name) for name in (*params.columns, RISK_AXIS, SYMBOLS_AXIS)}


def _whole_numbers(frame: pd.DataFrame, columns: tuple[str, ...]) -> None:
    """Parameter columns of integers stay integers where some rows are empty (nullable)."""
    for column in columns:
        present = frame[column].dropna().tolist()
        if present and all(isinstance(v, int) and not isinstance(v, bool) for v in present):
            frame[column] = frame[column].astype("Int64")


def _outcome_row(outcome: Outcome, strategy: str) -> dict[str, Any]:
    spec = outcome.spec
    row: dict[str, Any] = {
        "run": spec.id,
        "phase": spec.phase,
        "window": spec.window,
        "strategy": strategy,
        **_param_cells(spec.params),
        "start": _day(spec.start),
        "end": _day(spec.end),
        "status": "ok" if outcome.ok else "failed",
        "error": outcome.error,
        "signals": outcome.signals if outcome.ok else None,
        "orders": outcome.orders if outcome.ok else None,
        "refusals": outcome.refusals if outcome.ok else None,
    }
    for name in STAT_COLUMNS:
        row[name] = None if outcome.stats is None else getattr(outcome.stats, name)
    return row


def runs_frame(result: SweepResult) -> pd.DataFrame:
    """Every combination and every task, in plan order (see the module docstring)."""
    grid_runs = {o.spec.params: o for o in result.phase("grid")}
    skipped = {s.params: s.reason for s in result.plan.grid.skipped}
    strategy = result.plan.spec.trading.strategy.name
    rows: list[dict[str, Any]] = []
    for params in sorted(result.plan.grid.order, key=result.plan.grid.order.__getitem__):
        if params in grid_runs:
            rows.append(_outcome_row(grid_runs[params], strategy))
        else:
            rows.append(
                {
                    "run": None,
                    "phase": "grid",
                    "strategy": strategy,
                    **_param_cells(params),
                    "status": "skipped",
                    "error": skipped[params],
                }
            )
    rows.extend(_outcome_row(o, strategy) for o in result.outcomes if o.spec.phase != "grid")
    columns = result.plan.grid.columns
    frame = pd.DataFrame(rows, columns=list(run_columns(columns)))
    _whole_numbers(frame, columns)
    for column in ("run", "window", "trades", "open_trades", "fills", "sessions"):
        frame[column] = frame[column].astype("Int64")
    for column in ("signals", "orders", "refusals"):
        frame[column] = frame[column].astype("Int64")
    return frame


def walk_forward_frame(result: SweepResult) -> pd.DataFrame:
    """One row per walk-forward window: days, choice, in-sample and out-of-sample figures."""
    metric = result.plan.spec.metric
    rows = [_window_row(w, metric) for w in result.windows]
    params = result.plan.grid.columns
    columns = [
        "window",
        "train_start",
        "train_end",
        "test_start",
        "test_end",
        "candidates",
        *params,
        RISK_AXIS,
        SYMBOLS_AXIS,
        f"train_{metric}",
        f"test_{metric}",
        "train_total_return",
        "test_total_return",
        "test_max_drawdown",
        "test_trades",
        "test_status",
        "test_error",
    ]
    frame = pd.DataFrame(rows, columns=columns)
    _whole_numbers(frame, params)
    for column in ("window", "candidates", "test_trades"):
        frame[column] = frame[column].astype("Int64")
    return frame


def _window_row(result: WindowResult, metric: str) -> dict[str, Any]:
    w = result.window
    row: dict[str, Any] = {
        "window": w.index,
        "train_start": w.train_start.isoformat(),
        "train_end": w.train_end.isoformat(),
        "test_start": w.test_start.isoformat(),
        "test_end": w.test_end.isoformat(),
        "candidates": result.candidates,
    }
    chosen, test = result.chosen, result.test
    if chosen is None:
        row["test_status"] = "no choice"
        row["test_error"] = f"no train run with a defined {metric}"
        return row
    row.update(_param_cells(chosen.spec.params))
    row[f"train_{metric}"] = chosen.metric(metric)
    row["train_total_return"] = chosen.metric("total_return")
    if test is not None:
        row[f"test_{metric}"] = test.metric(metric)
        row["test_total_return"] = test.metric("total_return")
        row["test_max_drawdown"] = test.metric("max_drawdown")
        row["test_trades"] = None if test.stats is None else test.stats.trades
        row["test_status"] = "ok" if test.ok else "failed"
        row["test_error"] = test.error
    return row


def write_tables(result: SweepResult, out_dir: Path) -> list[Path]:
    """Write the CSV and Parquet tables into ``out_dir`` (created if missing).

    Returns:
        The files written.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    frames = [(RUNS, runs_frame(result))]
    if result.windows:
        frames.append((WALK_FORWARD, walk_forward_frame(result)))
    for name, frame in frames:
        csv_path, parquet_path = out_dir / f"{name}.csv", out_dir / f"{name}.parquet"
        frame.to_csv(csv_path, index=False, lineterminator="\n")
        frame.to_parquet(parquet_path, index=False)
        written += [csv_path, parquet_path]
    oos = result.out_of_sample
    if oos is not None:
        path = out_dir / WALK_FORWARD_EQUITY
        with path.open("w", encoding="utf-8") as f:
            f.write("timestamp_utc,window,equity\n")
            for stamp, window, equity in zip(
                utc_stamps(oos.ts), oos.window.tolist(), oos.equity.tolist(), strict=True
            ):
                f.write(f"{stamp},{window},{equity:.2f}\n")
        written.append(path)
    return written


# ---- the terminal ---------------------------------------------------------------------------


def fmt(value: float | None, pct: bool = False) -> str:
    """A figure for display: ``n/a`` when undefined, percentages with two decimals."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return percent_text(value) if pct else f"{value:.3f}"


#: Figures shown for each run besides the sweep's metric: (label, Stats field).
FIGURES = (
    ("return", "total_return"),
    ("sharpe", "sharpe"),
    ("max DD", "max_drawdown"),
    ("win rate", "win_rate"),
    ("trades", "trades"),
)


def figure_columns(metric: str) -> list[tuple[str, str]]:
    """(label, field) of the figures shown for a run: the metric first, then the others."""
    return [(metric, metric), *((label, name) for label, name in FIGURES if name != metric)]


def figure_cells(outcome: Outcome, metric: str) -> list[str]:
    """The figures of :func:`figure_columns` for one run, formatted."""
    cells: list[str] = []
    for _, name in figure_columns(metric):
        value = outcome.metric(name)
        cells.append(
            str(int(value))
            if name == "trades" and value is not None
            else fmt(value, name in PERCENT_METRICS)
        )
    return cells


def window_figures(window: WindowResult, metric: str) -> list[str]:
    """A walk-forward window's metric in sample (its choice) and out of sample (its test run),
    and the test run's return, formatted."""
    pct = metric in PERCENT_METRICS
    chosen, test = window.chosen, window.test
    return [
        fmt(chosen.metric(metric), pct) if chosen else "n/a",
        fmt(test.metric(metric), pct) if test else "n/a",
        fmt(test.metric("total_return"), True) if test else "n/a",
    ]


def _numbers_table(title: str, header: list[str], rows: list[list[str]], text: set[str]) -> Table:
    """A rich table whose number columns never shrink below their widest cell.

    On a narrow terminal rich shrinks columns and cuts cells with an ellipsis; a cut number is a
    wrong number, so only the ``text`` columns (symbols, parameters, days) may fold.
    """
    table = Table(title=title, title_justify="left")
    for k, name in enumerate(header):
        if name in text:
            table.add_column(name, justify="left", overflow="fold")
        else:
            widest = max([len(name), *(len(row[k]) for row in rows)])
            table.add_column(name, justify="right", no_wrap=True, min_width=widest)
    for row in rows:
        table.add_row(*row)
    return table


def _span(start: date, end: date) -> str:
    """``2024-01-02..01-16`` (the year once when both days share it)."""
    tail = end.strftime("%m-%d") if end.year == start.year else end.isoformat()
    return f"{start.isoformat()}..{tail}"


def shown_columns(result: SweepResult) -> tuple[str, ...]:
    """The strategy's parameter columns a table shows: those the sweep varies, else all."""
    varying = result.plan.spec.axes.varying()
    columns = result.plan.grid.columns
    return tuple(c for c in columns if c in varying) or columns


def constants_label(result: SweepResult) -> str:
    """The parameters every run shares that have no column, e.g.
    ``exit=10, pos=10.00%, symbols IBM,SPY``."""
    grid = result.plan.grid
    axes = result.plan.spec.axes
    parts = []
    if grid.order:
        first = next(iter(grid.order))
        shown = shown_columns(result)
        parts += [f"{c}={first.text(c)}" for c in grid.columns if c not in shown]
    if len(axes.max_position_pct) == 1:
        parts.append(f"pos={value_text(RISK_AXIS, axes.max_position_pct[0])}")
    if len(axes.symbol_sets) == 1:
        parts.append(f"symbols {','.join(axes.symbol_sets[0])}")
    return ", ".join(parts)


def runs_table(result: SweepResult, top: int = 20) -> Table:
    """The best grid runs by the sweep's metric, as a rich table.

    Only the parameters the sweep varies get a column (all the strategy's when none of them
    varies); the others are said once, in the title.
    """
    metric = result.plan.spec.metric
    varying = result.plan.spec.axes.varying()
    grid = result.phase("grid")
    best = ranked(grid, metric)[:top]
    params = shown_columns(result)
    header = ["#", *params]
    if RISK_AXIS in varying:
        header.append(RISK_HEADING)
    if SYMBOLS_AXIS in varying:
        header.append(SYMBOLS_AXIS)
    header += [label for label, _ in figure_columns(metric)]
    rows = []
    for rank, o in enumerate(best, 1):
        p = o.spec.params
        row = [str(rank), *(p.text(c) for c in params)]
        if RISK_AXIS in varying:
            row.append(p.text(RISK_AXIS))
        if SYMBOLS_AXIS in varying:
            row.append(p.symbols_label)
        rows.append(row + figure_cells(o, metric))
    shared = constants_label(result)
    title = f"Sweep of {result.plan.spec.trading.strategy.name}: top {len(best)} of " + (
        f"{len(grid)} runs by {metric}" + (f" ({shared})" if shared else "")
    )
    return _numbers_table(title, header, rows, {SYMBOLS_AXIS})


def walk_forward_table(result: SweepResult) -> Table:
    """Each window's choice and its result in and out of sample, as a rich table."""
    metric = result.plan.spec.metric
    oos = result.out_of_sample
    caption = None
    if oos is not None:
        caption = (
            f"out of sample, chained: return {fmt(oos.total_return, True)}, "
            f"Sharpe {fmt(oos.sharpe)}, max DD {fmt(oos.max_drawdown, True)}, "
            f"{oos.trades} trades over {oos.sessions} sessions"
        )
    varying = result.plan.spec.axes.varying()
    # IS: in sample (the train window), OOS: out of sample (the test window).
    header = ["#", "train", "test", "chosen", f"IS {metric}", f"OOS {metric}", "OOS return"]
    rows = []
    for w in result.windows:
        win, chosen = w.window, w.chosen
        rows.append(
            [
                str(win.index),
                _span(win.train_start, win.train_end),
                _span(win.test_start, win.test_end),
                chosen.spec.params.label(varying) if chosen else "none",
                *window_figures(w, metric),
            ]
        )
    table = _numbers_table("Walk-forward", header, rows, {"train", "test", "chosen"})
    table.caption = caption
    return table


def problems_table(result: SweepResult) -> Table | None:
    """Skipped combinations and failed runs with their parameters; None when there are none."""
    skipped = result.plan.grid.skipped
    if not skipped and not result.failures:
        return None
    table = Table(title="Not run", title_justify="left")
    for name in ("run", "phase", "parameters", "status", "reason"):
        table.add_column(name, justify="right" if name == "run" else "left", overflow="fold")
    for s in skipped:
        table.add_row("", "grid", s.params.label(), "skipped", s.reason)
    for o in result.failures:
        table.add_row(
            str(o.spec.id), o.spec.phase, o.spec.params.label(), "failed", o.error or "unknown"
        )
    return table
