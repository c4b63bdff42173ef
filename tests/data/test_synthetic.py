"""Specification of the seeded synthetic bar generator."""

from __future__ import annotations

from datetime import UTC, date, datetime
from itertools import pairwise

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from fleece.calendar import MarketCalendar, Session
from fleece.data.synthetic import (
    PROFILES,
    SymbolArrays,
    generate_arrays,
    generate_bars,
    profile_for,
)
from fleece.data.validate import clean_series
from fleece.models import to_ticks

CALENDAR = MarketCalendar()
WEEK = CALENDAR.sessions_from(date(2024, 3, 4), 5)


def sessions(start: date, count: int) -> list[Session]:
    return CALENDAR.sessions_from(start, count)


def sma(values: np.ndarray, window: int) -> np.ndarray:
    sums = np.cumsum(np.insert(values, 0, 0.0))
    return np.asarray((sums[window:] - sums[:-window]) / window, dtype=np.float64)


def crossings(closes: np.ndarray, fast: int, slow: int) -> int:
    difference = sma(closes, fast)[slow - fast :] - sma(closes, slow)
    signs = np.sign(difference)
    return int(np.count_nonzero(signs[1:] != signs[:-1]))


def day_slices(arrays: SymbolArrays, days: list[Session]) -> list[slice]:
    ends = np.cumsum([s.minutes for s in days])
    return [slice(int(end - s.minutes), int(end)) for end, s in zip(ends, days, strict=True)]


# Determinism


def test_the_same_seed_gives_the_same_bars() -> None:
    first = generate_bars(["SPY", "TSLA"], date(2024, 3, 4), 2, seed=7)
    second = generate_bars(["SPY", "TSLA"], date(2024, 3, 4), 2, seed=7)

    assert first == second


def test_another_seed_gives_other_bars() -> None:
    first = generate_arrays("SPY", WEEK, seed=1)
    second = generate_arrays("SPY", WEEK, seed=2)

    assert not np.array_equal(first.close, second.close)


def test_a_symbols_series_does_not_depend_on_the_other_symbols() -> None:
    alone = generate_bars(["NVDA"], date(2024, 3, 4), 2, seed=3)
    together = generate_bars(["AAPL", "NVDA", "ZZZZ"], date(2024, 3, 4), 2, seed=3)

    assert alone["NVDA"] == together["NVDA"]


def test_generate_bars_is_the_bar_form_of_generate_arrays() -> None:
    bars = generate_bars(["amd"], date(2024, 3, 4), 1, seed=5)["AMD"]
    arrays = generate_arrays("AMD", WEEK[:1], seed=5)

    assert bars == arrays.to_bars()
    assert bars[0].timestamp == datetime.fromtimestamp(int(arrays.ts[0]), UTC)


# Calendar


def test_only_regular_session_minutes_are_generated() -> None:
    arrays = generate_arrays("SPY", WEEK, seed=0)

    expected = [int(ts.timestamp()) for s in WEEK for ts in s.bar_starts()]

    assert arrays.ts.tolist() == expected


def test_an_early_close_has_210_bars() -> None:
    bars = generate_bars(["SPY"], date(2024, 11, 29), 1)["SPY"]

    assert len(bars) == 210
    assert bars[-1].timestamp == datetime(2024, 11, 29, 17, 59, tzinfo=UTC)


def test_a_holiday_has_no_bars() -> None:
    bars = generate_bars(["SPY"], date(2024, 7, 3), 2)["SPY"]

    assert {b.timestamp.date() for b in bars} == {date(2024, 7, 3), date(2024, 7, 5)}


def test_a_start_on_a_weekend_begins_with_the_next_session() -> None:
    bars = generate_bars(["SPY"], date(2024, 3, 2), 1)["SPY"]

    assert bars[0].timestamp == datetime(2024, 3, 4, 14, 30, tzinfo=UTC)


def test_no_sessions_give_no_bars() -> None:
    assert len(generate_arrays("SPY", [], seed=0)) == 0
    assert generate_bars(["SPY"], date(2024, 3, 4), 0) == {"SPY": []}


# Bar invariants


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32), symbol=st.sampled_from(["SPY", "HL", "MSTR", "PENNY"]))
def test_bars_are_positive_and_consistent(seed: int, symbol: str) -> None:
    a = generate_arrays(symbol, WEEK[:2], seed)

    assert np.all(a.low > 0)
    assert np.all(a.high >= np.maximum(a.open, a.close))
    assert np.all(a.low <= np.minimum(a.open, a.close))
    assert np.all(a.volume >= 1)


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**32))
def test_generated_bars_pass_validation(seed: int) -> None:
    bars = generate_bars(["GOLD"], date(2024, 3, 4), 1, seed=seed)["GOLD"]

    _, problems = clean_series(bars, "synthetic")

    assert problems == []


def test_prices_have_cents_above_one_dollar() -> None:
    a = generate_arrays("HL", WEEK, seed=0)

    prices = np.concatenate([a.open, a.high, a.low, a.close]).tolist()

    assert all(to_ticks(p) % 100 == 0 for p in prices if p >= 1.0)


def test_a_bar_opens_near_the_previous_close_within_a_session() -> None:
    a = generate_arrays("TSLA", WEEK, seed=0)

    for day in day_slices(a, WEEK):
        jumps = np.abs(a.open[day][1:] / a.close[day][:-1] - 1)
        assert jumps.max() < 0.005


def test_sessions_open_with_an_overnight_gap() -> None:
    a = generate_arrays("AAPL", WEEK, seed=0)
    days = day_slices(a, WEEK)

    gaps = [a.open[later.start] - a.close[earlier.stop - 1] for earlier, later in pairwise(days)]

    assert all(abs(gap) >= 0.01 for gap in gaps)


# Realism


def test_prices_start_near_the_symbols_real_level() -> None:
    for symbol, profile in PROFILES.items():
        a = generate_arrays(symbol, WEEK, seed=0)
        assert 0.75 * profile.price < a.close.mean() < 1.25 * profile.price, symbol


def test_unknown_symbols_get_a_stable_plausible_profile() -> None:
    profile = profile_for("ZZZZ")

    assert profile == profile_for("zzzz")
    assert 10.0 <= profile.price <= 500.0
    assert 0.0 < profile.daily_vol < 0.05


def test_volume_is_u_shaped_over_the_day() -> None:
    a = generate_arrays("SPY", WEEK, seed=0)
    volume = np.stack([a.volume[day] for day in day_slices(a, WEEK)]).astype(float)

    first, midday, last = volume[:, :30].mean(), volume[:, 180:210].mean(), volume[:, -30:].mean()

    assert first > 1.5 * midday
    assert last > 1.5 * midday


def test_a_10_30_sma_crossover_trades_several_times_every_day() -> None:
    for symbol in ("SPY", "NVDA", "TLT"):
        a = generate_arrays(symbol, WEEK, seed=11)
        for day in day_slices(a, WEEK):
            assert crossings(a.close[day], 10, 30) >= 2, symbol


def test_daily_moves_are_of_the_profiles_size() -> None:
    days = sessions(date(2024, 1, 2), 120)
    a = generate_arrays("SPY", days, seed=0)
    closes = np.array([a.close[day.stop - 1] for day in day_slices(a, days)])

    realised = np.diff(np.log(closes)).std()

    assert 0.5 * PROFILES["SPY"].daily_vol < realised < 1.6 * PROFILES["SPY"].daily_vol
