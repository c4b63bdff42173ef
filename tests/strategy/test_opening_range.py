"""Specification of opening_range: the session's first minutes make a range; breaks of it trade,
and every position is closed before the bell."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fleece.models import Bar, Side
from fleece.strategy import MinuteContext, OpeningRange

OPEN = datetime(2024, 3, 4, 14, 30, tzinfo=UTC)
CLOSE = OPEN + timedelta(hours=6, minutes=30)


def bar(i: int, close: float, high: float | None = None, low: float | None = None) -> Bar:
    at = OPEN + timedelta(minutes=i)
    return Bar("SPY", at, close, high or close, low or close, close, 100)


def decide(strategy: OpeningRange, i: int, close: float, holding: bool) -> Side | None:
    ctx = MinuteContext(OPEN + timedelta(minutes=i + 1), int(holding), False, False, OPEN, CLOSE)
    signal = strategy.on_minute(bar(i, close), ctx)
    return signal.side if signal else None


def with_range(range_minutes: int = 3, exit_before_close: int = 15) -> OpeningRange:
    strategy = OpeningRange(
        OpeningRange.Params(range_minutes=range_minutes, exit_before_close=exit_before_close)
    )
    for i, close in enumerate((10.0, 10.4, 9.8)[:range_minutes]):
        assert decide(strategy, i, close, holding=False) is None  # the range is being made
    return strategy


def test_a_close_above_the_opening_range_high_enters() -> None:
    strategy = with_range()

    assert decide(strategy, 3, 10.4, holding=False) is None  # equal to the high: no break
    assert decide(strategy, 4, 10.41, holding=False) is Side.BUY


def test_a_close_below_the_opening_range_low_exits() -> None:
    strategy = with_range()

    assert decide(strategy, 3, 9.81, holding=True) is None
    assert decide(strategy, 4, 9.79, holding=True) is Side.SELL


def test_every_position_is_closed_exit_before_close_minutes_before_the_bell() -> None:
    strategy = with_range(exit_before_close=15)
    last_allowed = 390 - 15 - 2  # its close leaves 16 minutes

    assert decide(strategy, last_allowed, 10.2, holding=True) is None
    assert decide(strategy, last_allowed + 1, 10.2, holding=True) is Side.SELL
    assert decide(strategy, last_allowed + 2, 11.0, holding=False) is None  # no late entries


def test_a_symbol_that_joined_after_the_open_has_no_range_that_session() -> None:
    strategy = OpeningRange(OpeningRange.Params(range_minutes=3))
    for i, close in ((5, 10.0), (6, 10.0), (7, 10.0)):
        decide(strategy, i, close, holding=False)

    assert decide(strategy, 8, 12.0, holding=False) is None
