"""``fleece demo`` (the README's first command, behind ``make demo``) as a new user runs it.

A real process in an empty folder holding only the committed ``config/trading.yaml``: the bot on
the built-in exchange with synthetic bars for the seed's 31 symbols, one simulated session (and
the next one's first half hour), a graceful shutdown, then the summary. Faster than the demo's
600x so the suite stays short; the rules are the same.
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "notify"))
from notify_helpers import receiver  # noqa: E402

OURS = ("ALPACA_", "FLEECE_", "SIM_", "DASHBOARD_", "LOG_", "BOT_")
OUR_NAMES = {"DATABASE_PATH", "CONFIG_PATH", "KILL_SWITCH", "DRY_RUN", "CIRCUIT_BREAKER_RESET"}


def run_demo(folder: Path, **extra: str) -> subprocess.CompletedProcess[str]:
    (folder / "config").mkdir()
    shutil.copy(REPO / "config" / "trading.yaml", folder / "config" / "trading.yaml")
    env = {k: v for k, v in os.environ.items() if not k.startswith(OURS) and k not in OUR_NAMES}
    env.update({"DASHBOARD_PORT": "0", "COLUMNS": "200", **extra})
    return subprocess.run(
        [sys.executable, "-m", "fleece", "demo", "--speed", "1200"],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,  # a guard against hangs, not a measured expectation
        check=False,
    )


def row(summary: str, name: str) -> str:
    match = re.search(rf"│ {re.escape(name)}\s*│ (.*?)\s*│", summary)
    assert match, f"no '{name}' row in:\n{summary}"
    return match.group(1)


def test_the_demo_trades_a_simulated_day_and_prints_what_it_did(tmp_path: Path) -> None:
    # The "done when": NOTIFY_URLS=json://127.0.0.1:PORT/ make demo delivers the start,
    # the fills and the stop summary to a local receiver.
    with receiver() as hook:
        done = run_demo(tmp_path, NOTIFY_URLS=f"json://{hook.url}/")
        titles, messages = hook.titles(), hook.messages()

    assert done.returncode == 0, done.stderr[-2000:]
    out = done.stdout
    assert "alpaca-fleece demo: 31 symbols" in out
    fills = re.fullmatch(r"\d+ \((\d+) buys, (\d+) sells\)", row(out, "fills"))
    assert fills, row(out, "fills")
    buys, sells = int(fills.group(1)), int(fills.group(2))
    assert buys > 0 and sells > 0  # it really trades: entries and exits
    assert row(out, "database") == "data/demo/trades.db"
    assert re.fullmatch(r"[\d,]+ \(\d+\.\d\d per market minute\)", row(out, "broker requests"))
    empty = r"\d+\.\d% of [\d,]+ symbol-minutes had no bar \(\w+ \d+\.\d% \.\.\. \w+ \d+\.\d%\)"
    assert re.fullmatch(empty, row(out, "empty minutes")), row(out, "empty minutes")
    for name in ("realised P&L", "unrealised P&L", "equity", "refusals", "exit", "log"):
        row(out, name)

    with closing(sqlite3.connect(tmp_path / "data" / "demo" / "trades.db")) as db:
        by_side = db.execute("SELECT side, COUNT(*) FROM trades GROUP BY side").fetchall()
        assert dict(by_side) == {"buy": buys, "sell": sells}
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert titles[0] == "alpaca-fleece started (sim)"
    assert titles[-1] == "alpaca-fleece stopped: stop time reached"
    assert f"fills {buys + sells} ({buys} buys, {sells} sells)" in messages[-1]["message"]
    notified = "\n".join(str(m["message"]) for m in messages[1:-1])
    assert notified.count("BUY ") == buys and notified.count("SELL ") == sells
    log = (tmp_path / "logs" / "orchestrator.out").read_text()
    assert "dashboard listening on http://127.0.0.1:" in log
    assert "Traceback" not in log and "Traceback" not in done.stderr
