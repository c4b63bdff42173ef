"""Specification of the backtest's files: their formats, and the same bytes for the same inputs."""

from __future__ import annotations

import csv
import json
from dataclasses import replace
from pathlib import Path

from backtest_helpers import config, real, synthetic

from fleece.accounting import cents_text as dollars
from fleece.backtest.outputs import write_outputs
from fleece.backtest.runner import run_backtest

FILES = ("trades.csv", "equity.csv", "stats.json", "report.html")


def test_the_same_inputs_write_the_same_bytes(tmp_path: Path) -> None:
    market = real()
    write_outputs(run_backtest(market, config(slippage_bps=2)), tmp_path / "one")
    write_outputs(run_backtest(market, config(slippage_bps=2)), tmp_path / "two")

    for name in FILES:
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes()


def test_the_fast_and_exact_paths_write_the_same_bytes(tmp_path: Path) -> None:
    market = synthetic(days=2)
    cfg = config()
    write_outputs(run_backtest(market, cfg), tmp_path / "fast")
    write_outputs(run_backtest(market, replace(cfg, mode="exact")), tmp_path / "exact")

    for name in FILES:
        assert (tmp_path / "fast" / name).read_bytes() == (tmp_path / "exact" / name).read_bytes()


def test_trades_csv_has_one_row_per_fill_in_the_seeds_columns(tmp_path: Path) -> None:
    result = run_backtest(real(), config())
    write_outputs(result, tmp_path, report=False)

    with (tmp_path / "trades.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))

    assert list(rows[0]) == ["timestamp_utc", "symbol", "side", "qty", "price", "client_order_id"]
    assert len(rows) == len(result.fills)
    first = result.fills[0]
    assert rows[0] == {
        "timestamp_utc": first.timestamp.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "symbol": first.symbol,
        "side": first.side.value,
        "qty": str(first.qty),
        "price": f"{first.price:g}",
        "client_order_id": first.client_order_id,
    }


def test_equity_csv_has_every_minute_close_in_dollars_and_cents(tmp_path: Path) -> None:
    result = run_backtest(synthetic(days=2), config())
    write_outputs(result, tmp_path, report=False)

    with (tmp_path / "equity.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))

    assert list(rows[0]) == ["timestamp_utc", "equity", "cash"]
    assert len(rows) == 2 * 391
    assert rows[0]["equity"] == rows[0]["cash"] == "100000.00"
    assert rows[-1]["equity"] == dollars(int(result.equity.equity[-1]))


def test_stats_json_says_what_ran_and_what_came_out(tmp_path: Path) -> None:
    result = run_backtest(real(), config())
    stats = write_outputs(result, tmp_path, report=False)

    body = json.loads((tmp_path / "stats.json").read_text())

    assert body["stats"] == json.loads(json.dumps(stats.to_dict()))
    assert body["run"]["symbols"] == ["IBM", "SPY"]
    assert body["run"]["regular_bars"] == result.bars
    assert sum(body["run"]["refusals_by_reason"].values()) == len(result.refusals)
    assert body["stats"]["fills"] == len(result.fills)


def test_dollars_are_written_exactly_from_cents() -> None:
    assert [dollars(c) for c in (0, 5, 1234, -1234, 10_000_000)] == [
        "0.00",
        "0.05",
        "12.34",
        "-12.34",
        "100000.00",
    ]


def test_the_statistics_start_from_the_equity_the_curve_starts_from(tmp_path: Path) -> None:
    # Arrange: a run that holds shares when decisions start (as a replay of a live day does);
    # its equity is the configured cash plus what those shares cost.
    market = synthetic(days=2)
    result = run_backtest(market, config(slippage_bps=2), holdings={"SPY": 40})

    # Act
    stats = write_outputs(result, tmp_path, report=False)

    # Assert: not the configured cash alone (the statistics once started from it, so the first
    # day's return counted the shares held as a gain).
    assert round(stats.initial_equity * 100) == result.initial_cents == int(result.equity.equity[0])
    assert result.initial_cents > result.config.cash_cents
