"""Specification of ``fleece backtest`` as a user runs it."""

from __future__ import annotations

import json
from pathlib import Path

from backtest_helpers import REAL_BARS
from click.testing import Result
from typer.testing import CliRunner

from fleece.cli import app

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "config" / "trading.yaml"
runner = CliRunner()


def fleece_backtest(*args: str | Path, config: Path = CONFIG, out: Path | None = None) -> Result:
    """``fleece backtest ARGS --config CONFIG [--out OUT]``, as a user types it."""
    argv = ["backtest", *map(str, args), "--config", str(config)]
    return runner.invoke(app, argv if out is None else [*argv, "--out", str(out)])


def test_backtest_on_the_real_bars_writes_the_four_outputs(tmp_path: Path) -> None:
    out = tmp_path / "run"

    result = fleece_backtest("--data", REAL_BARS, "--symbols", "SPY,IBM", out=out)

    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == [
        "equity.csv",
        "report.html",
        "stats.json",
        "trades.csv",
    ]
    assert "Sharpe ratio" in result.output and "Max drawdown" in result.output
    assert json.loads((out / "stats.json").read_text())["run"]["symbols"] == ["IBM", "SPY"]


def test_a_daily_loss_pct_of_one_runs_as_no_daily_loss_stop(tmp_path: Path) -> None:
    # `fleece config check` accepts 1.0; the backtest used to end in a traceback on it.
    config = tmp_path / "trading.yaml"
    config.write_text("symbols:\n  list: [SPY]\nrisk:\n  max_daily_loss_pct: 1.0\n")
    dates = ("--start", "2024-03-04", "--end", "2024-03-05")

    result = fleece_backtest("--synthetic", *dates, config=config, out=tmp_path / "o")

    assert result.exit_code == 0, result.output
    assert (
        json.loads((tmp_path / "o" / "stats.json").read_text())["run"]["risk"]["max_daily_loss_pct"]
        == 1.0
    )


def test_synthetic_backtest_honours_dates_cash_and_slippage(tmp_path: Path) -> None:
    out = tmp_path / "run"

    result = fleece_backtest(
        "--synthetic",
        "--symbols",
        "aapl, tsla",
        "--start",
        "2024-03-04",
        "--end",
        "2024-03-08",
        "--cash",
        "25000",
        "--slippage-bps",
        "5",
        out=out,
    )

    assert result.exit_code == 0, result.output
    run = json.loads((out / "stats.json").read_text())["run"]
    assert run["symbols"] == ["AAPL", "TSLA"]
    assert (run["first_session"], run["last_session"]) == ("2024-03-04", "2024-03-08")
    assert (run["cash"], run["slippage_bps"]) == (25000.0, 5.0)


def test_the_config_supplies_the_risk_limits_and_windows(tmp_path: Path) -> None:
    config = tmp_path / "trading.yaml"
    config.write_text(
        "symbols:\n  list: [SPY]\nrisk:\n  max_trades_per_day: 3\nstrategy:\n"
        "  fast: 5\n  medium: 15\n  slow: 45\n"
    )

    result = fleece_backtest(
        "--synthetic", "--end", "2024-01-05", config=config, out=tmp_path / "run"
    )

    assert result.exit_code == 0, result.output
    run = json.loads((tmp_path / "run" / "stats.json").read_text())["run"]
    assert run["symbols"] == ["SPY"]
    assert run["risk"]["max_trades_per_day"] == 3
    assert run["strategy"] == {"name": "sma_crossover", "fast": 5, "medium": 15, "slow": 45}


def test_data_and_synthetic_together_is_a_one_line_config_error(tmp_path: Path) -> None:
    result = fleece_backtest("--synthetic", "--data", REAL_BARS, out=tmp_path)

    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        "error: command line: --data/--synthetic/--db: give exactly one of them"
    ]


def test_a_bad_date_is_a_one_line_config_error(tmp_path: Path) -> None:
    result = fleece_backtest("--synthetic", "--start", "2024-13-01")

    assert result.exit_code == 2
    assert "--start: expected YYYY-MM-DD" in result.output


def test_a_missing_bar_file_is_a_one_line_error(tmp_path: Path) -> None:
    result = fleece_backtest("--data", REAL_BARS, "--symbols", "NOPE", out=tmp_path)

    assert result.exit_code == 1
    assert len(result.output.strip().splitlines()) == 1
    assert result.output.startswith("error: ")
