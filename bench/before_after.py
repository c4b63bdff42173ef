"""Before/after: is a change slower? Two checkouts' backtests, interleaved, in the same minutes.

Each tree runs its own ``bench/fleece_run.py`` (the replay with the bars in memory: the SMA year,
dense and IEX-like, and donchian_breakout on 40 sessions) and its own ``python -m fleece
backtest`` over the same CSV files (the whole process), the trees taking turns so that both meet
the same load on a shared machine. It prints the medians and the after/before ratios (bars per
second and per CPU second; seconds for the process) and the fills of each, which must agree.

Usage (each tree a checkout with its own ``.venv``, e.g. ``git worktree add`` + ``make sync``)::

    .venv/bin/python bench/before_after.py BEFORE_TREE AFTER_TREE [REPEAT]   # REPEAT: 5
"""

import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

before, after = Path(sys.argv[1]), Path(sys.argv[2])
repeat = int(sys.argv[3]) if len(sys.argv) > 3 else 5
CASES = [
    (
        "sma synthetic 252d",
        ["--dataset", "synthetic", "--days", "252", "--strategy", "sma_crossover"],
    ),
    (
        "sma synthetic-sparse 252d",
        ["--dataset", "synthetic-sparse", "--days", "252", "--strategy", "sma_crossover"],
    ),
    (
        "donchian synthetic 40d",
        ["--dataset", "synthetic", "--days", "40", "--strategy", "donchian_breakout"],
    ),
]


def env_of(tree: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.update(PYTHONHASHSEED="0", PYTHONPATH=str(tree / "bench"), COLUMNS="120")
    return env


def replay(tree: Path, args: list[str], out: Path) -> tuple[float, float, int]:
    cmd = [
        str(tree / ".venv/bin/python"),
        str(tree / "bench/fleece_run.py"),
        *args,
        "--out",
        str(out),
    ]
    subprocess.run(cmd, cwd=tree, env=env_of(tree), check=True, stdout=subprocess.DEVNULL)
    r = json.loads(out.read_text())
    return r["bars"] / r["seconds"], r["bars"] / r["cpu_seconds"], len(r["trades"])


def whole(tree: Path, data: Path, config: Path, out: Path) -> tuple[float, float]:
    cmd = [
        str(tree / ".venv/bin/python"),
        "-m",
        "fleece",
        "backtest",
        "--data",
        str(data),
        "--config",
        str(config),
        "--out",
        str(out),
    ]
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(
        cmd,
        cwd=out.parent,
        env=env_of(tree),
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wall = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="ab-"))
    print(f"load average at the start: {os.getloadavg()}")
    for label, args in CASES:
        rows: dict[str, list[tuple[float, float, int]]] = {"before": [], "after": []}
        for n in range(repeat):
            for name, tree in (
                (("before", before), ("after", after))
                if n % 2 == 0
                else (("after", after), ("before", before))
            ):
                rows[name].append(replay(tree, args, tmp / f"{name}.json"))
        b = statistics.median(r[0] for r in rows["before"])
        a = statistics.median(r[0] for r in rows["after"])
        bc = statistics.median(r[1] for r in rows["before"])
        ac = statistics.median(r[1] for r in rows["after"])
        print(
            f"{label}: bars/s median before {b:,.0f} after {a:,.0f} (after/before {a / b:.3f}); "
            f"bars/CPU s before {bc:,.0f} after {ac:,.0f} ({ac / bc:.3f}); "
            f"fills before {rows['before'][0][2]} after {rows['after'][0][2]}",
            flush=True,
        )
    # whole process: the main tree writes the CSV files and trading.yaml once
    sys.path.insert(0, str(after / "bench"))
    from common import SEED_SYMBOLS, dataset_columns
    from process_bench import write_csv_files, write_trading_yaml

    data = tmp / "bars"
    bars = write_csv_files(list(dataset_columns("synthetic", 40, SEED_SYMBOLS, 0)), data)
    config = write_trading_yaml(tmp / "trading.yaml", "sma_crossover")
    for tree in (before, after):  # warm the bytecode caches, untimed
        whole(tree, data, config, tmp / "warm")
    times: dict[str, list[tuple[float, float]]] = {"before": [], "after": []}
    for n in range(repeat):
        for name, tree in (
            (("before", before), ("after", after))
            if n % 2 == 0
            else (("after", after), ("before", before))
        ):
            times[name].append(whole(tree, data, config, tmp / f"w-{name}-{n}"))
    b = statistics.median(t[0] for t in times["before"])
    a = statistics.median(t[0] for t in times["after"])
    bc = statistics.median(t[1] for t in times["before"])
    ac = statistics.median(t[1] for t in times["after"])
    print(
        f"whole process (fleece backtest, {bars:,} bars in CSV): seconds median "
        f"before {b:.2f} after {a:.2f} "
        f"(after/before {a / b:.3f}); CPU s before {bc:.2f} after {ac:.2f} ({ac / bc:.3f})"
    )
    print(f"load average at the end: {os.getloadavg()}")


main()
