"""Specification of the IEX tape: seeded, volume-aware thinning of the consolidated tape."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, date, datetime

from fleece.data.iex import empty_probability, iex_tape, on_iex
from fleece.data.synthetic import generate_bars
from fleece.models import Bar

SESSIONS = generate_bars(("SPY", "NOC"), date(2024, 11, 25), 3, seed=0)


def empty_share(symbol: str, seed: int = 0) -> float:
    kept = len(iex_tape(SESSIONS, seed)[symbol])
    return 1 - kept / len(SESSIONS[symbol])


def test_a_liquid_etf_loses_a_few_percent_of_its_minutes_and_a_thin_stock_a_third_or_more() -> None:
    assert 0.01 < empty_share("SPY") < 0.08
    assert empty_share("NOC") > 1 / 3


def test_a_quiet_minute_is_more_likely_empty_than_a_busy_one() -> None:
    at = datetime(2024, 11, 26, 15, 0, tzinfo=UTC)
    quiet = Bar("XYZ", at, 10.0, 10.0, 10.0, 10.0, volume=500)
    busy = Bar("XYZ", at, 10.0, 10.0, 10.0, 10.0, volume=500_000)

    assert empty_probability(quiet) > 0.5 > 0.05 > empty_probability(busy)


def test_a_trade_count_when_present_decides_rather_than_the_volume() -> None:
    at = datetime(2024, 11, 26, 15, 0, tzinfo=UTC)
    few_big_trades = Bar("XYZ", at, 10.0, 10.0, 10.0, 10.0, volume=500_000, trade_count=4)

    assert empty_probability(few_big_trades) > 0.9


def test_the_same_seed_gives_the_same_tape_and_another_seed_another() -> None:
    assert iex_tape(SESSIONS, 5) == iex_tape(SESSIONS, 5)
    assert iex_tape(SESSIONS, 5)["NOC"] != iex_tape(SESSIONS, 6)["NOC"]


def test_the_tape_is_the_same_in_another_process() -> None:
    bar = SESSIONS["NOC"][100]
    code = (
        "from datetime import datetime; from fleece.models import Bar; from fleece.data.iex import"
        f" on_iex; print(on_iex(Bar('NOC', datetime.fromisoformat('{bar.timestamp.isoformat()}'),"
        f" {bar.open}, {bar.high}, {bar.low}, {bar.close}, {bar.volume}), 11))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()

    assert out == str(on_iex(bar, 11))


def test_an_iex_bar_keeps_the_prices_and_carries_iexs_share_of_volume_and_trades() -> None:
    tape = iex_tape(SESSIONS, 0)["SPY"]
    original = {b.timestamp: b for b in SESSIONS["SPY"]}

    first = tape[0]
    source = original[first.timestamp]
    assert (first.open, first.high, first.low, first.close) == (
        source.open,
        source.high,
        source.low,
        source.close,
    )
    assert 1 <= first.volume < source.volume
    assert first.trade_count is not None and first.trade_count >= 1
    assert first.vwap is not None
