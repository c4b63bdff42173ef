"""``fleece demo`` (the README's first command, behind ``make demo``) as a new user runs it.

A real process in an empty folder holding only the committed ``config/trading.yaml``: the bot on
the built-in exchange with synthetic bars for the seed's 31 symbols, one simulated session (and
the next one's first half hour), a graceful shutdown, then the summary. Faster than the demo's
600x so the suite stays short; the rules are the same (a sim run is in lockstep with its bot, so
its trades do not depend on the speed). One run, then what a user checks with it: the summary,
`fleece backtest --db` on the bars the bot was fed (the same trades) and `fleece replay` of the
day (no difference).
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "notify"))
from notify_helpers import receiver  # noqa: E402

from accounting_helpers import realised_three_ways  # noqa: E402
from accounting_helpers import summary_row as row  # noqa: E402
from new_user import run_fleece, user_environ  # noqa: E402

# Guards against hangs, never expectations: a demo that takes 60 s on an idle machine took more
# than 240 s at a load of 35 on two cores; the module's fixture runs inside the first test.
pytestmark = pytest.mark.timeout(1800)


def run_demo(folder: Path, **extra: str) -> subprocess.CompletedProcess[str]:
    (folder / "config").mkdir()
    shutil.copy(REPO / "config" / "trading.yaml", folder / "config" / "trading.yaml")
    env = user_environ({"DASHBOARD_PORT": "0", "COLUMNS": "200", **extra})
    # A guard against hangs, not a measured expectation.
    return run_fleece("demo", "--speed", "1200", cwd=folder, env=env, timeout=900)


@dataclass(frozen=True)
class Demo:
    """One demo run: its folder, process, and what the notification receiver got."""

    folder: Path
    done: subprocess.CompletedProcess[str]
    titles: list[str]
    messages: list[dict[str, Any]]

    @property
    def db(self) -> Path:
        return self.folder / "data" / "demo" / "trades.db"

    def fleece(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Another fleece command in the demo's folder, as the user would type it next."""
        return subprocess.run(
            [sys.executable, "-m", "fleece", *args],
            cwd=self.folder,
            env={**os.environ, "COLUMNS": "200"},
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    # The "done when": NOTIFY_URLS=json://127.0.0.1:PORT/ make demo delivers the start,
    # the fills and the stop summary to a local receiver.
    folder = tmp_path_factory.mktemp("demo")
    with receiver() as hook:
        done = run_demo(folder, NOTIFY_URLS=f"json://{hook.url}/")
        titles, messages = hook.titles(), hook.messages()
    yield Demo(folder, done, titles, messages)


def test_the_demo_trades_a_simulated_day_and_prints_what_it_did(demo: Demo) -> None:
    tmp_path, done, titles, messages = demo.folder, demo.done, demo.titles, demo.messages
    assert done.returncode == 0, done.stderr[-2000:]
    out = done.stdout
    assert "alpaca-fleece demo: 31 symbols" in out
    fills = re.fullmatch(r"\d+ \((\d+) buys, (\d+) sells\)", row(out, "fills"))
    assert fills, row(out, "fills")
    buys, sells = int(fills.group(1)), int(fills.group(2))
    assert buys > 0 and sells > 0  # it really trades: entries and exits
    assert row(out, "database") == "data/demo/trades.db"
    assert re.fullmatch(r"[\d,]+ \(\d+\.\d\d per market minute\)", row(out, "broker requests"))
    empty = r"(\d+\.\d)% of [\d,]+ symbol-minutes had no bar \(\w+ \d+\.\d% \.\.\. \w+ \d+\.\d%\)"
    shares = re.fullmatch(empty, row(out, "empty minutes"))
    assert shares, row(out, "empty minutes")
    # The free plan's IEX tape, as a new paper account reads it: minutes without a trade on IEX.
    assert float(shares.group(1)) > 5.0
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


def test_the_summary_the_stats_and_the_dashboard_realise_the_same_pnl_on_the_demo(
    demo: Demo, tmp_path: Path
) -> None:
    assert demo.done.returncode == 0, demo.done.stderr[-2000:]

    realised = realised_three_ways(demo.db, tmp_path, summary_text=demo.done.stdout)

    assert realised.fills, "the demo should trade"
    assert realised.summary == realised.stats == realised.dashboard


Trade = tuple[str, str, str, int, float, str]


def trade(row: tuple[Any, ...]) -> Trade:
    """(time, symbol, side, qty, price, client_order_id), comparable across the two sources."""
    when, symbol, side, qty, price, cid = row
    return (str(when), str(symbol), str(side), int(qty), float(price), str(cid))


def fed_until(db: Path) -> str:
    """The start of the last bar the bot fed its strategy (ISO, UTC)."""
    with closing(sqlite3.connect(db)) as conn:
        return str(conn.execute("SELECT MAX(timestamp_utc) FROM bars WHERE late = 0").fetchone()[0])


def bot_trades(db: Path) -> list[Trade]:
    """The bot's fills of strategy orders (not the shutdown's closing ones)."""
    with closing(sqlite3.connect(db)) as conn:
        rows = conn.execute(
            "SELECT timestamp_utc, symbol, side, qty, price, client_order_id FROM trades"
            " WHERE client_order_id NOT LIKE 'shutdown-%'"
        ).fetchall()
    return [trade(r) for r in rows]


def test_fleece_backtest_on_the_bars_the_demo_was_fed_makes_the_same_trades(demo: Demo) -> None:
    done = demo.fleece("backtest", "--db", str(demo.db), "--out", "bt")

    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    with (demo.folder / "bt" / "trades.csv").open() as f:
        backtest = [trade(tuple(line.strip().split(","))) for line in f.readlines()[1:]]
    # A fill after the last fed bar's minute used a bar the bot never polled (it had stopped):
    # no backtest of the recorded bars can know it.
    last = fed_until(demo.db)[:16]
    bot = [t for t in bot_trades(demo.db) if t[0][:16] <= last]
    assert len(bot) > 20
    assert sorted(bot) == sorted(backtest)


def test_replaying_the_demos_first_day_finds_no_difference(demo: Demo) -> None:
    done = demo.fleece("replay", "2024-11-25", "--db", str(demo.db))

    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "no difference: every decision of the day replays identically" in done.stdout
