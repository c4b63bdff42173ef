"""Specification of the vectorised equity curve: the exchange ledger's account, to the cent."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime

import numpy as np
import pytest
from backtest_helpers import config, limits, real, synthetic

from fleece.backtest.data import MarketData
from fleece.backtest.equity import equity_curve, marks, session_grid
from fleece.backtest.market import ArrayBarStore
from fleece.backtest.runner import Run
from fleece.calendar import MarketCalendar
from fleece.exchange.ledger import Ledger
from fleece.models import Bar, Side, to_ticks


def ledger_after_every_cycle(market: MarketData, **overrides: object) -> tuple[Run, dict]:
    """Run the exact path and read the exchange's account after every minute's cycle."""
    run = Run(market, config(mode="exact", **overrides))
    seen: dict[int, tuple[int, int]] = {}
    cycle = run.cycle

    async def recording(at: int, bars: Sequence[Bar], expect: Sequence[bool] | None) -> None:
        await cycle(at, bars, expect)
        run.engine.advance_to(run.engine.now)  # what GET /v2/account answers at that instant
        view = run.engine.account()
        seen[at] = (view.equity_cents, view.cash_cents)

    run.cycle = recording  # type: ignore[method-assign]
    asyncio.run(run.run_exact())
    return run, seen


def test_the_curve_equals_the_ledgers_account_at_every_minute() -> None:
    run, seen = ledger_after_every_cycle(synthetic(days=2), slippage_bps=3)

    curve = equity_curve(run.market, run.fills, 10_000_000, run.grid, run.session_end)

    assert len(run.fills) > 10
    assert seen == {
        int(t): (int(e), int(c)) for t, e, c in zip(curve.ts, curve.equity, curve.cash, strict=True)
    }


def test_the_curve_equals_the_ledger_on_real_bars_with_extended_hours_and_gaps() -> None:
    run, seen = ledger_after_every_cycle(real(), limits=limits(max_position_pct=0.5))

    curve = equity_curve(run.market, run.fills, 10_000_000, run.grid, run.session_end)

    assert seen == {
        int(t): (int(e), int(c)) for t, e, c in zip(curve.ts, curve.equity, curve.cash, strict=True)
    }


def test_the_grid_has_every_minute_boundary_of_each_session_and_marks_the_closes() -> None:
    sessions = MarketCalendar().sessions(
        datetime(2024, 11, 27, tzinfo=UTC).date(), datetime(2024, 11, 29, tzinfo=UTC).date()
    )

    grid, ends = session_grid(sessions)

    # 390 minutes + 1 on the 27th, 210 + 1 on the early close of the 29th (28th: holiday).
    assert len(grid) == 391 + 211
    assert grid[0] == int(datetime(2024, 11, 27, 14, 30, tzinfo=UTC).timestamp())
    assert grid[-1] == int(datetime(2024, 11, 29, 18, 0, tzinfo=UTC).timestamp())
    assert np.flatnonzero(ends).tolist() == [390, 601]


@pytest.mark.parametrize("fill_offset", [0, 1, 59, 60, 61, 3_600])
def test_the_vectorised_mark_is_the_ledgers_mark_at_every_instant(fill_offset: int) -> None:
    # Arrange: one fill of IBM at a bar's start plus ``fill_offset`` seconds (a bar's end when
    # a multiple of 60), among real bars with gaps and extended hours.
    market = real()
    bars = market.bars["IBM"]
    filled = int(bars.ts[200]) + fill_offset
    ledger = Ledger(ArrayBarStore(market), 10_000_000, None)
    ledger.apply_fill("IBM", Side.BUY, 3, 180.1234, datetime.fromtimestamp(filled, UTC))
    at = np.arange(int(bars.ts[190]), int(bars.ts[230]), 17, dtype=np.int64)

    # Act
    vectorised = marks(bars, at, filled, to_ticks(180.1234))

    # Assert
    by_ledger = [ledger.mark("IBM", datetime.fromtimestamp(t, UTC)) for t in at.tolist()]
    assert vectorised.tolist() == [to_ticks(p) for p in by_ledger if p is not None]
    assert len(by_ledger) == len(at)
