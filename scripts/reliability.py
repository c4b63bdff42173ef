"""``make reliability``: the long reliability runs, then ONE table of their figures.

1. The reliability specifications at full size (``FLEECE_RELIABILITY=full``): a whole simulated
   day of the seed's 31 symbols with 10% faulty answers, 24 SIGKILL crash trials, an exchange
   killed and restarted under the bot, the hypothesis suites, the secret scan and the paper-lock
   table. Each writes its figures to a report file.
2. The soak (``bench/soak.py``): 5 simulated days, 31 symbols.
3. The table. The exit code is non-zero when a test failed, a duplicate order or a lost fill was
   seen, or a crash trial failed.

    python scripts/reliability.py [--skip-soak] [--soak-days 5] [--trials 24]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]


def run_tests(report: Path, trials: int, pytest_args: list[str]) -> tuple[int, float]:
    """The reliability specifications at full size; returns (exit code, seconds)."""
    env = {
        **os.environ,
        "FLEECE_RELIABILITY": "full",
        "FLEECE_RELIABILITY_REPORT": str(report),
        "FLEECE_CRASH_TRIALS": str(trials),
    }
    command = [sys.executable, "-m", "pytest", "tests/reliability", "-q", "-p", "no:cacheprovider"]
    started = time.monotonic()
    print(f"$ FLEECE_RELIABILITY=full {' '.join(command[1:] + pytest_args)}", flush=True)
    code = subprocess.run([*command, *pytest_args], cwd=REPO, env=env, check=False).returncode
    return code, time.monotonic() - started


def run_soak(days: int, speed: float, out: Path) -> dict[str, Any] | None:
    """The soak benchmark; its figures, or None if it failed."""
    command = [sys.executable, "bench/soak.py", "--days", str(days), "--speed", str(speed)]
    command += ["--json", str(out)]
    print(f"$ {' '.join(command[1:])}", flush=True)
    done = subprocess.run(command, cwd=REPO, check=False)
    if done.returncode != 0 or not out.exists():
        return None
    return dict(json.loads(out.read_text()))


def read_report(report: Path) -> dict[str, dict[str, Any]]:
    """The figures each specification wrote, by name (the last entry of a name wins)."""
    figures: dict[str, dict[str, Any]] = {}
    if report.exists():
        for line in report.read_text().splitlines():
            if line.strip():
                entry = json.loads(line)
                figures[entry["name"]] = entry
    return figures


def table(
    figures: dict[str, dict[str, Any]], soak: dict[str, Any] | None, tests: tuple[int, float]
) -> tuple[str, bool]:
    """The one table, and whether every must-hold figure held."""
    session = figures.get("faulty_session", {})
    trials = figures.get("crash_trials", {})
    rows: list[tuple[str, str, str]] = []
    ok = tests[0] == 0

    def add(
        name: str, value: str, goal: str = "", held: bool | None = None, must: bool = True
    ) -> None:
        # A missed goal is shown; only a broken invariant (must) fails the run.
        nonlocal ok
        if held is False and must:
            ok = False
        mark = "" if held is None else ("ok" if held else ("FAILED" if must else "missed"))
        rows.append((name, value, f"{goal} {mark}".strip()))

    by_kind = ", ".join(f"{k} {v}" for k, v in sorted(session.get("faults_by_kind", {}).items()))
    add(
        "faults injected",
        f"{session.get('faults', '-')} of {session.get('requests', '-')} answers ({by_kind}); "
        f"{session.get('symbols', '-')} symbols x {session.get('minutes', '-')} min",
    )
    intents = session.get("intents", 0) + trials.get("intents", 0)
    add(
        "intents",
        f"{intents} (faulty day {session.get('intents', '-')}, crash trials "
        f"{trials.get('intents', '-')})",
    )
    duplicates = session.get("duplicates", 0) + trials.get("duplicates", 0)
    add("duplicates", str(duplicates), "must be 0", duplicates == 0 and bool(session))
    lost = session.get("fills_lost", 0) + trials.get("fills_lost", 0)
    add("fills lost", str(lost), "must be 0", lost == 0 and bool(session))
    add(
        "crash trials passed",
        f"{trials.get('passed', 0)} of {trials.get('trials', 0)} (SIGKILL, seed "
        f"{trials.get('seed', '-')})",
        "all, >= 20",
        bool(trials) and trials.get("passed") == trials.get("trials") and trials["trials"] >= 20,
    )
    if soak:
        add(
            "peak RSS",
            f"{soak['peak_rss_mb']:.1f} MB (soak: {len(soak['sim_days_seen'])} days "
            f"x {soak['symbols']} symbols)",
        )
        add(
            "RSS growth after day 1",
            f"{soak['rss_growth_pct']:+.2f}%",
            "< 5%",
            soak["rss_growth_pct"] < 5,
            must=False,
        )
        add(
            "fds / threads start -> end",
            f"{soak['fds_start']} -> {soak['fds_end']} / "
            f"{soak['threads_start']} -> {soak['threads_end']}",
            "no growth",
            soak["fds_end"] <= soak["fds_start"] and soak["threads_end"] <= soak["threads_start"],
            must=False,
        )
        add(
            "requests per minute",
            f"{soak['requests_per_market_minute']:.2f} per market minute (soak); "
            f"max {session.get('max_requests_per_minute', '-')} in a simulated minute under faults",
            "<= 3 (31 symbols); < 200 (Alpaca)",
            soak["requests_per_market_minute"] <= 3
            and session.get("max_requests_per_minute", 0) < 200,
            must=False,
        )
        p99 = soak.get("latency_p99_ms")
        add(
            "decision latency p99",
            f"{p99} ms (p50 {soak.get('latency_p50_ms')} ms, {soak.get('orders')} orders); "
            f"to the HTTP call incl. write-ahead commits p99 {soak.get('to_send_p99_ms')} ms",
            "< 5 ms",
            p99 is not None and p99 < 5,
            must=False,
        )
    else:
        add("soak", "not run" if soak is None else "failed")
    add(
        "reliability specs",
        "passed" if tests[0] == 0 else f"FAILED (pytest exit {tests[0]})",
        f"{tests[1]:.0f} s",
    )
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    line = "+".join("-" * (w + 2) for w in widths)
    out = [f"+{line}+"]
    for row in rows:
        out.append("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |")
    out.append(f"+{line}+")
    return "\n".join(out), ok


def main() -> int:
    """Run everything, print the table; returns the exit code."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--skip-soak", action="store_true", help="do not run the soak")
    parser.add_argument("--skip-tests", action="store_true", help="only the soak and the table")
    parser.add_argument("--soak-days", type=int, default=5)
    parser.add_argument("--soak-speed", type=float, default=600.0)
    parser.add_argument("--trials", type=int, default=24, help="SIGKILL crash trials")
    parser.add_argument("--report", type=Path, help="keep the specifications' figures here")
    parser.add_argument("pytest_args", nargs="*", help="extra pytest arguments (after --)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="fleece-reliability-"))
    report = args.report or work / "report.jsonl"
    report.unlink(missing_ok=True)
    tests = (0, 0.0) if args.skip_tests else run_tests(report, args.trials, args.pytest_args)
    soak = None if args.skip_soak else run_soak(args.soak_days, args.soak_speed, work / "soak.json")
    text, ok = table(read_report(report), soak, tests)
    print("\nalpaca-fleece reliability")
    print(text)
    print(f"(figures: {report})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
