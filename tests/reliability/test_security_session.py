"""Specification of secret hygiene: a whole session with distinctive keys leaves them nowhere.

``fleece exchange`` (faulty, with a state file) and ``fleece run`` (paper mode on loopback, DEBUG
logging, dashboard on) run as real processes with distinctive API keys and dashboard token read
from a ``.env`` left group-readable (which must draw a warning). The test uses the dashboard (its
pages, a control with a wrong token, then the right one), stops the bot, runs ``fleece status``,
starts a bot with a wrong secret (refused by the exchange), stops the exchange, and then scans
every file and every output the session produced for any of the secrets, raw or encoded.
"""

from __future__ import annotations

import base64
import os
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from reliability_helpers import EIGHT_SYMBOLS, scenario, wait_for

API_KEY = "PKSECRETKEYID7777QQQZ"
API_SECRET = "SeCrEtSeCrEt-9b3f-XyZZy-0123456789abcdef"
TOKEN = "dashboard-token-Zebra-Quokka-314159265358"
WRONG_SECRET = "WrongSecret-Platypus-271828182845"
WRONG_TOKEN = "wrong-token-Narwhal-161803398874"
SECRETS = (API_KEY, API_SECRET, TOKEN, WRONG_SECRET, WRONG_TOKEN)
LISTENING = re.compile(r"listening on (http://\S+)")


def variants(secret: str) -> set[bytes]:
    """The ways a secret could leak: raw, URL-quoted, base64, hex, reversed-proof slices."""
    raw = secret.encode()
    return {
        raw,
        quote(secret).encode(),
        base64.b64encode(raw),
        base64.b64encode(raw)[:-4],
        raw.hex().encode(),
        raw[: len(raw) * 2 // 3],  # a truncated echo is a leak too
    }


def clean_env(extra: dict[str, str]) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if k in {"PATH", "HOME", "LANG", "TMPDIR"}}
    return {**keep, "PYTHONUNBUFFERED": "1", **extra}


def fleece(*args: str) -> list[str]:
    script = shutil.which("fleece", path=str(Path(sys.executable).parent))
    return [script, *args] if script else [sys.executable, "-m", "fleece", *args]


def spawn(argv: list[str], env: dict[str, str], cwd: Path, name: str) -> subprocess.Popen[bytes]:
    with (cwd / f"{name}.stdout").open("wb") as out, (cwd / f"{name}.stderr").open("wb") as err:
        return subprocess.Popen(argv, cwd=cwd, env=clean_env(env), stdout=out, stderr=err)


def text(path: Path) -> str:
    return path.read_text(errors="replace") if path.exists() else ""


def faults_of(url: str) -> dict[str, Any]:
    """The exchange's fault counters (``GET /v1/sim/faults``, never faulted itself)."""
    headers = {"APCA-API-KEY-ID": API_KEY, "APCA-API-SECRET-KEY": API_SECRET}
    return dict(httpx.get(f"{url}/v1/sim/faults", headers=headers, timeout=10).json())


def injected_faults(url: str) -> int:
    """How many faults the exchange has injected so far."""
    return int(faults_of(url)["injected_total"])


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


@pytest.mark.timeout(300)
def test_a_full_session_leaves_no_key_nor_token_in_any_file_or_output(
    tmp_path: Path, processes: list[subprocess.Popen[bytes]]
) -> None:
    root = tmp_path / "bot"
    paths = scenario(root, EIGHT_SYMBOLS)
    exchange_dir = tmp_path / "exchange"
    exchange_dir.mkdir()
    argv = [sys.executable, "-m", "fleece.exchange", "--synthetic", "--port", "0"]
    argv += ["--symbols", ",".join(EIGHT_SYMBOLS), "--speed", "240", "--days", "2"]
    argv += ["--start", "2024-11-25", "--seed", "5", "--state", str(exchange_dir / "x.state")]
    argv += ["--fault-rate", "0.1", "--fault-seed", "9", "--faults", "all"]
    # A slow answer (3 s) outlasts the bot's request timeout (1 s, below); on a loaded machine an
    # ordinary one does not.
    argv += ["--fault-slow-seconds", "3", "--fault-retry-after", "0.2"]
    exchange = spawn(
        argv,
        {"ALPACA_API_KEY": API_KEY, "ALPACA_SECRET_KEY": API_SECRET},
        exchange_dir,
        "exchange",
    )
    processes.append(exchange)
    wait_for(
        lambda: LISTENING.search(text(exchange_dir / "exchange.stdout")) is not None,
        "the exchange to listen",
    )
    match = LISTENING.search(text(exchange_dir / "exchange.stdout"))
    assert match is not None
    url = match[1]

    dotenv = root / ".env"
    dotenv.write_text(
        f"ALPACA_API_KEY={API_KEY}\nALPACA_SECRET_KEY={API_SECRET}\n"
        f"DASHBOARD_TOKEN={TOKEN}\nDASHBOARD_ENABLED=true\nDASHBOARD_PORT=0\n"
        f"FLEECE_MODE=paper\nALPACA_BASE_URL={url}\nLOG_LEVEL=DEBUG\n"
        f"ALPACA_TIMEOUT_SECONDS=1\nCONFIG_PATH={paths.config}\n",
        encoding="utf-8",
    )
    dotenv.chmod(0o644)  # group- and world-readable: the bot must warn
    bot = spawn(fleece("run"), {}, root, "bot")
    processes.append(bot)
    wait_for(lambda: "dashboard listening on" in text(paths.log_file), "the dashboard", 90)
    found = re.search(r"dashboard listening on (http://\S+)", text(paths.log_file))
    assert found is not None
    dashboard = found[1]
    wait_for(
        lambda: "order submitted" in text(paths.log_file) or bot.poll() is not None,
        "the bot's first order",
        90,
    )
    # Faults met (their error texts are in the scan): a count of requests, not of seconds, so
    # wait for them rather than for a time (one minute is only a few requests).
    wait_for(lambda: injected_faults(url) >= 3 or bot.poll() is not None, "injected faults", 90)

    pages = root / "pages"
    pages.mkdir()
    # With the token: the scan reads what an operator sees (without it, only 401s).
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    with httpx.Client(base_url=dashboard, timeout=10, headers=bearer) as http:
        for i, route in enumerate(
            [
                "/",
                "/api/status",
                "/api/account",
                "/api/orders",
                "/api/fills",
                "/api/positions",
                "/api/refusals",
                "/api/equity",
                "/metrics",
                "/healthz",
                "/nope",
            ]
        ):
            (pages / f"page-{i}.txt").write_bytes(http.get(route).content)
        wrong = http.post("/api/halt", headers={"Authorization": f"Bearer {WRONG_TOKEN}"})
        (pages / "wrong-token.txt").write_bytes(wrong.content)
        right = http.post("/api/halt", headers={"Authorization": f"Bearer {TOKEN}"})
        (pages / "halt.txt").write_bytes(right.content)
        resumed = http.post("/api/resume", headers={"Authorization": f"Bearer {TOKEN}"})
        (pages / "resume.txt").write_bytes(resumed.content)
    assert wrong.status_code == 401 and right.status_code == 200 and resumed.status_code == 200

    bot.send_signal(signal.SIGTERM)
    assert bot.wait(timeout=60) == 0

    for name, args in (("status", ["status"]), ("status-json", ["status", "--json"])):
        done = subprocess.run(
            fleece(*args), cwd=root, env=clean_env({}), capture_output=True, timeout=60, check=False
        )
        (root / f"{name}.out").write_bytes(done.stdout + done.stderr)

    wrong_env = {
        "ALPACA_SECRET_KEY": WRONG_SECRET,
        "DASHBOARD_ENABLED": "false",
        "LOG_DIR": str(root / "logs-wrong"),
    }
    refused = subprocess.run(
        fleece("run"),
        cwd=root,
        env=clean_env(wrong_env),
        capture_output=True,
        timeout=120,
        check=False,
    )
    (root / "wrong-secret.out").write_bytes(refused.stdout + refused.stderr)

    injected = faults_of(url)
    (exchange_dir / "faults.json").write_text(str(injected))
    exchange.send_signal(signal.SIGTERM)
    assert exchange.wait(timeout=30) == 0

    log = text(paths.log_file)
    assert refused.returncode != 0
    assert "not authorized" in text(root / "wrong-secret.out") + text(
        root / "logs-wrong" / "orchestrator.out"
    )
    assert re.search(r"WARNING .*\.env is accessible by group or others", log)
    assert injected["injected_total"] >= 3  # errors were produced, and their texts scanned
    produced = [p for p in tmp_path.rglob("*") if p.is_file() and p != dotenv]
    assert len(produced) >= 20
    leaks = {
        (str(path.relative_to(tmp_path)), secret)
        for path in produced
        for secret in SECRETS
        for form in variants(secret)
        if form in path.read_bytes()
    }
    assert leaks == set()
