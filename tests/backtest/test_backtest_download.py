"""Specification of ``fleece data download``, against the built-in exchange's market-data API.

The exchange speaks Alpaca's data API on a loopback port (which the paper lock allows), so the
command is exercised end to end with alpaca-py, offline.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from backtest_helpers import FIRST_DAY, synthetic
from typer.testing import CliRunner

from fleece.backtest.data import load_market
from fleece.backtest.download import month_chunks
from fleece.cli import app
from fleece.clock import ScaledClock
from fleece.exchange import ExchangeServer, SimExchange

KEY, SECRET = "download-key", "download-secret"
REPO = Path(__file__).resolve().parents[2]
CONFIG = str(REPO / "config" / "trading.yaml")
runner = CliRunner()


@pytest.fixture(scope="module")
def exchange_url() -> Iterator[str]:
    """The built-in exchange over three synthetic sessions, its clock after the last bar."""
    market = synthetic(("SPY", "AAPL"), days=3)
    bars = {s: [b.bar(i) for i in range(len(b))] for s, b in market.bars.items()}
    clock = ScaledClock(datetime(2024, 1, 8, 12, 0, tzinfo=UTC), speed=0)
    with ExchangeServer(SimExchange(bars, clock=clock), KEY, SECRET) as server:
        yield server.url


def env(url: str) -> dict[str, str]:
    return {
        "FLEECE_MODE": "paper",
        "ALPACA_API_KEY": KEY,
        "ALPACA_SECRET_KEY": SECRET,
        "ALPACA_BASE_URL": url,
        "ALPACA_DATA_URL": "",
    }


def download(url: str, out: Path, *extra: str) -> object:
    args = ["data", "download", "--symbols", "SPY,AAPL", "--start", "2024-01-02"]
    args += ["--end", "2024-01-04", "--out", str(out), "--config", CONFIG]
    args += ["--env-file", "/nonexistent/.env", *extra]
    return runner.invoke(app, args, env=env(url))


def test_download_caches_every_bar_the_data_api_serves(exchange_url: str, tmp_path: Path) -> None:
    result = download(exchange_url, tmp_path)

    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
    cached = load_market(tmp_path)
    served = synthetic(("SPY", "AAPL"), days=3)
    for symbol in ("SPY", "AAPL"):
        assert np.array_equal(cached.bars[symbol].ts, served.bars[symbol].ts)
        assert np.array_equal(cached.bars[symbol].close, served.bars[symbol].close)
        assert np.array_equal(cached.bars[symbol].open, served.bars[symbol].open)
    assert "SPY: 1,170 bars fetched" in result.output  # type: ignore[attr-defined]


def test_downloading_again_merges_without_duplicates(exchange_url: str, tmp_path: Path) -> None:
    download(exchange_url, tmp_path)
    before = (tmp_path / "SPY.csv").read_bytes()

    again = download(exchange_url, tmp_path)

    assert again.exit_code == 0  # type: ignore[attr-defined]
    assert (tmp_path / "SPY.csv").read_bytes() == before


def test_the_cache_feeds_a_backtest(exchange_url: str, tmp_path: Path) -> None:
    download(exchange_url, tmp_path / "bars")

    result = runner.invoke(
        app,
        [
            "backtest",
            "--data",
            str(tmp_path / "bars"),
            "--config",
            CONFIG,
            "--out",
            str(tmp_path / "run"),
        ],
    )

    assert result.exit_code == 0, result.output
    assert (tmp_path / "run" / "report.html").exists()


def test_download_without_keys_is_a_one_line_config_error(tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        [
            "data",
            "download",
            "--start",
            "2024-01-02",
            "--out",
            str(tmp_path),
            "--config",
            CONFIG,
            "--env-file",
            "/nonexistent/.env",
        ],
        env={"FLEECE_MODE": "paper", "ALPACA_API_KEY": "", "ALPACA_SECRET_KEY": ""},
    )

    assert result.exit_code == 2
    assert result.output.startswith("error: ") and "ALPACA_API_KEY" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_a_range_is_requested_a_month_at_a_time_in_new_york_days() -> None:
    chunks = month_chunks(FIRST_DAY, datetime(2024, 3, 15).date())

    assert [(lo.isoformat(), hi.isoformat()) for lo, hi in chunks] == [
        ("2024-01-02T05:00:00+00:00", "2024-02-02T05:00:00+00:00"),
        ("2024-02-02T05:00:00+00:00", "2024-03-04T05:00:00+00:00"),
        ("2024-03-04T05:00:00+00:00", "2024-03-16T04:00:00+00:00"),
    ]


def test_download_refuses_a_feed_alpaca_has_no_tape_for_before_asking(tmp_path: Path) -> None:
    # Nothing listens on port 9: the refusal comes before any request.
    result = download("http://127.0.0.1:9", tmp_path / "bars", "--feed", "otc")

    assert result.exit_code == 2  # type: ignore[attr-defined]
    assert "--feed: iex or sip, got 'otc'" in result.output  # type: ignore[attr-defined]
