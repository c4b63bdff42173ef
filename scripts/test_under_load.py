"""``make test-under-load``: ``make test`` several times in a row with every CPU kept busy.

A suite that passes only on an idle machine is a suite that flakes on CI. This runs
``stress-ng --cpu N`` (N = the machine's CPUs by default) beside each ``make test``, one run after
the other, and prints one table: each run's result, its duration and the 1-minute load average
seen while it ran (sampled every few seconds from /proc/loadavg). Each run's whole output is kept
in ``logs/test-under-load/run-K.log``. The exit code is non-zero when any run failed.

stress-ng is bounded twice: by its own ``--timeout`` and by this script, which stops it (by its
process id) when the run ends, however it ends.

    python scripts/test_under_load.py [--runs 3] [--cpus 2] [--target test]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LOGS = REPO / "logs" / "test-under-load"
SAMPLE_S = 5.0
# stress-ng stops on its own after this long even if this script is killed outright.
STRESS_LIMIT_S = 40 * 60
SUMMARY = re.compile(r"\b\d+ (passed|failed|error|errors)\b")


@dataclass
class Run:
    """One ``make`` run beside stress-ng: its figures."""

    number: int
    code: int = -1
    seconds: float = 0.0
    loads: list[float] = field(default_factory=list)
    summary: str = ""

    @property
    def result(self) -> str:
        """``passed`` or ``FAILED (exit N)``."""
        return "passed" if self.code == 0 else f"FAILED (exit {self.code})"


def load_1min() -> float:
    """The 1-minute load average."""
    return float(Path("/proc/loadavg").read_text().split()[0])


def sample_loads(into: list[float], stop: threading.Event) -> None:
    """Append the 1-minute load average to ``into`` every few seconds until ``stop``."""
    while not stop.wait(SAMPLE_S):
        into.append(load_1min())


def start_stress(cpus: int) -> subprocess.Popen[bytes]:
    """``stress-ng --cpu cpus`` in its own session, bounded by its own timeout."""
    command = ["stress-ng", "--cpu", str(cpus), "--timeout", f"{STRESS_LIMIT_S}s", "--quiet"]
    return subprocess.Popen(command, start_new_session=True)


def stop_stress(stress: subprocess.Popen[bytes]) -> None:
    """Stop the stress-ng this script started, and its workers (its own process group)."""
    if stress.poll() is None:
        stress.send_signal(signal.SIGTERM)  # stress-ng stops its workers on SIGTERM
        try:
            stress.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(stress.pid, signal.SIGKILL)  # its session's group: our stress-ng only
            stress.wait()


def one_run(number: int, cpus: int, target: str) -> Run:
    """``make target`` beside ``stress-ng --cpu cpus``; output to the terminal and a log."""
    run = Run(number, loads=[load_1min()])
    log = LOGS / f"run-{number}.log"
    stop = threading.Event()
    sampler = threading.Thread(target=sample_loads, args=(run.loads, stop), daemon=True)
    print(f"--- run {number}: make {target} beside stress-ng --cpu {cpus} (log: {log})", flush=True)
    stress = start_stress(cpus)
    started = time.monotonic()
    sampler.start()
    try:
        with log.open("w", encoding="utf-8") as out:
            make = subprocess.Popen(
                ["make", "--no-print-directory", target],
                cwd=REPO,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            assert make.stdout is not None
            for line in make.stdout:
                sys.stdout.write(line)
                out.write(line)
                if SUMMARY.search(line):
                    run.summary = line.strip().strip("=").strip()
            run.code = make.wait()
    finally:
        run.seconds = time.monotonic() - started
        stop.set()
        sampler.join()
        stop_stress(stress)
    return run


def table(runs: list[Run], cpus: int) -> str:
    """The runs' figures, one line each."""
    lines = [
        f"make test beside stress-ng --cpu {cpus} on {os.cpu_count()} CPUs; load = 1-minute "
        "load average at the start / mean / max while the run ran",
        f"{'run':>3}  {'result':<16} {'duration':>9}  {'load start/mean/max':<20} pytest",
    ]
    for run in runs:
        mean = sum(run.loads) / len(run.loads)
        load = f"{run.loads[0]:.1f} / {mean:.1f} / {max(run.loads):.1f}"
        minutes, seconds = divmod(round(run.seconds), 60)
        duration = f"{minutes:>5}m{seconds:02d}s"
        lines.append(f"{run.number:>3}  {run.result:<16} {duration}  {load:<20} {run.summary}")
    return "\n".join(lines)


def main() -> int:
    """Run the suite ``--runs`` times under load and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="runs in a row (default 3)")
    parser.add_argument(
        "--cpus", type=int, default=os.cpu_count() or 2, help="stress-ng CPU workers (all CPUs)"
    )
    parser.add_argument("--target", default="test", help="the make target to run (default test)")
    args = parser.parse_args()
    if shutil.which("stress-ng") is None:
        print("stress-ng is missing: make test-under-load installs it (apt-get)", file=sys.stderr)
        return 2
    LOGS.mkdir(parents=True, exist_ok=True)
    runs = [one_run(number, args.cpus, args.target) for number in range(1, args.runs + 1)]
    print("\n" + table(runs, args.cpus), flush=True)
    return 0 if all(run.code == 0 for run in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
