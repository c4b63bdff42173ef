"""Specification of the array-backed market: the exchange's bar store, but fast."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

import numpy as np
from backtest_helpers import real, synthetic

from fleece.backtest.data import MarketData, market_from_bars, regular_mask
from fleece.backtest.market import ArrayBarStore
from fleece.calendar import MarketCalendar
from fleece.exchange.market import BarStore
from fleece.models import Bar


def as_bar_lists(market: MarketData) -> dict[str, list[Bar]]:
    return {s: [b.bar(i) for i in range(len(b))] for s, b in market.bars.items()}


def test_every_query_is_answered_as_the_exchanges_bar_store_answers_it() -> None:
    market = real()
    ours = ArrayBarStore(market)
    theirs = BarStore(as_bar_lists(market), MarketCalendar())
    rng = random.Random(7)
    start = datetime(2013, 10, 4, 7, 0, tzinfo=UTC)

    for _ in range(400):
        at = start + timedelta(seconds=rng.randrange(0, 8 * 86_400))
        symbol = rng.choice(["SPY", "IBM", "XYZ"])
        assert ours.has(symbol) == theirs.has(symbol)
        assert ours.last_closed(symbol, at) == theirs.last_closed(symbol, at)
        assert ours.last_close(symbol, at) == theirs.last_close(symbol, at)
        assert ours.next_regular(symbol, at) == theirs.next_regular(symbol, at)
        end = at + timedelta(minutes=rng.randrange(0, 90))
        now = at + timedelta(minutes=rng.randrange(0, 120))
        assert list(ours.closed_range(symbol, at, end, now)) == list(
            theirs.closed_range(symbol, at, end, now)
        )
    assert ours.symbols == theirs.symbols


def test_prices_are_held_as_exact_ticks_and_come_back_as_the_same_floats() -> None:
    bars = [
        Bar("AAA", datetime(2024, 1, 2, 14, 30, tzinfo=UTC), 10.01, 10.05, 9.99, 10.0299, 500),
        Bar("AAA", datetime(2024, 1, 2, 14, 31, tzinfo=UTC), 0.1234, 0.13, 0.12, 0.125, 7),
    ]

    market = market_from_bars({"AAA": bars})

    assert [market.bars["AAA"].bar(i) for i in range(2)] == bars
    assert market.bars["AAA"].close.tolist() == [100_299, 1_250]


def test_only_bars_inside_regular_sessions_are_regular() -> None:
    # 2024-11-29 closes early at 13:00 New York (18:00 UTC).
    starts = [
        datetime(2024, 11, 29, 14, 29, tzinfo=UTC),  # pre-market
        datetime(2024, 11, 29, 14, 30, tzinfo=UTC),  # the open
        datetime(2024, 11, 29, 17, 59, tzinfo=UTC),  # last regular bar
        datetime(2024, 11, 29, 18, 0, tzinfo=UTC),  # after the early close
        datetime(2024, 11, 30, 15, 0, tzinfo=UTC),  # Saturday
    ]
    ts = np.array([int(s.timestamp()) for s in starts], dtype=np.int64)

    assert regular_mask(ts, MarketCalendar()).tolist() == [False, True, True, False, False]


def test_a_date_range_keeps_the_new_york_days_asked_for() -> None:
    market = synthetic(("SPY",), days=3)

    middle = market.between(date(2024, 1, 3), date(2024, 1, 3))

    days = {datetime.fromtimestamp(int(t), UTC).date() for t in middle.bars["SPY"].ts}
    assert days == {date(2024, 1, 3)} and len(middle.bars["SPY"]) == 390
