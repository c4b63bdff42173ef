"""``python -m fleece.exchange``: a real process serving real bars, stopped by a signal."""

from __future__ import annotations

import os
import queue
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date

import pytest
from alpaca.data.historical import StockHistoricalDataClient
from alpaca.data.requests import StockBarsRequest
from alpaca.data.timeframe import TimeFrame
from exchange_helpers import KEY, SECRET, SHARED_BARS, ny

STARTUP_S = 60  # generous: a cold interpreter imports pandas, pyarrow and exchange-calendars


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run(*args: str) -> subprocess.CompletedProcess[str]:
    env = os.environ | {"ALPACA_API_KEY": KEY, "ALPACA_SECRET_KEY": SECRET}
    command = [sys.executable, "-m", "fleece.exchange", *args]
    return subprocess.run(
        command, check=False, capture_output=True, text=True, env=env, timeout=STARTUP_S
    )


@contextmanager
def exchange_process(*args: str) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """Start the command; yield the process and its ``listening on`` line."""
    env = os.environ | {"ALPACA_API_KEY": KEY, "ALPACA_SECRET_KEY": SECRET}
    process = subprocess.Popen(
        [sys.executable, "-m", "fleece.exchange", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    lines: queue.Queue[str] = queue.Queue()
    assert process.stdout is not None
    stdout = process.stdout
    threading.Thread(target=lambda: lines.put(stdout.readline()), daemon=True).start()
    try:
        yield process, lines.get(timeout=STARTUP_S).strip()
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=STARTUP_S)


def test_the_command_serves_bars_and_exits_0_on_sigterm() -> None:
    port = free_port()
    args = ["--data", str(SHARED_BARS), "--symbols", "SPY,IBM", "--speed", "0"]

    with exchange_process(*args, "--port", str(port)) as (process, line):
        assert line == f"listening on http://127.0.0.1:{port}"
        client = StockHistoricalDataClient(KEY, SECRET, url_override=f"http://127.0.0.1:{port}")
        request = StockBarsRequest(
            symbol_or_symbols="SPY",
            timeframe=TimeFrame.Minute,
            start=ny("04:00", date(2013, 10, 4)),
        )
        bars = client.get_stock_bars(request)["SPY"]
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=STARTUP_S)

    assert code == 0
    assert bars and bars[-1].timestamp < ny("09:30", date(2013, 10, 4))  # pre-market only


@pytest.mark.parametrize(
    "args",
    [
        ["--host", "0.0.0.0", "--synthetic", "--symbols", "SPY"],
        ["--synthetic", "--symbols", "SPY", "--start", "2024-13-01"],
        ["--data", "/nonexistent/bars", "--symbols", "SPY"],
        ["--symbols", "SPY"],
    ],
    ids=["non-loopback-host", "bad-start", "missing-data-dir", "no-bar-source"],
)
def test_bad_arguments_are_refused_with_one_line_and_exit_2(args: list[str]) -> None:
    result = run(*args, "--port", "0")

    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
