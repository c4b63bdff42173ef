"""Specification of bars read back from columns of ticks (a backtest's bars, a grid series)."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np

from fleece.minute_grid import Carry, Grid, TickBars, grid_series
from fleece.models import Bar, to_ticks

OPEN = datetime(2024, 3, 4, 14, 30, tzinfo=UTC)
CLOSE = datetime(2024, 3, 4, 21, 0, tzinfo=UTC)
MINUTE_S = 60


def ticks(*prices: float) -> np.ndarray:
    return np.array([to_ticks(p) for p in prices], dtype=np.int64)


def test_a_row_of_ticks_reads_back_as_the_bar_in_dollars_exactly() -> None:
    start = int(OPEN.timestamp())
    columns = TickBars(
        "SPY",
        np.array([start, start + MINUTE_S], dtype=np.int64),
        ticks(500.01, 500.5),
        ticks(500.25, 501.0001),
        ticks(499.99, 500.4),
        ticks(500.2, 500.9999),
        np.array([1200, 300], dtype=np.int64),
    )

    bar = columns.bar(1)

    assert len(columns) == 2
    assert bar == Bar(
        "SPY", datetime.fromtimestamp(start + MINUTE_S, UTC), 500.5, 501.0001, 500.4, 500.9999, 300
    )


def test_a_grid_series_hands_on_the_same_bars_as_the_stepped_grid() -> None:
    # Arrange: real bars at minutes 0 and 3 of a session; minutes 1 and 2 have none.
    grid = Grid.of([(OPEN, CLOSE)])
    start = int(OPEN.timestamp())
    real = [
        Bar("SPY", datetime.fromtimestamp(start + m * MINUTE_S, UTC), o, h, lo, c, v)
        for m, o, h, lo, c, v in (
            (0, 500.0, 500.1, 499.9, 500.05, 900),
            (3, 500.2, 500.4, 500.1, 500.3, 400),
        )
    ]
    series = grid_series(
        "SPY",
        grid,
        np.array([int(b.timestamp.timestamp()) for b in real], dtype=np.int64),
        [ticks(*(getattr(b, f) for b in real)) for f in ("open", "high", "low", "close")]
        + [np.array([b.volume for b in real], dtype=np.int64)],
    )
    carry = Carry()
    by_minute = {b.timestamp: b for b in real}

    # Act
    stepped = [
        carry.step(m, {"SPY": by_minute[m]} if m in by_minute else {})[0]
        for m in (datetime.fromtimestamp(t, UTC) for t in series.ts[:4].tolist())
    ]

    # Assert: real minutes give the real bar, empty ones the carried bar (the last close).
    assert [series.bar(i) for i in range(4)] == stepped
    assert [b.carried for b in stepped] == [False, True, True, False]
