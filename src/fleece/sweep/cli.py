"""``fleece sweep``: a grid of backtests (and walk-forward) on Dask, from a laptop to a cluster.

Registered by :mod:`fleece.cli`; everything below the option parsing lives in the package.
Exit codes: 0 every run finished; 1 some runs failed (the tables and report are still written
and list them) or the sweep could not start; 2 a bad option or config.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from fleece.accounting import OPENING_CASH
from fleece.backtest.cli import DEFAULT_CONFIG, ConfigOpt, parse_day
from fleece.cli_options import BarsFolder, Cash, FirstDay, LastDay, Seed, SlippageBps, Synthetic
from fleece.cli_support import user_errors
from fleece.config import load_trading_config
from fleece.errors import ConfigError
from fleece.sweep.metrics import DEFAULT_METRIC, METRICS

if TYPE_CHECKING:
    from fleece.backtest.data import MarketData
    from fleece.sweep.executor import Executor
    from fleece.sweep.sweep import SweepPlan, SweepResult
    from fleece.sweep.tasks import Outcome

console = Console()
err = Console(stderr=True)


@contextmanager
def _quiet_here() -> Iterator[None]:
    logger = logging.getLogger("fleece")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def load_bars(
    data: Path | None,
    *,
    synthetic: bool,
    symbols: tuple[str, ...],
    start: date | None,
    end: date | None,
    days: int,
    seed: int,
) -> MarketData:
    """The bars of every symbol of the sweep, from ``data`` or synthetic, cut to the dates.

    Raises:
        ConfigError: neither or both of ``--data`` and ``--synthetic``.
        DataError: unreadable or missing files.
    """
    from fleece.backtest.data import load_market, synthetic_market
    from fleece.data.synthetic import DEFAULT_SYNTHETIC_START

    if (data is None) == (not synthetic):
        raise ConfigError("command line", "--data", "give either --data DIR or --synthetic")
    if data is not None:
        return load_market(data, symbols).between(start, end)
    return synthetic_market(symbols, start or DEFAULT_SYNTHETIC_START, days, seed).between(
        None, end
    )


def _progress() -> Progress:
    return Progress(
        TextColumn("[bold]sweep"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[failed]} failed"),
        TimeElapsedColumn(),
        console=err,
    )


def execute_plan(plan: SweepPlan, executor: Executor) -> SweepResult:
    """Run the plan with a progress bar over its tasks."""
    from fleece.sweep.sweep import run_sweep

    with _progress() as progress:
        bar = progress.add_task("tasks", total=plan.task_count, failed=0)
        failed = 0

        def done(outcome: Outcome) -> None:
            nonlocal failed
            failed += not outcome.ok
            progress.update(bar, advance=1, failed=failed)

        result = run_sweep(plan, executor, done)
        progress.update(bar, total=len(result.outcomes), completed=len(result.outcomes))
    return result


def sweep_command(
    *,
    data: BarsFolder = None,
    synthetic: Synthetic = False,
    symbols: Annotated[
        list[str] | None,
        typer.Option(help="a symbol set, e.g. SPY,IBM; repeat to sweep several sets"),
    ] = None,
    param: Annotated[
        list[str] | None,
        typer.Option(
            "--param",
            metavar="NAME=V1,V2",
            help="a strategy parameter and its values, e.g. entry=10,20,40; repeat for others",
        ),
    ] = None,
    fast: Annotated[str | None, typer.Option(help="sma_crossover: fast windows, e.g. 5,10")] = None,
    medium: Annotated[
        str | None, typer.Option(help="sma_crossover: medium windows, e.g. 20,30")
    ] = None,
    slow: Annotated[
        str | None, typer.Option(help="sma_crossover: slow windows, e.g. 60,90")
    ] = None,
    max_position_pct: Annotated[
        str | None, typer.Option(help="position sizes, e.g. 0.05,0.1 (fractions of equity)")
    ] = None,
    metric: Annotated[
        str, typer.Option(help=f"what runs are ranked by: {', '.join(METRICS)}")
    ] = DEFAULT_METRIC,
    walk_forward: Annotated[
        str | None,
        typer.Option("--walk-forward", help="TRAIN:TEST rolling windows in sessions, e.g. 20:5"),
    ] = None,
    scheduler: Annotated[
        str | None,
        typer.Option(help="a Dask scheduler, e.g. tcp://HOST:8786 (default: a LocalCluster)"),
    ] = None,
    workers: Annotated[
        int | None, typer.Option(help="LocalCluster worker processes (default: cores)", min=1)
    ] = None,
    serial: Annotated[
        bool, typer.Option(help="run every backtest in this process, without Dask")
    ] = False,
    start: FirstDay = None,
    end: LastDay = None,
    days: Annotated[int, typer.Option(help="sessions of --synthetic bars", min=1)] = 60,
    seed: Seed = 0,
    cash: Cash = OPENING_CASH,
    slippage_bps: SlippageBps = 0.0,
    config: ConfigOpt = DEFAULT_CONFIG,
    heatmap: Annotated[
        str | None, typer.Option(help="the heatmap's two parameters, e.g. entry,exit")
    ] = None,
    top: Annotated[int, typer.Option(help="runs listed in the terminal", min=1)] = 20,
    out: Annotated[
        Path | None, typer.Option(help="output directory (default data/sweeps/<timestamp>)")
    ] = None,
) -> None:
    """Run a grid of backtests (optionally walk-forward) on Dask; write tables and a report."""
    # Imported here: Dask and the backtest engine take a second or two to import, which every
    # other fleece command would otherwise pay.
    from fleece.backtest.outputs import REPORT_HTML
    from fleece.sweep.axes import build_axes
    from fleece.sweep.executor import (
        DaskExecutor,
        QuietFleeceLogs,
        SerialExecutor,
        check_strategy,
        check_workers,
        open_client,
    )
    from fleece.sweep.report import heatmap_axes, write_report
    from fleece.sweep.results import problems_table, runs_table, walk_forward_table, write_tables
    from fleece.sweep.sweep import SweepSpec, plan_sweep
    from fleece.sweep.walkforward import WalkForward

    with user_errors():
        trading = load_trading_config(config)
        axes = build_axes(
            trading,
            symbols=symbols,
            params=param or [],
            shorthands={"fast": fast, "medium": medium, "slow": slow},
            max_position_pct=max_position_pct,
        )
        try:
            chart = heatmap_axes(axes, heatmap.split(",") if heatmap else None)
        except ValueError as exc:
            raise ConfigError("command line", "--heatmap", str(exc)) from None
        spec = SweepSpec(
            axes=axes,
            trading=trading,
            cash=cash,
            slippage_bps=slippage_bps,
            metric=metric,
            walk_forward=WalkForward.parse(walk_forward) if walk_forward else None,
        )
        first, last = parse_day(start, "--start"), parse_day(end, "--end")
        market = load_bars(
            data,
            synthetic=synthetic,
            symbols=axes.symbols,
            start=first,
            end=last,
            days=days,
            seed=seed,
        )
        plan = plan_sweep(market, spec)
        target = out or Path("data/sweeps") / datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        console.print(
            f"[bold]fleece sweep[/] of {escape(trading.strategy.name)}: "
            f"{len(plan.grid.points)} combinations "
            f"({len(plan.grid.skipped)} skipped), {len(plan.windows)} walk-forward windows, "
            f"{plan.task_count} backtests over {len(plan.days)} sessions"
        )
        with _quiet_here():
            if serial:
                result = execute_plan(plan, SerialExecutor(market))
            else:
                with open_client(scheduler, workers) as client:
                    count = check_workers(client)
                    check_strategy(client, trading.strategy.spec)
                    client.register_plugin(QuietFleeceLogs())
                    where = scheduler or "a LocalCluster"
                    console.print(f"Dask: {count} workers on {where}")
                    result = execute_plan(plan, DaskExecutor(client, market))
        written = write_tables(result, target)
        write_report(result, target / REPORT_HTML, chart)
    console.print(runs_table(result, top))
    if result.windows:
        console.print(walk_forward_table(result))
    problems = problems_table(result)
    if problems is not None:
        console.print(problems)
    for path in [*written, target / REPORT_HTML]:
        console.print(f"wrote {path}")
    if result.failures:
        err.print(f"{len(result.failures)} runs failed (see the table above and runs.csv)")
        raise typer.Exit(1)
