"""Specification of the vectorised crossover: it agrees with the bar-by-bar strategy exactly."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fleece.models import Bar, Side, to_ticks
from fleece.strategy import SmaCrossover, crossover_events, signals_from_events

OPEN = datetime(2024, 3, 4, 14, 30, tzinfo=UTC)
# tests/strategy/<this file> -> parents[2] is the repo; the shared data sits beside it.
BARS_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "bars"
# October 2013 is daylight-saving time: the regular session is 13:30-20:00 UTC.
SESSION_OPEN, SESSION_CLOSE = time(13, 30), time(20, 0)


def bars_from_ticks(ticks: Sequence[int], symbol: str = "SPY") -> list[Bar]:
    bars = []
    for i, t in enumerate(ticks):
        close = t / 10_000
        bars.append(Bar(symbol, OPEN + timedelta(minutes=i), close, close, close, close, 100))
    return bars


def incremental_events(
    bars: Sequence[Bar], fast: int, medium: int, slow: int
) -> tuple[list[bool], list[bool]]:
    """Candidates as the bar-by-bar strategy sees them: an always-flat instance reveals every
    entry candidate, an always-holding one every exit candidate."""
    flat, holding = SmaCrossover(fast, medium, slow), SmaCrossover(fast, medium, slow)
    up = [flat.on_bar(b, holding=False) is not None for b in bars]
    down = [holding.on_bar(b, holding=True) is not None for b in bars]
    return up, down


def incremental_signals(
    bars: Sequence[Bar], fast: int, medium: int, slow: int
) -> list[tuple[int, Side]]:
    """The signal sequence when every entry fills and every exit closes the position."""
    strategy, held, out = SmaCrossover(fast, medium, slow), False, []
    for i, b in enumerate(bars):
        signal = strategy.on_bar(b, held)
        if signal is not None:
            out.append((i, signal.side))
            held = signal.side is Side.BUY
    return out


def regular_session_bars(symbol: str) -> list[Bar]:
    with (BARS_DIR / f"{symbol}.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    bars = []
    for row in rows:
        ts = datetime.fromisoformat(row["timestamp"].replace("Z", "+00:00"))
        if SESSION_OPEN <= ts.time() < SESSION_CLOSE:
            close = float(row["close"])
            bars.append(Bar(symbol, ts, close, close, close, close, int(row["volume"])))
    return bars


windows = st.tuples(st.integers(1, 6), st.integers(1, 6), st.integers(1, 10)).map(
    lambda w: (w[0], w[0] + w[1], w[0] + w[1] + w[2])
)


@settings(max_examples=200, deadline=None)
@given(
    ticks=st.lists(st.integers(9_990, 10_010), min_size=0, max_size=120),
    windows=windows,
)
def test_vectorised_events_equal_incremental_ones_on_random_series(
    ticks: list[int], windows: tuple[int, int, int]
) -> None:
    # A narrow price band makes ties (equal averages) frequent, the hard case for exactness.
    bars = bars_from_ticks(ticks)

    up, down = crossover_events(np.array(ticks, dtype=np.int64), *windows)

    assert (up.tolist(), down.tolist()) == incremental_events(bars, *windows)


@settings(max_examples=100, deadline=None)
@given(
    ticks=st.lists(st.integers(1, 40), min_size=0, max_size=150),
    windows=windows,
)
def test_signal_sequence_equals_incremental_trading(
    ticks: list[int], windows: tuple[int, int, int]
) -> None:
    bars = bars_from_ticks(ticks)

    signals = signals_from_events(*crossover_events(np.array(ticks, dtype=np.int64), *windows))

    assert signals == incremental_signals(bars, *windows)


@pytest.mark.skipif(not BARS_DIR.is_dir(), reason=f"shared bar data not found at {BARS_DIR}")
@pytest.mark.parametrize("symbol", ["SPY", "IBM"])
def test_vectorised_events_equal_incremental_ones_on_real_bars(symbol: str) -> None:
    bars = regular_session_bars(symbol)
    ticks = np.array([to_ticks(b.close) for b in bars], dtype=np.int64)

    up, down = crossover_events(ticks, 10, 30, 90)

    assert len(bars) > 90
    assert up.any() and down.any()  # the comparison is not vacuous
    assert (up.tolist(), down.tolist()) == incremental_events(bars, 10, 30, 90)
    assert signals_from_events(up, down) == incremental_signals(bars, 10, 30, 90)


def test_no_events_before_the_slow_window_is_full() -> None:
    # Windows 1/2/4: idx2 is a cross up with medium above the mean so far, but too early.
    up, down = crossover_events(np.array([10, 8, 12]), 1, 2, 4)

    assert not up.any() and not down.any()


def test_hand_computed_cross_up_and_cross_down() -> None:
    # Windows 1/2/3: idx3 crosses up (12 > 10, medium 10 > slow 29/3); idx4 stays above
    # (13 > 12.5); idx5 crosses down (9 < 11).
    up, down = crossover_events(np.array([10, 9, 8, 12, 13, 9]), 1, 2, 3)

    assert np.flatnonzero(up).tolist() == [3]
    assert np.flatnonzero(down).tolist() == [5]


def test_signals_alternate_and_ignore_repeated_candidates() -> None:
    up = np.array([False, True, True, False, False, True, False])
    down = np.array([True, False, False, True, True, False, False])

    assert signals_from_events(up, down) == [(1, Side.BUY), (3, Side.SELL), (5, Side.BUY)]


def test_empty_series_has_no_events() -> None:
    up, down = crossover_events(np.array([], dtype=np.int64))

    assert up.shape == down.shape == (0,)


def test_float_prices_are_refused() -> None:
    with pytest.raises(ValueError, match="integer ticks"):
        crossover_events(np.array([100.5, 101.0, 99.0, 98.0]), 1, 2, 3)


def test_prices_too_large_for_exact_int64_are_refused() -> None:
    with pytest.raises(ValueError, match="too large"):
        crossover_events(np.array([2**60, 2**60, 2**60], dtype=np.int64), 1, 2, 3)


def test_mismatched_event_arrays_are_refused() -> None:
    with pytest.raises(ValueError, match="shape"):
        signals_from_events(np.zeros(3, dtype=bool), np.zeros(4, dtype=bool))
