"""Sweep throughput on Dask: backtests per minute with 1 and 2 workers, and the second's efficiency.

Usage (``make bench-sweep`` runs the default)::

    python bench/sweep_bench.py                  # 31 symbols x 20 sessions, a 24-run grid
    python bench/sweep_bench.py --days 5         # quicker
    python bench/sweep_bench.py --workers 1,2,4  # on a bigger machine
    python bench/sweep_bench.py --strategy donchian_breakout --param entry=10,20,40 \
        --param exit=5,10                        # any strategy (a file.py:Class too), any axes

The same grid runs three ways: one by one in this process (no Dask: the reference), on a
LocalCluster of 1 worker process, and on one of 2 (and any other counts asked for). Each Dask
round creates a fresh executor, so the time includes scattering the bars to the workers; cluster
start-up is timed apart (paid once per sweep, whatever its size). The clusters are all started
first, then each of ``--rounds`` rounds runs every configuration once, and each configuration
keeps its best round: this machine is shared, and interleaving exposes every configuration to
the same bursts of other work. Every Dask outcome must equal the in-process one, statistic
for statistic; the script exits 1 otherwise.

Efficiency of n workers = (time with 1 worker / time with n workers) / n: 100% means the n-th
worker added a whole worker's throughput.
"""

from __future__ import annotations

import argparse
import importlib
import os
import platform
import sys
import time
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import dask
import distributed
from distributed import Client

from fleece.backtest.data import MarketData, synthetic_market
from fleece.config import TradingConfig, load_trading_config
from fleece.errors import FleeceError
from fleece.sweep.axes import build_axes
from fleece.sweep.executor import DaskExecutor, SerialExecutor, check_strategy, open_client
from fleece.sweep.grid import GridAxes
from fleece.sweep.sweep import SweepPlan, SweepSpec, plan_sweep
from fleece.sweep.tasks import Outcome

# The seed's 31 symbols, as the committed config/trading.yaml lists them.
SYMBOLS = list(
    load_trading_config(Path(__file__).resolve().parents[1] / "config" / "trading.yaml").tickers
)
FIRST_DAY = date(2024, 1, 2)


@dataclass(frozen=True)
class Timing:
    """One configuration's best round."""

    label: str
    workers: int | None
    tasks: int
    seconds: float
    startup: float | None = None

    @property
    def per_minute(self) -> float:
        """Backtests per minute."""
        return self.tasks / self.seconds * 60


def cpu_model() -> str:
    """The processor's model name (Linux), else the platform's."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def load() -> str:
    """The 1-minute load average, or n/a."""
    try:
        return f"{os.getloadavg()[0]:.2f}"
    except OSError:
        return "n/a"


def build_plan(
    symbols: int, days: int, strategy: str = "sma_crossover", params: list[str] | None = None
) -> tuple[MarketData, SweepPlan]:
    """The market and the grid: by default the SMA's 3 fast x 2 medium x 4 slow windows = 24
    runs; with ``params`` (``NAME=V1,V2`` each, as ``fleece sweep --param``) the strategy's."""
    market = synthetic_market(SYMBOLS[:symbols], FIRST_DAY, days, seed=11)
    trading = TradingConfig.model_validate(
        {"symbols": {"list": SYMBOLS[:symbols]}, "strategy": {"name": strategy}}
    )
    if params:
        axes = build_axes(trading, params=params)
    elif strategy == "sma_crossover":
        axes = GridAxes.of(
            {"fast": (5, 10, 15), "medium": (20, 30), "slow": (60, 90, 120, 180)},
            max_position_pct=(0.1,),
            symbol_sets=(tuple(sorted(SYMBOLS[:symbols])),),
        )
    else:
        raise SystemExit(f"--strategy {strategy}: give its axes with --param NAME=V1,V2")
    return market, plan_sweep(market, SweepSpec(axes=axes, trading=trading))


def same(a: list[Outcome], b: list[Outcome]) -> bool:
    """True when both runs produced the same statistics, task for task."""
    return [(o.spec.id, o.stats) for o in a] == [(o.spec.id, o.stats) for o in b]


def start_cluster(stack: ExitStack, workers: int) -> tuple[Client, float]:
    """A LocalCluster of ``workers`` processes with the engine imported; and its start-up time."""
    started = time.perf_counter()
    client = stack.enter_context(open_client(workers=workers))
    client.wait_for_workers(workers)
    # Import the engine on every worker before timing (a sweep pays it once per worker).
    client.run(importlib.import_module, "fleece.sweep.tasks")
    return client, time.perf_counter() - started


def measure(market: MarketData, plan: SweepPlan, counts: list[int], rounds: int) -> list[Timing]:
    """Best round of each configuration; rounds interleave the configurations.

    Every cluster is up before the first round, and each round runs every configuration once,
    so that a burst of other work on the machine weighs on all of them alike rather than on
    whichever happened to run then.
    """
    with ExitStack() as stack:
        clusters = {n: start_cluster(stack, n) for n in counts}
        for client, _ in clusters.values():
            check_strategy(client, plan.spec.trading.strategy.spec)
        best: dict[int, float] = {}
        reference: list[Outcome] = []
        for _ in range(rounds):
            begun = time.perf_counter()
            reference = SerialExecutor(market).run(plan.first_round)
            best[0] = min(best.get(0, float("inf")), time.perf_counter() - begun)
            for n, (client, _) in clusters.items():
                begun = time.perf_counter()
                outcomes = DaskExecutor(client, market).run(plan.first_round)
                best[n] = min(best.get(n, float("inf")), time.perf_counter() - begun)
                if not same(outcomes, reference):
                    raise SystemExit(f"{n} workers: outcomes differ from the in-process run")
            print(f"  round done (load {load()})", flush=True)
    tasks = len(plan.first_round)
    timings = [Timing("in-process, one by one", None, tasks, best[0])]
    for n, (_, startup) in clusters.items():
        label = f"Dask LocalCluster, {n} worker{'s' if n > 1 else ''}"
        timings.append(Timing(label, n, tasks, best[n], startup))
    return timings


def report(timings: list[Timing]) -> str:
    """The figures as a Markdown table."""
    one = next((t for t in timings if t.workers == 1), None)
    lines = [
        "| configuration | backtests | seconds | backtests/min | speed-up vs 1 worker "
        "| efficiency | cluster start-up (s) |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for t in timings:
        speedup = efficiency = "n/a"
        if one is not None and t.workers is not None:
            ratio = one.seconds / t.seconds
            speedup, efficiency = f"{ratio:.2f}x", f"{ratio / t.workers * 100:.0f}%"
        startup = f"{t.startup:.1f}" if t.startup is not None else "n/a"
        lines.append(
            f"| {t.label} | {t.tasks} | {t.seconds:.2f} | {t.per_minute:.0f} | {speedup} "
            f"| {efficiency} | {startup} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--symbols", type=int, default=31, help="symbols (of the seed's 31)")
    parser.add_argument("--days", type=int, default=20, help="synthetic sessions")
    parser.add_argument("--workers", default="1,2", help="worker counts, e.g. 1,2,4")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per configuration")
    parser.add_argument("--strategy", default="sma_crossover", help="the strategy swept")
    parser.add_argument(
        "--param", action="append", default=[], help="NAME=V1,V2 (as fleece sweep --param)"
    )
    args = parser.parse_args(argv)
    counts = [int(n) for n in args.workers.split(",")]

    try:
        market, plan = build_plan(args.symbols, args.days, args.strategy, args.param)
    except FleeceError as exc:
        raise SystemExit(f"error: {exc}") from None
    print(
        f"sweep benchmark of {args.strategy}: {len(plan.first_round)} backtests, each "
        f"{args.symbols} symbols x "
        f"{args.days} sessions ({market.regular_count:,} bars); best of {args.rounds} rounds"
    )
    print(
        f"machine: {os.cpu_count()} cores, {cpu_model()}; Python {platform.python_version()}, "
        f"dask {dask.__version__}, distributed {distributed.__version__}; load {load()}",
        flush=True,
    )
    timings = measure(market, plan, counts, args.rounds)
    print(report(timings))
    print(f"load average after: {load()}; every Dask outcome equals the in-process one")
    return 0


if __name__ == "__main__":
    sys.exit(main())
