"""Before/after: is a change slower? Two checkouts' backtests, interleaved, in the same minutes.

Each tree runs its own ``bench/fleece_run.py`` (the replay with the bars in memory: the SMA year,
dense and IEX-like, and donchian_breakout on 40 sessions) and its own ``python -m fleece
backtest`` over the same CSV files (the whole process), the trees taking turns so that both meet
the same load on a shared machine. It prints the medians and the after/before ratios (bars per
second and per CPU second; seconds for the process) and the fills of each, which must agree.

Usage (each tree a checkout with its own ``.venv``, e.g. ``git worktree add`` + ``make sync``)::

    .venv/bin/python bench/before_after.py BEFORE_TREE AFTER_TREE [REPEAT]   # REPEAT: 5
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path

from common import SEED_SYMBOLS, dataset_columns, read_result
from process_bench import timed, write_csv_files, write_trading_yaml

CASES = (
    ("sma synthetic 252d", ["--dataset", "synthetic", "--days", "252"], "sma_crossover"),
    (
        "sma synthetic-sparse 252d",
        ["--dataset", "synthetic-sparse", "--days", "252"],
        "sma_crossover",
    ),
    ("donchian synthetic 40d", ["--dataset", "synthetic", "--days", "40"], "donchian_breakout"),
)


def env_of(tree: Path) -> dict[str, str]:
    """The tree's own bench helpers on the path, hashing fixed, bytecode cached."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.update(PYTHONHASHSEED="0", PYTHONPATH=str(tree / "bench"), COLUMNS="120")
    return env


def turns(trees: dict[str, Path], repeat: int) -> Iterator[tuple[int, str, Path]]:
    """Each run's (round, name, tree), the trees taking turns to go first."""
    order = list(trees.items())
    for n in range(repeat):
        for name, tree in order if n % 2 == 0 else order[::-1]:
            yield n, name, tree


def compare(
    label: str, runs: dict[str, list[tuple[float, float]]], unit: str, fmt: str = ",.0f"
) -> str:
    """Medians of (figure, CPU figure) per tree and the after/before ratios, one line."""
    b, a = (statistics.median(r[0] for r in runs[k]) for k in ("before", "after"))
    bc, ac = (statistics.median(r[1] for r in runs[k]) for k in ("before", "after"))
    return (
        f"{label}: {unit} median before {b:{fmt}} after {a:{fmt}} (after/before {a / b:.3f}); "
        f"CPU before {bc:{fmt}} after {ac:{fmt}} ({ac / bc:.3f})"
    )


def replay(
    n: int, name: str, tree: Path, *, tmp: Path, args: list[str], fills: dict[str, int]
) -> tuple[float, float]:
    """The tree's own ``bench/fleece_run.py``: bars per second and per CPU second (its fills
    counted in ``fills``)."""
    out = tmp / f"{name}.json"
    script = [str(tree / ".venv/bin/python"), str(tree / "bench/fleece_run.py")]
    timed([*script, *args, "--out", str(out)], env_of(tree))
    r = read_result(out)
    fills[name] = len(r.trades)
    return r.bars / r.seconds, r.bars / r.cpu_seconds


def run_all(
    trees: dict[str, Path], repeat: int, one: Callable[[int, str, Path], tuple[float, float]]
) -> dict[str, list[tuple[float, float]]]:
    """``one`` for every turn, its figures gathered per tree."""
    runs: dict[str, list[tuple[float, float]]] = {name: [] for name in trees}
    for n, name, tree in turns(trees, repeat):
        runs[name].append(one(n, name, tree))
    return runs


def main() -> None:
    trees = {"before": Path(sys.argv[1]).resolve(), "after": Path(sys.argv[2]).resolve()}
    repeat = int(sys.argv[3]) if len(sys.argv) > 3 else 5
    tmp = Path(tempfile.mkdtemp(prefix="before-after-"))
    print(f"load average at the start: {os.getloadavg()}")
    for label, args, strategy in CASES:
        fills: dict[str, int] = {}
        one = partial(replay, tmp=tmp, args=[*args, "--strategy", strategy], fills=fills)
        print(f"{compare(label, run_all(trees, repeat, one), 'bars/s')}; fills {fills}", flush=True)
    # The whole process, over CSV files and a trading.yaml written once by this tree's helpers.
    data = tmp / "bars"
    bars = write_csv_files(list(dataset_columns("synthetic", 40, SEED_SYMBOLS, 0)), data)
    config = write_trading_yaml(tmp / "trading.yaml", "sma_crossover")

    def backtest(n: int, name: str, tree: Path) -> tuple[float, float]:
        command = [str(tree / ".venv/bin/python"), "-m", "fleece", "backtest", "--data", str(data)]
        run = timed(
            [*command, "--config", str(config), "--out", tempfile.mkdtemp(dir=tmp)], env_of(tree)
        )
        return run.seconds, run.cpu_seconds

    run_all(trees, 1, backtest)  # warms both trees' bytecode caches, untimed
    runs = run_all(trees, repeat, backtest)
    print(compare(f"whole process (fleece backtest, {bars:,} bars in CSV)", runs, "seconds", ".2f"))
    print(f"load average at the end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
