"""Soak: the real bot over several simulated trading days, watched from outside.

``fleece run`` runs as a child process in ``FLEECE_MODE=sim`` (the built-in exchange in-process,
synthetic bars for the seed's 31 symbols, accelerated time) for ``--days`` sessions. Every
``--every`` real seconds this script samples the process from /proc (resident memory, open file
descriptors, threads) and the simulated time the bot has reached (the newest ``equity_curve`` row
of its store, read-only). At the end it reads the bot's own figures from its log (requests per
market minute, decision latency) and prints:

- peak RSS, and RSS growth from the end of the first simulated day to the end of the last
  (goal: under 5%);
- open file descriptors and threads when trading starts and when the last day ends (goal: no
  growth);
- broker requests per market minute (goal: at most 3 with 31 symbols);
- p50/p99 time from a bar reaching the trader to the order call (goal: p99 under 5 ms).

This is a benchmark, not a test: it asserts nothing and takes minutes. ``--json FILE`` writes the
figures for ``scripts/reliability.py``.

    .venv/bin/python bench/soak.py [--days 5] [--speed 600] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from contextlib import closing
from dataclasses import asdict, dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RUN_STATS = re.compile(r"run stats .* requests=(\d+) per_market_minute=([\d.]+)")
LATENCY = re.compile(
    r"decision latency orders=(\d+) p50_ms=([\d.]+) p99_ms=([\d.]+) max_ms=([\d.]+)"
    r"(?: to_send_p50_ms=([\d.]+) to_send_p99_ms=([\d.]+))?"
)
RUNNING = "bot running mode="
SHUTDOWN = "shutdown begins"


@dataclass
class Sample:
    """One look at the process."""

    real_s: float
    sim_day: str | None
    rss_kb: int
    hwm_kb: int
    fds: int
    threads: int
    trading: bool = False
    shutting_down: bool = False


class LogWatcher:
    """Reads the bot's log as it grows (only the new bytes) for its phase lines."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0
        self.trading = False
        self.shutting_down = False

    def poll(self) -> None:
        """Read what was appended since the last call."""
        if not self.path.exists():
            return
        with self.path.open("rb") as handle:
            handle.seek(self.offset)
            new = handle.read().decode(errors="replace")
            self.offset = handle.tell()
        self.trading = self.trading or RUNNING in new
        self.shutting_down = self.shutting_down or SHUTDOWN in new


@dataclass
class Soak:
    """The figures of one soak."""

    days: int
    symbols: int
    speed: float
    separate_exchange: bool = False
    seconds: float = 0.0
    clock_reads: int = 0
    exit_code: int | None = None
    peak_rss_mb: float = 0.0
    rss_end_of_first_day_mb: float = 0.0
    rss_end_mb: float = 0.0
    rss_growth_pct: float = 0.0
    fds_start: int = 0
    fds_end: int = 0
    threads_start: int = 0
    threads_end: int = 0
    requests: int = 0
    requests_per_market_minute: float = 0.0
    orders: int = 0
    latency_p50_ms: float | None = None
    latency_p99_ms: float | None = None
    latency_max_ms: float | None = None
    to_send_p50_ms: float | None = None
    to_send_p99_ms: float | None = None
    sim_days_seen: list[str] = field(default_factory=list)


def proc_status(pid: int) -> tuple[int, int, int] | None:
    """(VmRSS kB, VmHWM kB, threads) of ``pid``; None once it is gone."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    fields = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)

    def kb(name: str) -> int:
        return int(fields.get(name, "0 kB").split()[0])

    return kb("VmRSS"), kb("VmHWM"), int(fields.get("Threads", "0").strip())


def open_fds(pid: int) -> int:
    """How many file descriptors ``pid`` holds open."""
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return 0


def sim_day(db: Path) -> str | None:
    """The simulated New York day of the bot's newest equity snapshot (None before any)."""
    if not db.exists():
        return None
    try:
        with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1)) as conn:
            row = conn.execute("SELECT MAX(timestamp_utc) FROM equity_curve").fetchone()
    except sqlite3.Error:
        return None
    if not row or not row[0]:
        return None
    from datetime import datetime
    from zoneinfo import ZoneInfo

    stamp = datetime.fromisoformat(str(row[0]).replace("Z", "+00:00"))
    return stamp.astimezone(ZoneInfo("America/New_York")).date().isoformat()


def fleece_command() -> list[str]:
    """``fleece run`` through the installed console script (``python -m fleece`` without it)."""
    script = shutil.which("fleece", path=str(Path(sys.executable).parent))
    return [script, "run"] if script else [sys.executable, "-m", "fleece", "run"]


KEY, SECRET = "soak-key-0123456789", "soak-secret-0123456789"
LISTENING = re.compile(r"listening on (http://\S+)")


def start_exchange(
    days: int, speed: float, seed: int, start: str, folder: Path
) -> tuple[subprocess.Popen[bytes], str]:
    """``fleece exchange`` as its own process (the broker is then another process, as live)."""
    symbols = ",".join(_symbols())
    argv = [sys.executable, "-m", "fleece.exchange", "--synthetic", "--port", "0"]
    argv += ["--symbols", symbols, "--speed", str(speed), "--days", str(days + 1)]
    argv += ["--seed", str(seed), "--start", start]
    env = {"PATH": os.environ.get("PATH", ""), "ALPACA_API_KEY": KEY, "ALPACA_SECRET_KEY": SECRET}
    out = folder / "exchange.out"
    with out.open("wb") as handle:
        process = subprocess.Popen(argv, env=env, stdout=handle, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        found = LISTENING.search(out.read_text(errors="replace"))
        if found:
            return process, found[1]
        if process.poll() is not None:
            break
        time.sleep(0.1)
    process.kill()
    raise SystemExit(f"the exchange did not start: {out.read_text(errors='replace')[-500:]}")


def run(
    days: int,
    speed: float,
    every: float,
    folder: Path,
    seed: int,
    start: str,
    separate: bool = False,
) -> Soak:
    """Run the bot for ``days`` simulated sessions in ``folder`` and measure it.

    With ``separate`` the exchange runs as its own process and the bot trades it in paper mode
    (its clock then follows the exchange's, which costs a clock read per wait); otherwise in sim
    mode, the exchange inside the bot's process (sharing its interpreter and GIL).
    """
    exchange: subprocess.Popen[bytes] | None = None
    mode: dict[str, str] = {
        "FLEECE_MODE": "sim",
        "SIM_DAYS": str(days),
        "SIM_SPEED": str(speed),
        "SIM_SEED": str(seed),
        "SIM_START": start,
    }
    if separate:
        exchange, url = start_exchange(days, speed, seed, start, folder)
        mode = {
            "FLEECE_MODE": "paper",
            "ALPACA_BASE_URL": url,
            "ALPACA_API_KEY": KEY,
            "ALPACA_SECRET_KEY": SECRET,
        }
    env = {
        **{k: v for k, v in os.environ.items() if k in {"PATH", "HOME", "LANG", "TMPDIR"}},
        "PYTHONUNBUFFERED": "1",
        **mode,
        "CONFIG_PATH": str(REPO / "config" / "trading.yaml"),
        "DATABASE_PATH": str(folder / "data" / "trades.db"),
        "LOG_DIR": str(folder / "logs"),
        "DASHBOARD_ENABLED": "false",
        "LOG_MAX_BYTES": "0",
    }
    log = folder / "logs" / "orchestrator.out"
    result = Soak(days=days, symbols=len(_symbols()), speed=speed, separate_exchange=separate)
    samples: list[Sample] = []
    watcher = LogWatcher(log)
    started = time.monotonic()
    with (folder / "bot.out").open("wb") as out:
        bot = subprocess.Popen(fleece_command(), cwd=folder, env=env, stdout=out, stderr=out)
        try:
            stopping = False
            while bot.poll() is None:
                if separate and not stopping and watcher.trading and _sessions_done(samples) > days:
                    bot.send_signal(signal.SIGTERM)  # a paper-mode bot runs until told to stop
                    stopping = True  # once: a second SIGTERM means "exit at once"
                status = proc_status(bot.pid)
                watcher.poll()
                if status is not None:
                    samples.append(
                        Sample(
                            real_s=time.monotonic() - started,
                            sim_day=sim_day(folder / "data" / "trades.db"),
                            rss_kb=status[0],
                            hwm_kb=status[1],
                            fds=open_fds(bot.pid),
                            threads=status[2],
                            trading=watcher.trading,
                            shutting_down=watcher.shutting_down,
                        )
                    )
                time.sleep(every)
        except KeyboardInterrupt:
            bot.send_signal(signal.SIGTERM)
        finally:
            result.exit_code = bot.wait()
            if exchange is not None:
                exchange.send_signal(signal.SIGTERM)
                exchange.wait(timeout=30)
    result.seconds = round(time.monotonic() - started, 1)
    _summarise(result, samples, log.read_text(errors="replace") if log.exists() else "")
    return result


def _summarise(result: Soak, samples: list[Sample], log: str) -> None:
    trading = [s for s in samples if s.trading and not s.shutting_down]
    if samples:
        result.peak_rss_mb = round(max(s.hwm_kb for s in samples) / 1024, 1)
    days = [s.sim_day for s in trading if s.sim_day]
    result.sim_days_seen = sorted(set(days))
    if trading:
        first, last = trading[0], trading[-1]
        result.fds_start, result.fds_end = first.fds, last.fds
        result.threads_start, result.threads_end = first.threads, last.threads
        result.rss_end_mb = round(last.rss_kb / 1024, 1)
        if len(result.sim_days_seen) >= 2:
            second_day = result.sim_days_seen[1]
            end_of_first = [s for s in trading if s.sim_day and s.sim_day < second_day]
            reference = end_of_first[-1] if end_of_first else first
            result.rss_end_of_first_day_mb = round(reference.rss_kb / 1024, 1)
            result.rss_growth_pct = round(
                100 * (last.rss_kb - reference.rss_kb) / reference.rss_kb, 2
            )
    stats = RUN_STATS.findall(log)
    if stats:
        requests, per_minute = stats[-1]
        result.requests, result.requests_per_market_minute = int(requests), float(per_minute)
        clock = re.findall(r"run stats .* get_clock=(\d+)", log)
        result.clock_reads = int(clock[-1]) if clock else 0
    latency = LATENCY.findall(log)
    if latency:
        orders, p50, p99, worst, send50, send99 = latency[-1]
        result.orders = int(orders)
        result.latency_p50_ms, result.latency_p99_ms = float(p50), float(p99)
        result.latency_max_ms = float(worst)
        if send50:
            result.to_send_p50_ms, result.to_send_p99_ms = float(send50), float(send99)


def _sessions_done(samples: list[Sample]) -> int:
    """Simulated days seen so far (a new day shows once its first snapshot is written)."""
    return len({s.sim_day for s in samples if s.sim_day})


def _symbols() -> list[str]:
    import yaml

    document = yaml.safe_load((REPO / "config" / "trading.yaml").read_text())
    return [str(s) for s in document["symbols"]["list"]]


def table(result: Soak) -> str:
    """The figures as a plain-text table, with each goal."""

    def verdict(ok: bool) -> str:
        return "ok" if ok else "MISSED"

    p99 = result.latency_p99_ms
    rows = [
        ("simulated days x symbols", f"{len(result.sim_days_seen)} x {result.symbols}", ""),
        (
            "real time",
            f"{result.seconds:.0f} s at {result.speed:g}x, exchange "
            + ("in its own process" if result.separate_exchange else "in the bot's process"),
            "",
        ),
        ("peak RSS", f"{result.peak_rss_mb:.1f} MB", ""),
        (
            "RSS growth after day 1",
            f"{result.rss_growth_pct:+.2f}% ({result.rss_end_of_first_day_mb:.1f} -> "
            f"{result.rss_end_mb:.1f} MB)",
            f"< 5%: {verdict(result.rss_growth_pct < 5)}",
        ),
        (
            "open fds start/end",
            f"{result.fds_start} / {result.fds_end}",
            f"no growth: {verdict(result.fds_end <= result.fds_start)}",
        ),
        (
            "threads start/end",
            f"{result.threads_start} / {result.threads_end}",
            f"no growth: {verdict(result.threads_end <= result.threads_start)}",
        ),
        (
            "requests per market minute",
            f"{result.requests_per_market_minute:.2f} ({result.requests} requests)",
            f"<= 3: {verdict(result.requests_per_market_minute <= 3)}",
        ),
        (
            "decision latency p50/p99",
            f"{result.latency_p50_ms} / {p99} ms over {result.orders} orders",
            f"p99 < 5 ms: {verdict(p99 is not None and p99 < 5)}",
        ),
        (
            "bar -> HTTP order p50/p99",
            f"{result.to_send_p50_ms} / {result.to_send_p99_ms} ms (+ write-ahead commits)",
            "",
        ),
        ("exit code", str(result.exit_code), ""),
    ]
    width = max(len(r[0]) for r in rows)
    value_width = max(len(r[1]) for r in rows)
    return "\n".join(f"{a:<{width}}  {b:<{value_width}}  {c}".rstrip() for a, b, c in rows)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--days", type=int, default=5, help="simulated sessions (default 5)")
    parser.add_argument("--speed", type=float, default=600.0, help="simulated seconds per second")
    parser.add_argument("--every", type=float, default=0.25, help="real seconds between samples")
    parser.add_argument("--seed", type=int, default=7, help="seed of the synthetic market")
    parser.add_argument("--start", default="2024-12-02", help="first session (a Monday)")
    parser.add_argument("--keep", type=Path, help="run in this folder and keep it")
    parser.add_argument(
        "--separate-exchange",
        action="store_true",
        help="run the exchange as its own process (paper mode on loopback) instead of sim mode",
    )
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    folder = args.keep or Path(tempfile.mkdtemp(prefix="fleece-soak-"))
    folder.mkdir(parents=True, exist_ok=True)
    print(
        f"soak: {args.days} simulated days of the seed's symbols at {args.speed:g}x in {folder}",
        flush=True,
    )
    result = run(
        args.days, args.speed, args.every, folder, args.seed, args.start, args.separate_exchange
    )
    print(table(result))
    if args.json:
        args.json.write_text(json.dumps(asdict(result), indent=2))
    if not args.keep:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
