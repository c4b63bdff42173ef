"""``fleece strategy list`` and ``fleece strategy new``: what a user sees and gets."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fleece.backtest.data import synthetic_market
from fleece.backtest.result import BacktestConfig
from fleece.backtest.runner import run_backtest
from fleece.cli import app
from fleece.config import RiskConfig
from fleece.kernel import risk_limits
from fleece.strategy.registry import resolve

runner = CliRunner()
REPO = Path(__file__).resolve().parents[1]

PACKAGE = """
from fleece.strategy import Strategy, StrategyParams


class Quiet(Strategy):
    name = "quiet"
    summary = "never trades"

    class Params(StrategyParams):
        patience: int = 3

    @property
    def warmup_minutes(self):
        return 1

    def on_minute(self, bar, ctx):
        return None

    def indicators(self, series):
        return {}
"""


@pytest.fixture
def installed(tmp_path: Path) -> Iterator[None]:
    """A package with two entry points in ``fleece.strategies``: one good, one broken."""
    site = tmp_path / "site"
    (site / "fleece_quiet").mkdir(parents=True)
    (site / "fleece_quiet" / "__init__.py").write_text(PACKAGE, encoding="utf-8")
    info = site / "fleece_quiet-2.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: fleece-quiet\nVersion: 2.0\n")
    (info / "entry_points.txt").write_text(
        "[fleece.strategies]\nquiet = fleece_quiet:Quiet\nbroken = fleece_nowhere:Gone\n"
    )
    sys.path.insert(0, str(site))
    yield
    sys.path.remove(str(site))
    sys.modules.pop("fleece_quiet", None)


def _list(*options: str) -> tuple[int, str]:
    result = runner.invoke(app, ["strategy", "list", *options])
    return result.exit_code, result.output


# ---------------------------------------------------------------- list


def test_list_shows_every_built_in_with_its_parameters_defaults_and_bounds() -> None:
    code, output = _list()

    assert code == 0, output
    for text in ("sma_crossover", "donchian_breakout", "opening_range", "built-in"):
        assert text in output
    assert "entry" in output and "> 0, <= 1950" in output
    assert "vectorised path" in output  # the SMA's


def test_list_as_json_gives_each_parameter_typed() -> None:
    code, output = _list("--json")

    listed = {s["name"]: s for s in json.loads(output)}
    assert code == 0
    assert list(listed)[:3] == ["sma_crossover", "donchian_breakout", "opening_range"]
    entry = listed["donchian_breakout"]["parameters"][0]
    assert entry == {
        "name": "entry",
        "type": "int",
        "default": 20,
        "required": False,
        "bounds": "> 0, <= 1950",
        "description": "minutes whose highest high the close must beat",
    }
    assert listed["sma_crossover"]["vectorised"] is True
    assert listed["donchian_breakout"]["vectorised"] is False


def test_list_shows_installed_entry_points_and_why_one_cannot_load(installed: None) -> None:
    code, output = _list("--json")

    listed = {s["name"]: s for s in json.loads(output)}
    assert code == 0
    assert listed["quiet"]["origin"] == "entry point (fleece-quiet 2.0)"
    assert listed["quiet"]["parameters"][0]["name"] == "patience"
    assert "failed to load: No module named 'fleece_nowhere'" in listed["broken"]["error"]


def test_list_with_a_config_shows_the_users_file_strategy(tmp_path: Path) -> None:
    (tmp_path / "quiet.py").write_text(PACKAGE, encoding="utf-8")
    config = tmp_path / "trading.yaml"
    config.write_text("symbols:\n  list: [SPY]\nstrategy:\n  name: quiet.py:Quiet\n")

    code, output = _list("--json", "--config", str(config))

    mine = json.loads(output)[-1]
    assert code == 0
    assert (mine["name"], mine["origin"], mine["configured"]) == (
        "quiet.py:Quiet",
        str(tmp_path / "quiet.py"),
        True,
    )


def test_list_with_a_config_naming_a_missing_file_is_one_line_exit_2(tmp_path: Path) -> None:
    config = tmp_path / "trading.yaml"
    config.write_text("symbols:\n  list: [SPY]\nstrategy:\n  name: gone.py:Gone\n")

    code, output = _list("--config", str(config))

    assert code == 2
    assert output.strip().splitlines() == [
        f"error: {config}: strategy.name: no such file {str(tmp_path / 'gone.py')!r}"
    ]


# ---------------------------------------------------------------- new


def _new(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["strategy", "new", *args])
    return result.exit_code, result.output


def test_new_writes_a_strategy_and_its_tests_and_the_tests_pass(tmp_path: Path) -> None:
    folder = tmp_path / "my-strategies"

    code, output = _new("dip", "--dir", str(folder))

    assert code == 0, output
    assert sorted(p.name for p in folder.iterdir()) == ["dip.py", "test_dip.py"]
    assert "name: dip.py:Dip" in output
    tested = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_dip.py"],
        cwd=folder,
        check=False,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "6 passed" in tested.stdout


def _tool(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    # A guard against hangs, not a measured expectation.
    return subprocess.run(
        [sys.executable, "-m", *args], cwd=cwd, check=False, capture_output=True, text=True,
        timeout=600,
    )  # fmt: skip


def test_the_new_strategy_and_its_tests_pass_the_projects_ruff_and_mypy_strict_as_written(
    tmp_path: Path,
) -> None:
    _new("dip", "--dir", str(tmp_path))
    # The project's rules, fleece's imports sorted as in the project (first-party).
    rules = ("--config", str(REPO / "pyproject.toml"), "--no-cache")
    first_party = ("--config", "lint.isort.known-first-party=['fleece']")

    files = ("dip.py", "test_dip.py")  # the strategy and its specifications

    linted = _tool("ruff", "check", *rules, *first_party, *files, cwd=tmp_path)
    formatted = _tool("ruff", "format", "--check", *rules, *files, cwd=tmp_path)
    # Strategy[DipParams] types self.params: dip.py reads self.params.window with no assert.
    typed = _tool("mypy", "--strict", "--no-incremental", *files, cwd=tmp_path)

    assert "self.params.window" in (tmp_path / "dip.py").read_text()
    for done in (linted, formatted, typed):
        assert done.returncode == 0, done.stdout + done.stderr


def test_the_new_strategy_trades_in_a_backtest(tmp_path: Path) -> None:
    _new("dip", "--dir", str(tmp_path))
    spec = resolve("dip.py:Dip", {"window": 20, "dip_bps": 10}, base=tmp_path)
    market = synthetic_market(["SPY"], date(2024, 1, 2), 2, seed=4)

    result = run_backtest(market, BacktestConfig(limits=risk_limits(RiskConfig()), strategy=spec))

    assert result.signals > 0
    assert result.fills


def test_new_never_overwrites_a_file(tmp_path: Path) -> None:
    (tmp_path / "test_dip.py").write_text("mine\n")

    code, output = _new("dip", "--dir", str(tmp_path))

    assert code == 2
    assert "test_dip.py exists; not overwritten" in output
    assert (tmp_path / "test_dip.py").read_text() == "mine\n"
    assert not (tmp_path / "dip.py").exists()  # nothing half-written


@pytest.mark.parametrize("name", ["Dip", "my-dip", "class", "test_dip", "1dip"])
def test_new_refuses_a_name_that_cannot_be_a_module_in_one_line(tmp_path: Path, name: str) -> None:
    code, output = _new(name, "--dir", str(tmp_path))

    assert code == 2
    assert output.startswith("error: command line: NAME: ")
    assert len(output.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []
