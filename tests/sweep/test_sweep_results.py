"""The sweep's tables: every combination in grid order, failures and skips with their
parameters, the same bytes for the same sweep."""

from __future__ import annotations

import csv
import functools
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
from sweep_helpers import FAILING_FAST, axes, fail_when_fast_is_4, spec, tiny_market

from fleece.state_store import format_ts
from fleece.sweep.executor import SerialExecutor
from fleece.sweep.results import run_columns, runs_table, walk_forward_table, write_tables
from fleece.sweep.sweep import SweepResult, plan_sweep, run_sweep


@functools.cache
def _walk_forward_sweep() -> SweepResult:
    market = tiny_market()
    grid = axes(fast=(3, FAILING_FAST, 9), medium=(8,), slow=(20,))  # fast 9 >= medium: skipped
    return run_sweep(
        plan_sweep(market, spec(grid, walk_forward="2:1")),
        SerialExecutor(market, fail_when_fast_is_4),
    )


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_runs_csv_lists_the_grid_in_order_with_skipped_and_failed_combinations_in_place(
    tmp_path: Path,
) -> None:
    write_tables(_walk_forward_sweep(), tmp_path)

    grid = [r for r in _rows(tmp_path / "runs.csv") if r["phase"] == "grid"]

    assert [(r["fast"], r["status"]) for r in grid] == [
        ("3", "ok"), ("4", "failed"), ("9", "skipped"),
    ]  # fmt: skip
    assert grid[1]["error"].startswith("RuntimeError: engine exploded on fast=4")
    assert "fast < medium < slow" in grid[2]["error"]
    assert grid[1]["symbols"] == "IBM,SPY"
    assert grid[0]["sharpe"] != "" and grid[1]["sharpe"] == ""


def test_runs_csv_has_every_train_and_test_run_after_the_grid(tmp_path: Path) -> None:
    result = _walk_forward_sweep()
    write_tables(result, tmp_path)

    rows = _rows(tmp_path / "runs.csv")

    assert list(rows[0]) == list(run_columns(("fast", "medium", "slow")))
    assert [r["phase"] for r in rows].count("train") == 2 * len(result.windows)
    assert [r["phase"] for r in rows].count("test") == len(result.windows)
    train = [r for r in rows if r["phase"] == "train"]
    assert train[0]["start"] == str(result.windows[0].window.train_start)


def test_the_same_sweep_writes_the_same_bytes(tmp_path: Path) -> None:
    market = tiny_market()
    sweep = spec(axes(fast=(3, 5), medium=(8,), slow=(20,)), walk_forward="2:1")
    first = run_sweep(plan_sweep(market, sweep), SerialExecutor(market))
    again = run_sweep(plan_sweep(market, sweep), SerialExecutor(market))

    written = write_tables(first, tmp_path / "a")
    write_tables(again, tmp_path / "b")

    for path in written:
        assert path.read_bytes() == (tmp_path / "b" / path.name).read_bytes(), path.name


def test_the_parquet_table_holds_what_the_csv_holds(tmp_path: Path) -> None:
    write_tables(_walk_forward_sweep(), tmp_path)

    from_parquet = pd.read_parquet(tmp_path / "runs.parquet")
    from_csv = pd.read_csv(tmp_path / "runs.csv")

    assert list(from_parquet.columns) == list(from_csv.columns)
    assert from_parquet["sharpe"].equals(from_csv["sharpe"])  # NaN where a run failed
    assert from_parquet["status"].tolist() == from_csv["status"].tolist()


def test_the_walk_forward_table_has_a_row_per_window_with_its_choice(tmp_path: Path) -> None:
    result = _walk_forward_sweep()
    write_tables(result, tmp_path)

    rows = _rows(tmp_path / "walk_forward.csv")

    assert [r["window"] for r in rows] == [str(w.window.index) for w in result.windows]
    for row, w in zip(rows, result.windows, strict=True):
        assert row["test_start"] == str(w.window.test_start)
        assert row["fast"] == "3"  # the only combination that runs
        assert row["test_status"] == "ok"
    equity = _rows(tmp_path / "walk_forward_equity.csv")
    assert {r["window"] for r in equity} == {r["window"] for r in rows}


def test_the_walk_forward_equity_has_its_times_written_as_a_backtests_equity_csv(
    tmp_path: Path,
) -> None:
    # It wrote 2024-01-02T14:30:00Z where equity.csv (and trades.csv, and the store) write
    # 2024-01-02T14:30:00.000000Z under the same column name.
    result = _walk_forward_sweep()
    oos = result.out_of_sample
    assert oos is not None
    write_tables(result, tmp_path)

    rows = _rows(tmp_path / "walk_forward_equity.csv")

    expected = [format_ts(datetime.fromtimestamp(int(t), UTC)) for t in oos.ts.tolist()]
    assert [r["timestamp_utc"] for r in rows] == expected


def test_the_terminal_tables_rank_runs_and_list_windows() -> None:
    result = _walk_forward_sweep()

    ranking = runs_table(result)
    windows = walk_forward_table(result)

    assert ranking.row_count == 1  # one run finished over the whole period
    assert windows.row_count == len(result.windows)
