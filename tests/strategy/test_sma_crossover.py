"""Specification of the bar-by-bar SMA crossover strategy.

Most cases use tiny windows (fast=1, medium=2, slow=3) so every average can be checked by hand:
with fast=1 the fast SMA is the close itself, and the first bar that can signal is index 2.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest

from fleece.models import Bar, Side, Signal
from fleece.strategy import SmaCrossover

OPEN = datetime(2024, 3, 4, 14, 30, tzinfo=UTC)


def bar(close: float, at: datetime, symbol: str = "SPY") -> Bar:
    return Bar(symbol, at, open=close, high=close, low=close, close=close, volume=100)


def bars_from_closes(
    closes: Sequence[float], symbol: str = "SPY", start: datetime = OPEN
) -> list[Bar]:
    return [bar(c, start + timedelta(minutes=i), symbol) for i, c in enumerate(closes)]


def run(
    strategy: SmaCrossover, bars: Sequence[Bar], holding: bool = False
) -> list[tuple[int, Signal]]:
    """Feed every bar with a fixed ``holding``; return (index, signal) for each signal."""
    out = []
    for i, b in enumerate(bars):
        signal = strategy.on_bar(b, holding)
        if signal is not None:
            out.append((i, signal))
    return out


def tiny() -> SmaCrossover:
    return SmaCrossover(fast=1, medium=2, slow=3)


# --- entries -------------------------------------------------------------------------------


def test_cross_up_with_medium_above_slow_buys_at_that_bar() -> None:
    # idx3: fast 12 > medium 10 (was 8 < 8.5), medium 10 > slow 29/3.
    bars = bars_from_closes([10, 9, 8, 12])

    signals = run(tiny(), bars)

    assert signals == [
        (
            3,
            Signal(
                strategy="sma_crossover",
                symbol="SPY",
                side=Side.BUY,
                bar_timestamp=bars[3].timestamp,
                price=12,
                reason="fast_cross_above_medium",
            ),
        )
    ]


def test_cross_up_with_medium_below_slow_gives_nothing() -> None:
    # idx3: fast 9 > medium 8.5 (a cross), but medium 8.5 < slow 26/3.
    assert run(tiny(), bars_from_closes([10, 9, 8, 9])) == []


def test_cross_up_with_medium_equal_to_slow_gives_nothing() -> None:
    # idx3: fast 10 > medium 9 (a cross), medium 9 == slow 27/3: the trend filter is strict.
    assert run(tiny(), bars_from_closes([10, 9, 8, 10])) == []


def test_fast_equal_to_medium_then_above_is_a_cross() -> None:
    # idx2: fast 8 == medium 8; idx3: fast 12 > medium 10, medium 10 > slow 28/3.
    signals = run(tiny(), bars_from_closes([10, 8, 8, 12]))

    assert [(i, s.side) for i, s in signals] == [(3, Side.BUY)]


def test_fast_equal_to_medium_is_not_a_cross_until_it_moves_above() -> None:
    # idx3: fast 8 == medium 8 (was below): no cross; idx4: 12 > 10 from equality: the cross.
    signals = run(tiny(), bars_from_closes([10, 9, 8, 8, 12]))

    assert [(i, s.side) for i, s in signals] == [(4, Side.BUY)]


def test_equal_averages_from_different_sums_compare_equal_exactly() -> None:
    # Windows 2/3/4. At idx4 fast = (0.11+0.59)/2 and medium = (0.35+0.11+0.59)/3 are both
    # exactly 0.35, but float means say fast > medium and would buy one bar early.
    closes = [0.20, 0.28, 0.35, 0.11, 0.59, 0.70]
    assert (0.11 + 0.59) / 2 > (0.35 + 0.11 + 0.59) / 3  # the float trap is real
    strategy = SmaCrossover(fast=2, medium=3, slow=4)
    bars = bars_from_closes(closes)

    at_tie = [strategy.on_bar(b, holding=False) for b in bars[:5]]
    tie_state = strategy.state_of("SPY")
    after_tie = strategy.on_bar(bars[5], holding=False)

    assert at_tie == [None] * 5
    assert tie_state.fast_vs_medium == 0
    assert after_tie is not None and after_tie.side is Side.BUY


def test_no_signal_before_the_slow_window_is_full() -> None:
    # Windows 1/2/4: idx2 is a clean cross up (12 > 10, was 8 < 9) with medium 10 > mean of
    # three bars, but the slow window needs four bars, so nothing until idx3 can signal.
    strategy = SmaCrossover(fast=1, medium=2, slow=4)

    signals = run(strategy, bars_from_closes([10, 8, 12]))

    assert signals == []
    assert strategy.smas("SPY")[2] is None


def test_first_signal_is_possible_on_the_bar_that_fills_the_slow_window() -> None:
    # Windows 1/2/4: idx3 fills the slow window; fast 14 > medium 11 (was 8 < 10), 11 > 10.
    signals = run(SmaCrossover(fast=1, medium=2, slow=4), bars_from_closes([6, 12, 8, 14]))

    assert [(i, s.side) for i, s in signals] == [(3, Side.BUY)]


# --- holding ---------------------------------------------------------------------------------


def test_holding_suppresses_buy() -> None:
    assert run(tiny(), bars_from_closes([10, 9, 8, 12]), holding=True) == []


def test_cross_down_while_holding_sells() -> None:
    # idx3: fast 8 < medium 9 (was 10 == 10): a cross below.
    bars = bars_from_closes([10, 10, 10, 8])

    signals = run(tiny(), bars, holding=True)

    assert [(i, s.side, s.reason, s.price) for i, s in signals] == [
        (3, Side.SELL, "fast_cross_below_medium", 8)
    ]


def test_cross_down_while_flat_gives_nothing() -> None:
    assert run(tiny(), bars_from_closes([10, 10, 10, 8]), holding=False) == []


def test_cross_down_needs_fast_to_end_strictly_below_medium() -> None:
    # idx3: fast 10 == medium 10 after being above: not yet a cross below.
    assert run(tiny(), bars_from_closes([8, 8, 10, 10]), holding=True) == []


# --- state -----------------------------------------------------------------------------------


def test_state_carries_across_days_without_reset() -> None:
    # Three bars at the end of one session, the fourth at the next open: the cross at the
    # open uses yesterday's closes.
    day1 = bars_from_closes([10, 9, 8], start=datetime(2024, 3, 4, 20, 57, tzinfo=UTC))
    day2 = bars_from_closes([12], start=datetime(2024, 3, 5, 14, 30, tzinfo=UTC))

    signals = run(tiny(), [*day1, *day2])

    assert [(i, s.side) for i, s in signals] == [(3, Side.BUY)]


def test_warmup_leaves_the_same_state_as_processing_the_bars() -> None:
    closes = [10, 9, 8, 12, 11, 13, 9, 7, 8, 12, 14, 10]
    bars = bars_from_closes(closes)
    live, warmed = tiny(), tiny()
    run(live, bars[:7])

    warmed.warmup(bars[:7])

    assert warmed.state_of("SPY") == live.state_of("SPY")
    assert run(warmed, bars[7:]) == run(live, bars[7:])


def test_warmup_produces_no_signals_but_a_cross_right_after_it_is_seen() -> None:
    bars = bars_from_closes([10, 9, 8, 12])
    strategy = tiny()

    strategy.warmup(bars[:3])

    assert strategy.on_bar(bars[3], holding=False) is not None


def test_a_bar_seen_twice_is_ignored() -> None:
    bars = bars_from_closes([10, 9, 8, 12])
    strategy = tiny()
    strategy.warmup(bars)
    before = strategy.state_of("SPY")

    again = strategy.on_bar(bars[3], holding=False)

    assert again is None
    assert strategy.state_of("SPY") == before


def test_symbols_keep_separate_state() -> None:
    strategy = tiny()
    spy = bars_from_closes([10, 9, 8, 12], symbol="SPY")
    ibm = bars_from_closes([10, 10, 10, 10], symbol="IBM")
    interleaved = [b for pair in zip(spy, ibm, strict=True) for b in pair]

    signals = run(strategy, interleaved)

    assert [(s.symbol, s.side) for _, s in signals] == [("SPY", Side.BUY)]
    assert strategy.state_of("IBM").bars_seen == 4


def test_naive_timestamps_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        tiny().on_bar(bar(10, datetime(2024, 3, 4, 14, 30)), holding=False)


# --- display and construction ----------------------------------------------------------------


def test_smas_are_dollar_means_once_each_window_is_full() -> None:
    strategy = SmaCrossover(fast=1, medium=2, slow=3)
    strategy.warmup(bars_from_closes([10.5, 11.25]))

    assert strategy.smas("SPY") == (11.25, 10.875, None)
    assert strategy.smas("IBM") == (None, None, None)


def test_default_windows_are_10_30_90() -> None:
    strategy = SmaCrossover()

    assert (strategy.fast, strategy.medium, strategy.slow) == (10, 30, 90)
    assert strategy.min_bars == 90


@pytest.mark.parametrize(
    ("fast", "medium", "slow"),
    [(0, 2, 3), (2, 2, 3), (1, 3, 3), (3, 2, 1), (1, 2, 2.5)],
)
def test_windows_must_be_increasing_positive_integers(fast: int, medium: int, slow: int) -> None:
    with pytest.raises(ValueError, match="window"):
        SmaCrossover(fast, medium, slow)
