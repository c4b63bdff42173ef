"""Whole-process benchmark: ``fleece backtest`` as a user runs it, beside backtrader, same files.

Both engines get the same ``<SYMBOL>.csv`` files (31 symbols x 40 synthetic sessions, a bar at
every minute: 483,600 bars) and are timed from the outside as whole processes: interpreter
start-up and imports, reading the files, the replay, the outputs.

- alpaca-fleece: the ``fleece`` command of the environment, ``fleece backtest --data DIR
  --config trading.yaml --out DIR`` (the benchmark's rules in a trading.yaml): it writes
  trades.csv, equity.csv, stats.json and report.html;
- backtrader: ``python bench/backtrader_run.py --csv DIR`` (pandas reads the files, the grid is
  built, cerebro runs, the trades are written as JSON).

The trades must be identical (read back from trades.csv and the JSON). :func:`phases` runs the
steps of ``fleece backtest`` in a fresh interpreter with a timer around each, to say where the
seconds go.

Both run as an installed tool runs: with Python's bytecode cached (pip compiles it at install).
An environment may forbid writing bytecode (``PYTHONDONTWRITEBYTECODE=1``: every import is then
compiled from source in every process); the processes here get ``PYTHONPYCACHEPREFIX`` pointing
into the benchmark's temporary folder instead, and one untimed run of each engine on a small
folder fills it, so nothing is written into the environment. One run with nothing cached is
reported too.
"""

from __future__ import annotations

import csv
import json
import os
import resource
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from common import (
    DONCHIAN_ENTRY,
    DONCHIAN_EXIT,
    FAST,
    MAX_CONCURRENT_POSITIONS,
    MAX_DAILY_LOSS_PCT,
    MAX_POSITION_PCT,
    MAX_TRADES_PER_DAY,
    MEDIUM,
    REPO,
    SEED_SYMBOLS,
    SLOW,
    STALE_ORDER_MINUTES,
    Columns,
    Trade,
    dataset_columns,
    in_order,
    read_result,
)

HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class ProcessRun:
    """One timed process: wall seconds, CPU seconds (user + system), its standard output."""

    seconds: float
    cpu_seconds: float
    output: str


def write_csv_files(columns: list[Columns], folder: Path) -> int:
    """Each symbol's bars as ``<SYMBOL>.csv`` (what ``fleece data download`` writes); the bars."""
    folder.mkdir(parents=True, exist_ok=True)
    bars = 0
    for c in columns:
        stamps = np.datetime_as_string(c.ts.astype("datetime64[s]"), unit="s").tolist()
        with (folder / f"{c.symbol}.csv").open("w", encoding="utf-8") as f:
            f.write("timestamp,open,high,low,close,volume\n")
            f.writelines(
                f"{t}Z,{o!r},{h!r},{lo!r},{cl!r},{v}\n"
                for t, o, h, lo, cl, v in zip(
                    stamps,
                    c.open.tolist(),
                    c.high.tolist(),
                    c.low.tolist(),
                    c.close.tolist(),
                    c.volume.tolist(),
                    strict=True,
                )
            )
        bars += len(c)
    return bars


def write_trading_yaml(path: Path, strategy: str) -> Path:
    """The benchmark's rules (common.py) as a trading.yaml for ``fleece backtest``."""
    params = (
        {"fast": FAST, "medium": MEDIUM, "slow": SLOW}
        if strategy == "sma_crossover"
        else {"entry": DONCHIAN_ENTRY, "exit": DONCHIAN_EXIT}
    )
    document = {
        "symbols": {"mode": "explicit", "list": SEED_SYMBOLS},
        "risk": {
            "max_position_pct": MAX_POSITION_PCT,
            "max_daily_loss_pct": MAX_DAILY_LOSS_PCT,
            "max_trades_per_day": MAX_TRADES_PER_DAY,
            "max_concurrent_positions": MAX_CONCURRENT_POSITIONS,
        },
        "strategy": {"name": strategy, **params},
        "orders": {"stale_order_minutes": STALE_ORDER_MINUTES},
    }
    path.write_text(json.dumps(document, indent=2), encoding="utf-8")  # JSON is YAML
    return path


def timed(command: list[str], env: dict[str, str] | None = None) -> ProcessRun:
    """Run ``command`` to its end; wall and CPU seconds of the process (and its children)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return ProcessRun(seconds, cpu, done.stdout)


def fleece_command() -> list[str]:
    """The environment's ``fleece`` command (as installed), else ``python -m fleece``."""
    script = Path(sys.executable).parent / "fleece"
    return [str(script)] if script.exists() else [sys.executable, "-m", "fleece"]


def fleece_trades(out: Path) -> list[Trade]:
    """The fills of trades.csv in the benchmark's form.

    ``fleece backtest`` polls ``data.poll_offset_seconds`` (5 s) after each minute, as the bot
    does, and stamps a fill at the open of the minute's bar with the poll's instant; backtrader
    stamps it with the bar's start. The minute is compared.
    """
    with (out / "trades.csv").open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    return in_order(
        [
            Trade(
                r["timestamp_utc"][:17] + "00Z",  # 2024-01-02T16:02:05.000000Z -> :02:00Z
                r["symbol"],
                r["side"],
                int(r["qty"]),
                float(r["price"]),
            )
            for r in rows
        ]
    )


def environment(pycache: Path | None) -> dict[str, str]:
    """The processes' environment: bytecode cached under ``pycache`` (None: nothing cached)."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE",)}
    env.update(PYTHONHASHSEED="0", COLUMNS="120", PYTHONPATH=str(HERE))
    if pycache is None:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        env.pop("PYTHONPYCACHEPREFIX", None)
    else:
        env["PYTHONPYCACHEPREFIX"] = str(pycache)
    return env


def run_fleece(data: Path, config: Path, out: Path, env: dict[str, str]) -> ProcessRun:
    """``fleece backtest`` over the files, as a process."""
    command = [*fleece_command(), "backtest", "--data", str(data)]
    command += ["--config", str(config), "--out", str(out)]
    return timed(command, env)


def run_backtrader(data: Path, out: Path, strategy: str, env: dict[str, str]) -> ProcessRun:
    """bench/backtrader_run.py over the same files, as a process."""
    command = [sys.executable, str(HERE / "backtrader_run.py"), "--csv", str(data)]
    command += ["--strategy", strategy, "--out", str(out)]
    return timed(command, env)


PHASES = """
import time
t0 = time.perf_counter()
from pathlib import Path
import fleece.cli
from fleece.backtest.cli import backtest_config, load_bars
from fleece.backtest.outputs import write_outputs
from fleece.backtest.runner import run_backtest
from fleece.config import load_trading_config
t1 = time.perf_counter()
trading = load_trading_config(Path(DATA[1]))
config = backtest_config(trading, 100_000.0, 0.0, "fast")
market = load_bars(data=Path(DATA[0]), synthetic=False, symbols=None, start=None, end=None,
                   seed=0, configured=trading.tickers)
t2 = time.perf_counter()
result = run_backtest(market, config)
t3 = time.perf_counter()
write_outputs(result, Path(DATA[2]))
t4 = time.perf_counter()
print(t1 - t0, t2 - t1, t3 - t2, t4 - t3)
"""


def phases(
    data: Path, config: Path, out: Path, env: dict[str, str]
) -> tuple[float, float, float, float]:
    """Seconds of ``fleece backtest``'s steps in a fresh interpreter: imports, config and
    loading, replay, outputs."""
    code = f"DATA = {[str(data), str(config), str(out)]!r}\n{PHASES}"
    done = timed([sys.executable, "-c", code], env)
    imports, loading, replay, outputs = (float(x) for x in done.output.split())
    return imports, loading, replay, outputs


def whole_process(tmp: Path, days: int, repeat: int) -> bool:
    """Print the whole-process comparison; True when the trades are identical."""
    columns = list(dataset_columns("synthetic", days, SEED_SYMBOLS, 0))
    data = tmp / "bars"
    bars = write_csv_files(columns, data)
    small = tmp / "small"
    write_csv_files([c.take(c.ts < c.ts[0] + 86_400) for c in columns[:2]], small)
    del columns
    config = write_trading_yaml(tmp / "trading.yaml", "sma_crossover")
    size = sum(p.stat().st_size for p in data.iterdir()) / 1e6
    print(
        f"\n== whole process: {len(SEED_SYMBOLS)} symbols x {days} sessions, {bars:,} bars in "
        f"{len(SEED_SYMBOLS)} CSV files ({size:.0f} MB), sma_crossover ==",
        flush=True,
    )
    cold = run_fleece(data, config, tmp / "cold", environment(None))
    warm = environment(tmp / "pycache")
    run_fleece(small, config, tmp / "warm-up", warm)  # fills the bytecode cache, untimed
    run_backtrader(small, tmp / "warm-up.json", "sma_crossover", warm)
    print(f"  load average before: {load_average()}", flush=True)
    ours = [run_fleece(data, config, tmp / f"out{n}", warm) for n in range(repeat)]
    spread = ", ".join(f"{r.seconds:.2f}" for r in ours)
    print(f"  fleece backtest runs (s): {spread}; the median is reported", flush=True)
    fleece = sorted(ours, key=lambda r: r.seconds)[len(ours) // 2]
    steps = phases(data, config, tmp / "phases", warm)
    theirs = run_backtrader(data, tmp / "bt.json", "sma_crossover", warm)
    print(f"  load average after: {load_average()}")
    report = tmp / "out0" / "report.html"
    print(f"{'process':<46}{'seconds':>9}{'CPU s':>8}{'bars/s':>12}")
    rows = (
        ("fleece backtest (start to outputs)", fleece),
        ("backtrader (start to trades)", theirs),
        ("fleece backtest, no bytecode cached", cold),
    )
    for label, r in rows:
        print(f"{label:<46}{r.seconds:>9.2f}{r.cpu_seconds:>8.2f}{bars / r.seconds:>12,.0f}")
    imports, loading, replay, outputs = steps
    print(
        f"fleece backtest's steps (a fresh interpreter): imports {imports:.2f} s, config and "
        f"reading {loading:.2f} s, replay {replay:.2f} s, outputs {outputs:.2f} s "
        f"(report.html {report.stat().st_size / 1e6:.1f} MB)"
    )
    print(
        f"alpaca-fleece's whole process is {theirs.seconds / fleece.seconds:,.1f}x faster "
        f"({theirs.cpu_seconds / fleece.cpu_seconds:,.1f}x in CPU seconds)"
    )
    ours_trades = fleece_trades(tmp / "out0")
    theirs_trades = read_result(tmp / "bt.json").trades
    if ours_trades == theirs_trades == fleece_trades(tmp / "cold"):
        print(f"trades identical: {len(ours_trades):,} fills", flush=True)
        return True
    print(f"TRADES DIFFER: {len(ours_trades)} vs {len(theirs_trades)} fills", flush=True)
    return False


def load_average() -> str:
    """/proc/loadavg's three averages."""
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"
