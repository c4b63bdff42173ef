"""Builders for the process-level specifications: ``fleece run`` and ``fleece exchange`` as
real processes, watched through their log files and the exchange's HTTP routes."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from runtime_helpers import AUTH, KEY, SECRET, Market, Paths, wait_for

REPO = Path(__file__).resolve().parents[2]
RUNNING = r"bot running mode="  # what a bot logs once it trades


def fleece_command(*args: str) -> list[str]:
    """``fleece ARGS`` through the installed console script (``python -m fleece`` without it)."""
    script = shutil.which("fleece", path=str(Path(sys.executable).parent))
    return [script, *args] if script else [sys.executable, "-m", "fleece", *args]


def clean_env(env: Mapping[str, str]) -> dict[str, str]:
    """Only what a process needs plus ``env``: no variable of the developer's shell leaks in."""
    keep = {k: v for k, v in os.environ.items() if k in {"PATH", "HOME", "LANG", "TMPDIR"}}
    return {**keep, "PYTHONUNBUFFERED": "1", **env}


@dataclass
class Process:
    """A child process whose stdout and stderr go to files in ``folder``."""

    popen: subprocess.Popen[bytes]
    out: Path
    err: Path

    @classmethod
    def start(cls, argv: Sequence[str], env: Mapping[str, str], folder: Path, name: str) -> Process:
        """Start ``argv`` in ``folder`` (its working directory) with exactly ``env``."""
        folder.mkdir(parents=True, exist_ok=True)
        out, err = folder / f"{name}.stdout", folder / f"{name}.stderr"
        with out.open("wb") as stdout, err.open("wb") as stderr:
            popen = subprocess.Popen(
                list(argv), cwd=folder, env=clean_env(env), stdout=stdout, stderr=stderr
            )
        return cls(popen, out, err)

    def signal(self, sig: signal.Signals) -> None:
        """Send ``sig`` to the process."""
        self.popen.send_signal(sig)

    def wait(self, timeout: float) -> int:
        """Wait for the exit code (raises ``subprocess.TimeoutExpired`` after ``timeout``)."""
        return self.popen.wait(timeout=timeout)

    def stderr(self) -> str:
        """What the process wrote to stderr so far."""
        return self.err.read_text(encoding="utf-8", errors="replace")

    def stop(self) -> None:
        """Make sure the process is gone (cleanup after a failed test)."""
        if self.popen.poll() is None:
            self.popen.kill()
            self.popen.wait(timeout=10)


def log_text(path: Path) -> str:
    """The log file's text ('' before it exists)."""
    return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""


def wait_for_log(
    path: Path, pattern: str, process: Process, timeout: float = 60.0, skip: int = 0
) -> None:
    """Wait until ``path`` (past its first ``skip`` characters) matches ``pattern``.

    Fails at once if ``process`` exits first.
    """
    compiled = re.compile(pattern, re.MULTILINE)

    def seen() -> bool:
        if process.popen.poll() is not None:
            raise AssertionError(
                f"process exited {process.popen.returncode} before /{pattern}/:\n"
                + process.stderr()[-3000:]
            )
        return compiled.search(log_text(path)[skip:]) is not None

    wait_for(seen, f"/{pattern}/ in {path.name}", timeout)


def start_fleece_run(
    paths: Paths, env: Mapping[str, str], bots: list[Process], name: str
) -> Process:
    """``fleece run`` in the scenario's folder, kept in ``bots``; returns once it is trading."""
    already = len(log_text(paths.log_file))  # a restart appends to the same log
    bot = Process.start(fleece_command("run"), env, paths.root, name)
    bots.append(bot)
    wait_for_log(paths.log_file, RUNNING, bot, skip=already)
    return bot


@dataclass
class ExchangeProcess:
    """``python -m fleece.exchange`` as a separate process, and an HTTP client of it."""

    process: Process
    url: str
    http: httpx.Client

    @classmethod
    def start(
        cls, folder: Path, symbols: Sequence[str], speed: float, **options: Any
    ) -> ExchangeProcess:
        """Start it on a free loopback port and wait until it listens."""
        argv = [sys.executable, "-m", "fleece.exchange", "--synthetic", "--port", "0"]
        argv += ["--symbols", ",".join(symbols), "--speed", str(speed)]
        for name, value in options.items():
            argv += [f"--{name.replace('_', '-')}", str(value)]
        env = {"ALPACA_API_KEY": KEY, "ALPACA_SECRET_KEY": SECRET}
        process = Process.start(argv, env, folder, "exchange")
        listening = re.compile(r"listening on (http://\S+)")

        def url() -> str | None:
            if process.popen.poll() is not None:
                raise AssertionError("the exchange exited:\n" + process.stderr()[-3000:])
            found = listening.search(process.out.read_text(encoding="utf-8"))
            return found[1] if found else None

        wait_for(lambda: url() is not None, "the exchange to listen", timeout=60)
        address = url()
        assert address is not None
        return cls(process, address, httpx.Client(base_url=address, headers=AUTH, timeout=10))

    def state(self) -> dict[str, Any]:
        """``GET /v1/sim/state``."""
        answer = self.http.get("/v1/sim/state")
        answer.raise_for_status()
        return dict(answer.json())

    def orders(self) -> list[dict[str, Any]]:
        """Every order of the account, oldest first."""
        answer = self.http.get(
            "/v2/orders", params={"status": "all", "limit": 500, "direction": "asc"}
        )
        answer.raise_for_status()
        return list(answer.json())

    def positions(self) -> list[dict[str, Any]]:
        """Every open position."""
        answer = self.http.get("/v2/positions")
        answer.raise_for_status()
        return list(answer.json())

    def stop(self) -> None:
        """Stop the exchange and close the client."""
        self.http.close()
        if self.process.popen.poll() is None:
            self.process.signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.stop()


def step_bot_process(market: Market, minutes: int = 1) -> None:
    """Move a stepped market minute by minute, each time until a bot process finished its cycle.

    A bot following a loopback exchange reads ``/v2/clock`` only between poll cycles, so a clock
    read after the cycle's bars request means that cycle (orders included) is over.
    """
    for _ in range(minutes):
        bars = market.requests("GET /v2/stocks/bars")
        market.advance(1)
        wait_for(lambda bars=bars: market.requests("GET /v2/stocks/bars") > bars, "the bot's poll")
        clock = market.requests("GET /v2/clock")
        wait_for(lambda clock=clock: market.requests("GET /v2/clock") > clock, "its cycle's end")
