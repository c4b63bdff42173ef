"""Specification of the minute grid: every regular-session minute is one step of every window.

A minute without a bar repeats the symbol's last close, from the symbol's first bar ever on;
the live feed judges a minute empty only once its bars have settled, and a bar arriving after
that is late. The vectorised grid (the backtest's fast path) equals the stepped one.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from fleece.minute_grid import (
    Carry,
    LiveGrid,
    carried_bar,
    grid_closes,
    minutes_between,
    session_minutes,
)
from fleece.models import Bar, to_ticks
from fleece.strategy import SmaCrossover, crossover_events

# Two sessions: Monday 2024-03-04 and Tuesday 2024-03-05, 14:30-21:00 UTC (09:30-16:00 ET).
MON = (datetime(2024, 3, 4, 14, 30, tzinfo=UTC), datetime(2024, 3, 4, 21, 0, tzinfo=UTC))
TUE = (datetime(2024, 3, 5, 14, 30, tzinfo=UTC), datetime(2024, 3, 5, 21, 0, tzinfo=UTC))
ONE_MINUTE = timedelta(minutes=1)


def bar(symbol: str, minute: datetime, close: float) -> Bar:
    return Bar(symbol, minute, close, close + 0.05, close - 0.05, close, 100)


def at(session: tuple[datetime, datetime], minute: int) -> datetime:
    return session[0] + minute * ONE_MINUTE


def regular(ts: datetime) -> bool:
    return any(o <= ts < c for o, c in (MON, TUE))


# ---------------------------------------------------------------- the grid's minutes


def test_the_grid_has_every_regular_minute_of_every_session_and_nothing_between() -> None:
    minutes = session_minutes([TUE, MON])

    assert len(minutes) == 2 * 390
    assert minutes[0] == int(MON[0].timestamp())
    assert minutes[389] == int((MON[1] - ONE_MINUTE).timestamp())
    assert minutes[390] == int(TUE[0].timestamp())  # the night is not on the grid


def test_minutes_between_gives_the_grid_minutes_after_and_up_to() -> None:
    picked = minutes_between([MON, TUE], at(MON, 387), at(TUE, 1))

    assert picked == [at(MON, 388), at(MON, 389), at(TUE, 0), at(TUE, 1)]


# ---------------------------------------------------------------- stepping


def test_a_minute_without_a_bar_repeats_the_last_close_with_no_volume() -> None:
    carry = Carry()
    carry.step(at(MON, 0), {"SPY": bar("SPY", at(MON, 0), 100.0)})

    (step,) = carry.step(at(MON, 1), {})

    assert step == carried_bar("SPY", at(MON, 1), 100.0)
    assert step.carried and step.volume == 0
    assert step.open == step.high == step.low == step.close == 100.0


def test_a_symbol_joins_the_grid_at_its_first_bar_ever() -> None:
    carry = Carry()
    first = carry.step(at(MON, 0), {"SPY": bar("SPY", at(MON, 0), 100.0)})
    second = carry.step(at(MON, 1), {"AAPL": bar("AAPL", at(MON, 1), 50.0)})

    assert [b.symbol for b in first] == ["SPY"]  # AAPL had no bar yet: not on the grid
    assert [(b.symbol, b.carried) for b in second] == [("AAPL", False), ("SPY", True)]


def test_a_symbol_without_a_bar_for_a_whole_session_is_carried_all_session() -> None:
    carry = Carry()
    carry.step(at(MON, 389), {"SPY": bar("SPY", at(MON, 389), 101.5)})

    tuesday = [carry.step(at(TUE, m), {})[0] for m in range(390)]

    assert all(b.carried and b.close == 101.5 for b in tuesday)
    assert carry.empty_share("SPY") == 390 / 391


def test_state_carries_across_the_night_without_carrying_the_night() -> None:
    strategy = SmaCrossover(2, 3, 4)
    carry = Carry()
    closes = [10.0, 11.0, 12.0]
    for m, close in enumerate(closes):
        for b in carry.step(at(MON, 387 + m), {"SPY": bar("SPY", at(MON, 387 + m), close)}):
            strategy.on_bar(b, holding=False)

    (opening,) = carry.step(at(TUE, 0), {"SPY": bar("SPY", at(TUE, 0), 13.0)})
    strategy.on_bar(opening, holding=False)

    # Four minutes on the grid, the night none of them: the slow window is exactly full.
    assert strategy.state_of("SPY").bars_seen == 4
    assert strategy.state_of("SPY").sum_slow == to_ticks(10 + 11 + 12 + 13)


# ---------------------------------------------------------------- the live feed


def live_grid(settle_s: float = 5.0) -> LiveGrid:
    return LiveGrid(settle=timedelta(seconds=settle_s), start=MON[0])


def test_a_minute_is_judged_only_once_a_poll_was_made_settle_seconds_after_its_end() -> None:
    grid = live_grid()
    grid.receive([bar("SPY", at(MON, 0), 100.0)], regular)

    too_early = grid.judge(at(MON, 1) + timedelta(seconds=4), [MON])
    settled = grid.judge(at(MON, 1) + timedelta(seconds=5), [MON])

    assert too_early == []
    assert [b.timestamp for b in settled] == [at(MON, 0)]


def test_a_poll_judges_every_settled_minute_since_the_last_one_in_order() -> None:
    grid = live_grid()
    grid.receive([bar("SPY", at(MON, 0), 100.0), bar("SPY", at(MON, 2), 102.0)], regular)

    judged = grid.judge(at(MON, 3) + timedelta(seconds=5), [MON])

    assert [(b.timestamp, b.close, b.carried) for b in judged] == [
        (at(MON, 0), 100.0, False),
        (at(MON, 1), 100.0, True),
        (at(MON, 2), 102.0, False),
    ]


def test_a_bar_arriving_after_its_minute_was_judged_empty_is_late_and_never_fed() -> None:
    grid = live_grid()
    grid.receive([bar("SPY", at(MON, 0), 100.0)], regular)
    grid.judge(at(MON, 2) + timedelta(seconds=5), [MON])  # minute 1 judged empty

    late = grid.receive([bar("SPY", at(MON, 1), 99.0), bar("SPY", at(MON, 2), 98.0)], regular)
    judged = grid.judge(at(MON, 3) + timedelta(seconds=5), [MON])

    assert [b.timestamp for b in late] == [at(MON, 1)]
    assert grid.late == 1
    assert [(b.timestamp, b.close) for b in judged] == [(at(MON, 2), 98.0)]
    assert grid.carry.last_close["SPY"] == 98.0


def test_extended_hours_bars_never_enter_the_grid() -> None:
    grid = live_grid()
    premarket = MON[0] - timedelta(minutes=30)

    late = grid.receive([bar("SPY", premarket, 90.0)], regular)
    judged = grid.judge(at(MON, 1) + timedelta(seconds=5), [MON])

    assert late == [] and judged == []  # SPY is not on the grid: it had no regular bar


def test_the_live_grid_equals_the_stepped_grid_over_a_session() -> None:
    rng = np.random.default_rng(3)
    kept = sorted(int(m) for m in rng.choice(390, size=250, replace=False))
    bars = [bar("SPY", at(MON, m), 100 + m / 100) for m in kept]
    grid = live_grid()
    fed: list[Bar] = []
    for m in range(390):  # one poll a minute, 5 s after each minute
        grid.receive([b for b in bars if b.timestamp == at(MON, m)], regular)
        fed += grid.judge(at(MON, m + 1) + timedelta(seconds=5), [MON])

    carry = Carry()
    stepped = [
        b
        for m in range(kept[0], 390)
        for b in carry.step(at(MON, m), {b.symbol: b for b in bars if b.timestamp == at(MON, m)})
    ]

    assert fed == stepped


# ---------------------------------------------------------------- vectorised equals stepped


sparse_series = st.lists(
    st.one_of(st.none(), st.integers(min_value=9_000, max_value=11_000)), min_size=1, max_size=400
)


def stepped_closes(series: list[int | None]) -> list[int]:
    """The grid's closes by stepping :class:`Carry`, one minute at a time."""
    carry = Carry()
    out: list[int] = []
    for m, ticks in enumerate(series):
        real = {} if ticks is None else {"X": bar("X", at(MON, m), ticks / 10_000)}
        out += [to_ticks(b.close) for b in carry.step(at(MON, m), real)]
    return out


@settings(max_examples=200, deadline=None, derandomize=True)
@given(sparse_series)
def test_the_vectorised_grid_equals_the_stepped_grid_on_random_sparse_data(
    series: list[int | None],
) -> None:
    minutes = session_minutes([MON])[: len(series)]
    real = [m for m, t in enumerate(series) if t is not None]

    first, closes, rows = grid_closes(
        minutes, minutes[real], np.array([series[m] for m in real], dtype=np.int64)
    )

    assert closes.tolist() == stepped_closes(series)
    assert first == (real[0] if real else len(minutes))
    assert [r >= 0 for r in rows.tolist()] == [
        series[m] is not None for m in range(first, len(series))
    ]


@settings(max_examples=100, deadline=None, derandomize=True)
@given(sparse_series.filter(lambda s: sum(t is not None for t in s) > 0))
def test_vectorised_signals_equal_bar_by_bar_signals_on_the_grid(series: list[int | None]) -> None:
    fast, medium, slow = 2, 5, 9
    minutes = session_minutes([MON])[: len(series)]
    real = [m for m, t in enumerate(series) if t is not None]
    _, closes, _ = grid_closes(
        minutes, minutes[real], np.array([series[m] for m in real], dtype=np.int64)
    )
    up, down = crossover_events(closes, fast, medium, slow)

    flat, holding = SmaCrossover(fast, medium, slow), SmaCrossover(fast, medium, slow)
    carry = Carry()
    seen_up: list[bool] = []
    seen_down: list[bool] = []
    for m, ticks in enumerate(series):
        got = {} if ticks is None else {"X": bar("X", at(MON, m), ticks / 10_000)}
        for b in carry.step(at(MON, m), got):
            seen_up.append(flat.on_bar(b, holding=False) is not None)
            seen_down.append(holding.on_bar(b, holding=True) is not None)

    assert up.tolist() == seen_up
    assert down.tolist() == seen_down
