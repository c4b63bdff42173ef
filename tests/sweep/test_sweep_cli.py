"""``fleece sweep`` end to end: bar files in, tables and report out."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from distributed import Client
from sweep_helpers import FIRST_DAY
from typer.testing import CliRunner

from fleece.cli import app
from fleece.data.importer import write_bars_csv
from fleece.data.synthetic import generate_bars

runner = CliRunner()


@pytest.fixture(scope="module")
def bars_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Four sessions of SPY and IBM as CSV files, as ``fleece data`` exports them."""
    folder = tmp_path_factory.mktemp("bars")
    for symbol, bars in generate_bars(["SPY", "IBM"], FIRST_DAY, 4, seed=5).items():
        write_bars_csv(bars, folder / f"{symbol}.csv")
    return folder


@pytest.fixture
def workdir(tmp_path: Path, bars_dir: Path) -> Path:
    (tmp_path / "trading.yaml").write_text("symbols:\n  list: [SPY, IBM]\n", encoding="utf-8")
    (tmp_path / "bars").symlink_to(bars_dir)
    return tmp_path


def _sweep(workdir: Path, *options: str) -> tuple[int, str, Path]:
    out = workdir / "out"
    files = ["--data", str(workdir / "bars"), "--config", str(workdir / "trading.yaml")]
    result = runner.invoke(app, ["sweep", *files, "--out", str(out), *options])
    return result.exit_code, result.output, out


def test_a_sweep_on_a_scheduler_writes_the_tables_and_the_report(
    workdir: Path, dask_client: Client
) -> None:
    address = dask_client.scheduler.address  # type: ignore[union-attr]

    code, output, out = _sweep(
        workdir,
        "--symbols", "SPY,IBM",
        "--fast", "3,5",
        "--medium", "8,12",
        "--slow", "20",
        "--walk-forward", "2:1",
        "--scheduler", address,
    )  # fmt: skip

    assert code == 0, output
    assert "Dask: 2 workers" in output
    for name in ("runs.csv", "runs.parquet", "walk_forward.csv", "walk_forward.parquet",
                 "walk_forward_equity.csv", "report.html"):  # fmt: skip
        assert (out / name).is_file(), name
    with (out / "runs.csv").open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert [r["phase"] for r in rows].count("grid") == 4
    assert {r["status"] for r in rows} == {"ok"}


def test_an_invalid_combination_is_skipped_and_listed(workdir: Path) -> None:
    code, output, out = _sweep(
        workdir, "--symbols", "SPY", "--fast", "3,10", "--medium", "8", "--slow", "20", "--serial"
    )

    assert code == 0, output
    assert "skipped" in output
    assert "1 combinations (1 skipped)" in " ".join(output.split())
    assert (out / "report.html").is_file()


def test_an_unknown_metric_is_a_config_error(workdir: Path) -> None:
    code, output, _ = _sweep(workdir, "--metric", "luck", "--serial")

    assert code == 2
    assert "--metric" in output


def test_a_walk_forward_longer_than_the_data_is_refused_in_one_line(workdir: Path) -> None:
    code, output, _ = _sweep(workdir, "--walk-forward", "20:5", "--serial", "--symbols", "SPY")

    assert code == 1
    assert "needs at least 25 sessions of bars, the data has 4" in " ".join(output.split())


def test_a_bad_cash_amount_is_a_config_error_not_a_skipped_grid(workdir: Path) -> None:
    code, output, _ = _sweep(workdir, "--cash", "0", "--serial", "--symbols", "SPY")

    assert code == 2
    assert "--cash" in output


def _donchian(workdir: Path) -> None:
    (workdir / "trading.yaml").write_text(
        "symbols:\n  list: [SPY, IBM]\nstrategy:\n  name: donchian_breakout\n", encoding="utf-8"
    )


def test_a_sweep_over_the_configured_strategys_own_parameters(workdir: Path) -> None:
    _donchian(workdir)

    code, output, out = _sweep(
        workdir, "--symbols", "SPY", "--param", "entry=10,20", "--param", "exit=5,0", "--serial"
    )

    assert code == 0, output
    with (out / "runs.csv").open(encoding="utf-8") as f:
        rows = [(r["entry"], r["exit"], r["status"]) for r in csv.DictReader(f)]
    assert rows == [
        ("10", "5", "ok"),
        ("10", "0", "skipped"),
        ("20", "5", "ok"),
        ("20", "0", "skipped"),
    ]
    assert "Best sharpe by entry and exit" in (out / "report.html").read_text(encoding="utf-8")


def test_the_sma_shorthands_are_refused_for_another_strategy_in_one_line(workdir: Path) -> None:
    _donchian(workdir)

    code, output, _ = _sweep(workdir, "--fast", "5,10", "--serial")

    assert code == 2
    assert output.strip().startswith("error: command line: --fast:")
    assert len(output.strip().splitlines()) == 1
