"""docs/strategies.md is a test: its example strategy, written into a folder outside the project,
is tested, backtested on the real fixture, swept over its own parameters on a local Dask cluster
and run by the bot in sim mode, each by a real ``python -m fleece`` process, as the page says.

The page's files are its code blocks whose info string names a file (```` ```python rsi.py ````);
its commands are the lines of the blocks marked ```` ```bash example ````, run in order, in the
folder, with ``BARS`` pointing at the fixture (``fleece`` runs as ``python -m fleece``).
"""

from __future__ import annotations

import csv
import re
import shlex
import sqlite3
import subprocess
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from string import Template

import pytest

from new_user import run_python, user_environ

# The walkthrough's module fixture runs every command of the page (tests, a backtest, a sweep on
# a local Dask cluster, a sim-mode run) inside the first test's timeout: under a heavy load those
# took more than the suite's 300 s default (seen at a load of 25 on two cores). Each command has
# its own 600 s guard against hangs; the module's is the sum a loaded machine may need.
pytestmark = pytest.mark.timeout(2400)

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "strategies.md"
BARS = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "bars"
BLOCK = re.compile(r"^```(\w+)(?: ([^\n]+))?\n(.*?)^```", re.S | re.M)


def doc_files(text: str) -> dict[str, str]:
    """The page's files: ``{name: content}`` of the blocks whose info string names a file."""
    return {
        info.strip(): body
        for _, info, body in BLOCK.findall(text)
        if info and re.fullmatch(r"[\w.-]+\.(py|yaml)", info.strip())
    }


def doc_commands(text: str) -> list[str]:
    """The lines of the ``bash example`` blocks, in page order (comments and blanks left out)."""
    lines: list[str] = []
    for language, info, body in BLOCK.findall(text):
        if language == "bash" and info.strip() == "example":
            lines += [line for line in body.splitlines() if line and not line.startswith("#")]
    return lines


def argv(command: str, env: dict[str, str]) -> tuple[list[str], dict[str, str]]:
    """``VAR=value fleece args`` as an argument list and its environment (``$VAR`` expanded)."""
    words = [Template(w).substitute(env) for w in shlex.split(command)]
    extra: dict[str, str] = {}
    while "=" in words[0]:
        name, _, value = words.pop(0).partition("=")
        extra[name] = value
    program = {"fleece": ["-m", "fleece"], "python": []}
    assert words[0] in program, f"the page runs {words[0]!r}: only fleece and python are known"
    return [*program[words[0]], *words[1:]], {**env, **extra}


@dataclass(frozen=True)
class Walkthrough:
    """The page, done: its folder and each command's process."""

    folder: Path
    files: dict[str, str]
    runs: dict[str, subprocess.CompletedProcess[str]]

    def run(self, start: str) -> subprocess.CompletedProcess[str]:
        """The command that starts with ``start``; it must have succeeded."""
        (done,) = [r for command, r in self.runs.items() if command.startswith(start)]
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        return done


@pytest.fixture(scope="module")
def walkthrough(tmp_path_factory: pytest.TempPathFactory) -> Walkthrough:
    text = DOC.read_text(encoding="utf-8")
    home = tmp_path_factory.mktemp("home")
    folder = home / "my-strategies"
    folder.mkdir()
    files = doc_files(text)
    for name, body in files.items():
        (folder / name).write_text(body, encoding="utf-8")
    # The bot's own settings: a user's shell would not have the suite's, so none leak in.
    env = user_environ(
        {"HOME": str(home), "BARS": str(BARS), "COLUMNS": "200", "DASHBOARD_PORT": "0"}
    )
    runs: dict[str, subprocess.CompletedProcess[str]] = {}
    for command in doc_commands(text):
        args, command_env = argv(command, env)
        # A guard against hangs, not a measured expectation.
        runs[command] = run_python(args, cwd=folder, env=command_env, timeout=600)
    return Walkthrough(folder, files, runs)


def test_the_strategy_is_one_file_and_a_trading_yaml_outside_the_project(
    walkthrough: Walkthrough,
) -> None:
    assert set(walkthrough.files) == {"rsi.py", "trading.yaml", "test_rsi.py"}
    assert "name: rsi.py:Rsi" in walkthrough.files["trading.yaml"]
    assert not walkthrough.folder.is_relative_to(REPO)
    commands = [c.split(" --")[0] for c in walkthrough.runs]
    assert commands == [
        "fleece strategy list",
        "python -m pytest -q test_rsi.py",
        "fleece backtest",
        "fleece sweep",
        "CONFIG_PATH=trading.yaml fleece demo",
    ]


def test_strategy_list_shows_the_users_strategy_and_its_parameters(
    walkthrough: Walkthrough,
) -> None:
    out = walkthrough.run("fleece strategy list").stdout

    assert "rsi.py:Rsi" in out and str(walkthrough.folder / "rsi.py") in out
    assert "minutes the RSI averages over" in out
    assert ">= 2, <= 390" in out


def test_the_strategys_own_specs_pass(walkthrough: Walkthrough) -> None:
    assert "3 passed" in walkthrough.run("python -m pytest").stdout


def test_the_backtest_trades_the_strategy_on_the_real_fixture(walkthrough: Walkthrough) -> None:
    walkthrough.run("fleece backtest")

    out = walkthrough.folder / "backtest"
    with (out / "trades.csv").open(encoding="utf-8") as f:
        trades = list(csv.DictReader(f))
    assert len(trades) > 10
    assert {t["symbol"] for t in trades} == {"SPY", "IBM"}
    assert (out / "report.html").is_file() and (out / "stats.json").is_file()


def test_the_sweep_runs_the_strategys_own_parameters_on_a_local_cluster(
    walkthrough: Walkthrough,
) -> None:
    done = walkthrough.run("fleece sweep")

    assert "Dask: 2 workers on a LocalCluster" in done.stdout
    with (walkthrough.folder / "sweep" / "runs.csv").open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert [(r["period"], r["oversold"], r["status"]) for r in rows] == [
        ("7", "25.0", "ok"), ("7", "30.0", "ok"), ("7", "60.0", "skipped"),
        ("14", "25.0", "ok"), ("14", "30.0", "ok"), ("14", "60.0", "skipped"),
    ]  # fmt: skip
    assert rows[2]["error"] == "oversold must be below recovered (got 60.0 and 50.0)"
    assert {r["strategy"] for r in rows} == {"rsi.py:Rsi"}
    assert all(int(r["trades"]) > 0 for r in rows if r["status"] == "ok")


def test_the_bot_trades_the_strategy_in_sim_mode(walkthrough: Walkthrough) -> None:
    done = walkthrough.run("CONFIG_PATH=trading.yaml fleece demo")

    assert "alpaca-fleece demo: 2 symbols" in done.stdout
    with closing(sqlite3.connect(walkthrough.folder / "data" / "demo" / "trades.db")) as db:
        by_side = dict(
            db.execute(
                "SELECT side, COUNT(*) FROM order_intents WHERE strategy = 'rsi' GROUP BY side"
            ).fetchall()
        )
    assert by_side.get("buy", 0) > 0 and by_side.get("sell", 0) > 0
    assert "Traceback" not in done.stderr
