"""Keys go only where they are meant to: proven with a real proxy process that records what it gets.

The proxy (``recording_proxy.py``) listens on 127.0.0.1, writes down every request head it
receives and answers 502; it never connects anywhere. With every proxy variable of the
environment pointing at it:

* a whole run against the built-in exchange (loopback, plain HTTP, keys in the headers) sends
  it nothing: loopback is reached directly;
* Alpaca's paper API would be reached through it only as ``CONNECT paper-api.alpaca.markets:443``:
  the proxy sees a host name, never a header, so never the keys (they travel inside TLS).
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from runtime_helpers import EIGHT_SYMBOLS, scenario_files, sim_env, wait_for
from runtime_processes import Process, fleece_command, log_text, wait_for_log

from fleece.paper_lock import make_data_client, make_trading_client

PROXY_SCRIPT = Path(__file__).with_name("recording_proxy.py")
KEY, SECRET = "PKPROXYPROOF00000000", "proxy-proof-secret-000000000000000000000"
PROXY_NAMES = ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY")


@dataclass
class RecordingProxy:
    """The proxy process, its URL and what it received."""

    process: subprocess.Popen[str]
    url: str
    log: Path

    def heads(self) -> list[str]:
        """Every request head received so far (request line and headers)."""
        lines = self.log.read_text(encoding="utf-8").splitlines()
        return [json.loads(line)["head"] for line in lines]

    def environment(self) -> dict[str, str]:
        """Every proxy variable, both cases, pointing at this proxy (no NO_PROXY)."""
        return dict.fromkeys(PROXY_NAMES, self.url)


@pytest.fixture
def proxy(tmp_path: Path) -> Iterator[RecordingProxy]:
    """The recording proxy as its own process on a free loopback port."""
    log = tmp_path / "proxy.jsonl"
    process = subprocess.Popen(
        [sys.executable, str(PROXY_SCRIPT), str(log)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("listening on "), line
        yield RecordingProxy(process, f"http://127.0.0.1:{int(line.split()[-1])}", log)
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_a_run_on_the_built_in_exchange_sends_nothing_through_the_environments_proxy(
    tmp_path: Path, proxy: RecordingProxy
) -> None:
    paths = scenario_files(tmp_path, EIGHT_SYMBOLS)
    env = sim_env(paths, SIM_SPEED="300", **proxy.environment())
    bot = Process.start(fleece_command("run"), env, tmp_path, "bot")
    try:
        wait_for_log(paths.log_file, r"order submitted cid=", bot, timeout=120)
        bot.signal(signal.SIGTERM)
        code = bot.wait(timeout=120)
    finally:
        bot.stop()

    assert code == 0, bot.stderr()[-2000:]
    assert "shutdown complete" in log_text(paths.log_file)
    assert proxy.heads() == []


def test_the_paper_api_goes_through_an_https_proxy_only_as_a_connect_tunnel(
    proxy: RecordingProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in (*PROXY_NAMES, "no_proxy", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
    credentials = proxy.url.replace("http://", "http://proxyuser:proxypass@")
    monkeypatch.setenv("HTTPS_PROXY", credentials)
    trading = make_trading_client(KEY, SECRET, None, timeout=10)
    data = make_data_client(KEY, SECRET, None, timeout=10)

    with pytest.raises(requests.exceptions.ProxyError):
        trading.get_account()
    with pytest.raises(requests.exceptions.ProxyError):
        data.get("/stocks/bars", {"symbols": "SPY", "timeframe": "1Min"})
    wait_for(lambda: len(proxy.heads()) >= 2, "the proxy to record both requests")

    heads = proxy.heads()
    assert [h.split(" HTTP/")[0] for h in heads] == [
        "CONNECT paper-api.alpaca.markets:443",
        "CONNECT data.alpaca.markets:443",
    ]
    for head in heads:
        assert KEY not in head and SECRET not in head and "apca" not in head.lower()
