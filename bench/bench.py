"""alpaca-fleece against backtrader: same bars, same rules, identical trades; speed and memory.

Usage (``make bench`` runs the default)::

    python bench/bench.py                 # everything: the SMA crossover on every data set
                                          # (synthetic, synthetic-sparse: 31 symbols x 252
                                          # sessions; real, real-sparse), donchian_breakout (no
                                          # vectorised path) on the real bars and 31 symbols x
                                          # 40 sessions, and the whole process
    python bench/bench.py --days 20       # quicker synthetic SMA runs
    python bench/bench.py --only real,real-sparse   # the SMA on the real SPY/IBM bars only
    python bench/bench.py --parts donchian,process  # skip the SMA replay figures
    python bench/bench.py --repeat 1      # one alpaca-fleece run per data set (default: 3)

Both engines step the minute grid (see backtrader_run.py): the sparse data sets leave minutes
without a bar, which both must carry. Each engine runs in its own process, one after the other,
so that neither's memory or CPU weighs on the other. The trade lists (fill time, symbol, side,
quantity, price) must be identical; the script prints both engines' bars per second and peak
memory, and the ratios, and exits 1 when the trades of any data set differ. The replay figures
time the replay with the bars in memory; the whole-process part (process_bench.py) times
``fleece backtest`` as a user runs it, start-up, reading CSV files and outputs included, beside
backtrader's process on the same files.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

from common import DATASETS, REPO, SEED_SYMBOLS, STRATEGIES, EngineResult, fail, read_result
from process_bench import load_average, whole_process

HERE = Path(__file__).resolve().parent


PARTS = ("sma", "donchian", "process")
#: donchian_breakout's data sets: (data set, synthetic sessions).
DONCHIAN_SETS = (("real", 0), ("real-sparse", 0), ("synthetic", 40))


def run_engine(
    script: str, dataset: str, days: int, symbols: str, out: Path, strategy: str = STRATEGIES[0]
) -> EngineResult:
    """Run one engine's process and read its result."""
    print(f"  running {script} ({strategy}) on the {dataset} bars ...", flush=True)
    command = [sys.executable, str(HERE / script), "--dataset", dataset, "--out", str(out)]
    command += ["--days", str(days), "--symbols", symbols, "--strategy", strategy]
    env = {**os.environ, "PYTHONPATH": str(HERE), "PYTHONHASHSEED": "0"}
    done = subprocess.run(command, env=env, cwd=REPO, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{script} failed with exit code {done.returncode}")
    return read_result(out)


def datasets(text: str) -> tuple[str, ...]:
    """``--only``'s value: data set names, comma-separated."""
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    unknown = [n for n in names if n not in DATASETS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"data sets are {', '.join(DATASETS)}; got {text!r}")
    return names


def first_difference(ours: EngineResult, theirs: EngineResult) -> str | None:
    """None when the trade lists are identical, else where they first differ."""
    a, b = ours.trades, theirs.trades
    for i, (x, y) in enumerate(zip(a, b, strict=False)):
        if x != y:
            return f"trade {i}: alpaca-fleece {x} vs backtrader {y}"
    if len(a) != len(b):
        return f"alpaca-fleece has {len(a)} trades, backtrader {len(b)}"
    return None


def machine() -> str:
    """A one-line description of the machine."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} CPUs, Python {platform.python_version()}, {platform.system()}"


def report(ours: EngineResult, theirs: EngineResult) -> bool:
    """Print one data set's comparison; True when the trades are identical."""
    print(f"\n== {ours.strategy}, {ours.dataset}: {ours.bars:,} bars ==")
    if theirs.grid_bars:
        carried = theirs.grid_bars - theirs.bars
        print(
            f"minute grid: {theirs.grid_bars:,} symbol-minutes, {carried:,} carried"
            f" ({carried / theirs.grid_bars:.1%}); bars/s counts the real bars"
        )
    if theirs.carried_share:
        low = min(theirs.carried_share, key=lambda s: theirs.carried_share[s])
        high = max(theirs.carried_share, key=lambda s: theirs.carried_share[s])
        print(
            f"carried per symbol: {theirs.carried_share[low]:.1%} ({low})"
            f" to {theirs.carried_share[high]:.1%} ({high})"
        )
    header = (
        f"{'engine':<15}{'seconds':>9}{'bars/s':>12}{'CPU s':>8}{'bars/CPU s':>12}"
        f"{'peak RSS MB':>13}{'above baseline MB':>19}"
    )
    print(header)
    for r in (ours, theirs):
        print(
            f"{r.engine:<15}{r.seconds:>9.2f}{r.bars_per_second:>12,.0f}{r.cpu_seconds:>8.2f}"
            f"{r.bars_per_cpu_second:>12,.0f}{r.peak_rss_mb:>13.0f}{r.footprint_mb:>19.0f}"
        )
    speed = ours.bars_per_second / theirs.bars_per_second
    cpu_speed = ours.bars_per_cpu_second / theirs.bars_per_cpu_second
    memory = theirs.peak_rss_mb / ours.peak_rss_mb
    footprint = theirs.footprint_mb / max(ours.footprint_mb, 1e-9)
    print(
        f"alpaca-fleece is {speed:,.0f}x faster ({cpu_speed:,.0f}x per CPU second); backtrader "
        f"uses {memory:.1f}x the peak memory ({footprint:.1f}x above the shared baseline)"
    )
    difference = first_difference(ours, theirs)
    if difference is None:
        print(f"trades identical: {len(ours.trades):,} fills (time, symbol, side, qty, price)")
        sys.stdout.flush()
        return True
    print(f"TRADES DIFFER: {difference}", flush=True)
    return False


def parts(text: str) -> tuple[str, ...]:
    """``--parts``' value: parts of the benchmark, comma-separated."""
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    if not names or any(n not in PARTS for n in names):
        raise argparse.ArgumentTypeError(f"parts are {', '.join(PARTS)}; got {text!r}")
    return names


def compare(dataset: str, days: int, symbols: str, repeat: int, tmp: Path, strategy: str) -> bool:
    """Both engines on one data set (ours ``repeat`` times, the median shown); True when the
    trades are identical."""
    runs = [
        run_engine("fleece_run.py", dataset, days, symbols, tmp / "fleece.json", strategy)
        for _ in range(repeat)
    ]
    # A few seconds' run is at the mercy of a noisy neighbour; backtrader's minutes average
    # that out. The median of our runs is reported, with the spread.
    ours = sorted(runs, key=lambda r: r.seconds)[len(runs) // 2]
    if len(runs) > 1:
        spread = ", ".join(f"{r.bars_per_second:,.0f}" for r in runs)
        print(f"  alpaca-fleece runs (bars/s): {spread}; the median is reported")
    theirs = run_engine("backtrader_run.py", dataset, days, symbols, tmp / "bt.json", strategy)
    return report(ours, theirs)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--days", type=int, default=252, help="synthetic sessions (default 252)")
    parser.add_argument("--symbols", default=",".join(SEED_SYMBOLS), help="synthetic symbols")
    parser.add_argument(
        "--only",
        type=datasets,
        default=DATASETS,
        help=f"comma-separated SMA data sets to run (default: all of {','.join(DATASETS)})",
    )
    parser.add_argument(
        "--parts", type=parts, default=PARTS, help=f"what to run (default: {','.join(PARTS)})"
    )
    parser.add_argument(
        "--repeat", type=int, default=3, help="alpaca-fleece runs per data set (median shown)"
    )
    args = parser.parse_args()
    print(f"machine: {machine()}", flush=True)
    print(f"load average at the start: {load_average()}", flush=True)
    identical = True
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        if "sma" in args.parts:
            for dataset in args.only:
                identical &= compare(
                    dataset, args.days, args.symbols, args.repeat, tmp, "sma_crossover"
                )
        if "donchian" in args.parts:
            for dataset, days in DONCHIAN_SETS:
                identical &= compare(
                    dataset, days, args.symbols, args.repeat, tmp, "donchian_breakout"
                )
        if "process" in args.parts:
            identical &= whole_process(tmp / "process", 40, args.repeat)
    print(f"\nload average at the end: {load_average()}")
    if not identical:
        fail("TRADES DIFFER between alpaca-fleece and backtrader (see above): cross-check failed")
    print("every data set: trades identical")


if __name__ == "__main__":
    main()
