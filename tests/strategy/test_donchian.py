"""Specification of donchian_breakout: breaks of the previous minutes' channel, exact in ticks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fleece.models import Bar, Side
from fleece.strategy import DonchianBreakout, MinuteContext

OPEN = datetime(2024, 3, 4, 14, 30, tzinfo=UTC)
CLOSE = OPEN + timedelta(hours=6, minutes=30)


def bar(i: int, close: float, high: float | None = None, low: float | None = None) -> Bar:
    at = OPEN + timedelta(minutes=i)
    return Bar("SPY", at, close, high if high is not None else close, low or close, close, 100)


def ctx(i: int, holding: bool) -> MinuteContext:
    return MinuteContext(OPEN + timedelta(minutes=i + 1), int(holding), False, False, OPEN, CLOSE)


def run(strategy: DonchianBreakout, bars: list[Bar], holding: bool) -> list[Side | None]:
    out = []
    for i, b in enumerate(bars):
        signal = strategy.on_minute(b, ctx(i, holding))
        out.append(signal.side if signal else None)
    return out


def strategy(entry: int = 3, exit: int = 2) -> DonchianBreakout:
    return DonchianBreakout(DonchianBreakout.Params(entry=entry, exit=exit))


def test_a_close_strictly_above_the_previous_entry_minutes_high_enters() -> None:
    bars = [bar(0, 10.0, high=10.5), bar(1, 10.2), bar(2, 10.1), bar(3, 10.5), bar(4, 10.51)]

    sides = run(strategy(), bars, holding=False)

    # Minute 3 closes at the channel's high (10.5, from minute 0): not strictly above.
    assert sides == [None, None, None, None, Side.BUY]


def test_a_close_strictly_below_the_previous_exit_minutes_low_exits_when_holding() -> None:
    bars = [bar(0, 10.0), bar(1, 10.0, low=9.8), bar(2, 9.9), bar(3, 9.79)]

    assert run(strategy(entry=2, exit=2), bars, holding=True) == [None, None, None, Side.SELL]
    assert run(strategy(entry=2, exit=2), bars, holding=False) == [None] * 4


def test_no_signal_until_max_entry_exit_minutes_precede() -> None:
    bars = [bar(i, 10.0 + i) for i in range(6)]  # every close a new high

    sides = run(strategy(entry=2, exit=5), bars, holding=False)

    assert sides == [None] * 5 + [Side.BUY]
    assert strategy(entry=2, exit=5).warmup_minutes == 5


def test_a_carried_minute_counts_with_its_repeated_close_as_high_and_low() -> None:
    carried = Bar("SPY", OPEN + timedelta(minutes=2), 10.0, 10.0, 10.0, 10.0, 0, carried=True)
    bars = [bar(0, 10.0, high=10.0), bar(1, 10.0, high=10.0), carried, bar(3, 10.01)]

    assert run(strategy(entry=3, exit=1), bars, holding=False) == [None, None, None, Side.BUY]


def test_the_channel_indicators_are_the_levels_the_next_close_is_compared_with() -> None:
    from fleece.strategy.testing import series_of

    series = series_of([100_000 + 10 * i for i in range(10)])
    drawn = strategy(entry=3, exit=2).indicators(series)

    high, low = drawn["channel high (3)"], drawn["channel low (2)"]
    assert high[3] == series.high[0:3].max() / 10_000
    assert low[3] == series.low[1:3].min() / 10_000
    assert all(v != v for v in high[:3])  # NaN before the channel is full
