"""Specification of the statistics, against values computed by hand on tiny curves."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from fleece.backtest.equity import EquityCurve
from fleece.backtest.stats import (
    compute_stats,
    drawdown,
    max_drawdown,
    round_trips,
    sharpe_ratio,
    sortino_ratio,
)
from fleece.models import Fill, Side

T0 = datetime(2024, 1, 2, 14, 30, tzinfo=UTC)
DAY = 86_400


def curve(equity_dollars: list[float], *, per_session: int = 1) -> EquityCurve:
    """One point per session close (or ``per_session`` points a day, the last a close)."""
    n = len(equity_dollars)
    ts = np.array(
        [int(T0.timestamp()) + (i // per_session) * DAY + (i % per_session) * 60 for i in range(n)],
        dtype=np.int64,
    )
    ends = np.array([(i % per_session) == per_session - 1 for i in range(n)])
    cents = np.array([round(e * 100) for e in equity_dollars], dtype=np.int64)
    return EquityCurve(ts, cents, cents, np.zeros(n, dtype=np.int64), ends)


def fill(symbol: str, side: Side, qty: int, price: float, minute: int) -> Fill:
    return Fill(
        f"{symbol}-{minute}", f"o{minute}", symbol, side, qty, price, T0 + timedelta(minutes=minute)
    )


def test_total_return_and_cagr_from_the_first_and_last_equity() -> None:
    # 110 -> 121 over 2 sessions: +21%; CAGR = 1.21 ** (252 / 2) - 1.
    stats = compute_stats(curve([110.0, 121.0]), [], 10_000)

    assert stats.total_return == pytest.approx(0.21)
    assert stats.cagr == pytest.approx(1.21**126 - 1)
    assert stats.sessions == 2


def test_daily_returns_start_from_the_initial_cash_and_give_sharpe() -> None:
    # Daily returns: +10%, -10%, +10% (from 100 -> 110 -> 99 -> 108.9).
    returns = np.array([0.10, -0.10, 0.10])
    mean = 0.1 / 3
    sd = math.sqrt(((0.1 - mean) ** 2 * 2 + (-0.1 - mean) ** 2) / 2)  # ddof = 1

    stats = compute_stats(curve([110.0, 99.0, 108.9]), [], 10_000)

    assert stats.sharpe == pytest.approx(mean / sd * math.sqrt(252))
    assert sharpe_ratio(returns) == pytest.approx(mean / sd * math.sqrt(252))


def test_sortino_divides_by_the_downside_deviation_over_all_days() -> None:
    returns = np.array([0.10, -0.10, 0.10])
    downside = math.sqrt(0.01 / 3)  # only the -10% day counts, averaged over the 3 days

    assert sortino_ratio(returns) == pytest.approx((0.1 / 3) / downside * math.sqrt(252))


def test_ratios_are_undefined_without_variation_or_down_days() -> None:
    assert sharpe_ratio(np.array([0.01, 0.01])) is None
    assert sharpe_ratio(np.array([0.01])) is None
    assert sortino_ratio(np.array([0.01, 0.02])) is None


def test_max_drawdown_is_the_deepest_fall_from_a_running_peak() -> None:
    # Peak 120, trough 90: -25%; the earlier dip 100 -> 95 is shallower.
    ts = np.arange(6, dtype=np.int64) * 60
    depth, _ = max_drawdown(ts, np.array([100, 95, 120, 90, 110, 130]))

    assert depth == pytest.approx(90 / 120 - 1)


def test_the_drawdown_is_each_minutes_distance_below_the_running_peak() -> None:
    equity = np.array([100, 110, 99, 121, 121])

    below = drawdown(equity)

    assert below.tolist() == pytest.approx([0.0, 0.0, 99 / 110 - 1, 0.0, 0.0])
    assert max_drawdown(np.arange(5, dtype=np.int64) * DAY, equity)[0] == below.min()


def test_drawdown_duration_runs_from_the_peak_until_it_is_regained() -> None:
    # Peak on day 1, underwater on days 2 and 3, back above it on day 4: 3 days.
    ts = np.arange(5, dtype=np.int64) * DAY
    _, days = max_drawdown(ts, np.array([100, 120, 110, 115, 125]))

    assert days == pytest.approx(3.0)


def test_a_drawdown_never_recovered_lasts_until_the_end() -> None:
    ts = np.arange(4, dtype=np.int64) * DAY
    _, days = max_drawdown(ts, np.array([100, 90, 95, 99]))

    assert days == pytest.approx(3.0)


def test_flat_equity_has_no_drawdown_and_no_duration() -> None:
    ts = np.arange(4, dtype=np.int64) * DAY

    assert max_drawdown(ts, np.array([100, 100, 100, 100])) == (0.0, 0.0)


def test_trades_are_round_trips_with_pnl_to_the_cent() -> None:
    fills = [
        fill("AAA", Side.BUY, 10, 10.00, 1),
        fill("AAA", Side.SELL, 10, 10.50, 5),  # +5.00
        fill("BBB", Side.BUY, 3, 33.3333, 2),
        fill("BBB", Side.SELL, 3, 33.0001, 7),  # cash 99.00 - 100.00 = -1.00
    ]

    trips = round_trips(fills)

    assert [(t.symbol, t.qty, t.pnl_cents) for t in trips] == [("AAA", 10, 500), ("BBB", 3, -100)]


def test_a_partial_exit_is_a_trade_at_the_average_cost_and_the_rest_stays_open() -> None:
    fills = [
        fill("AAA", Side.BUY, 10, 10.0, 1),
        fill("AAA", Side.BUY, 5, 12.0, 2),  # 15 shares cost 160.00: 10.6667 on average
        fill("AAA", Side.SELL, 12, 11.0, 3),  # 132.00 for shares that cost 128.00
    ]

    trips = round_trips(fills)

    assert [(t.qty, t.entry_time, t.pnl_cents, t.cost_cents) for t in trips] == [
        (12, T0 + timedelta(minutes=1), 400, 12_800),  # first in, first out would say 800
        (3, T0 + timedelta(minutes=1), None, 3_200),  # still open
    ]
    assert trips[0].entry_price == pytest.approx(160 / 15)


def test_win_rate_profit_factor_and_averages() -> None:
    fills = [
        fill("AAA", Side.BUY, 1, 10.0, 1),
        fill("AAA", Side.SELL, 1, 13.0, 2),  # +3
        fill("AAA", Side.BUY, 1, 10.0, 3),
        fill("AAA", Side.SELL, 1, 11.0, 4),  # +1
        fill("AAA", Side.BUY, 1, 10.0, 5),
        fill("AAA", Side.SELL, 1, 8.0, 6),  # -2
        fill("AAA", Side.BUY, 1, 10.0, 7),  # open
    ]

    stats = compute_stats(curve([100.0, 102.0]), fills, 10_000)

    assert stats.trades == 3 and stats.open_trades == 1 and stats.fills == 7
    assert stats.win_rate == pytest.approx(2 / 3)
    assert stats.profit_factor == pytest.approx(4 / 2)
    assert stats.avg_win == pytest.approx(2.0)
    assert stats.avg_loss == pytest.approx(-2.0)


def test_the_realised_pnl_is_the_sum_of_the_trades_by_average_cost() -> None:
    fills = [
        fill("AAA", Side.BUY, 10, 10.0, 1),
        fill("AAA", Side.BUY, 5, 12.0, 2),
        fill("AAA", Side.SELL, 12, 11.0, 3),  # +4.00 by average cost (+8.00 first in, first out)
        fill("BBB", Side.BUY, 3, 33.3333, 4),
        fill("BBB", Side.SELL, 3, 33.0001, 5),  # cash 99.00 - 100.00 = -1.00
    ]

    stats = compute_stats(curve([100.0, 102.0]), fills, 10_000)

    assert stats.realised_pnl == 3.00
    assert stats.trades == 2 and stats.open_trades == 1


def test_figures_without_trades_or_losses_are_none_not_infinite() -> None:
    stats = compute_stats(curve([100.0, 100.0]), [], 10_000)

    assert stats.trades == 0
    assert stats.win_rate is None and stats.profit_factor is None
    assert stats.avg_win is None and stats.avg_loss is None


def test_exposure_is_the_share_of_minutes_with_a_position() -> None:
    base = curve([100.0] * 4, per_session=4)
    held = EquityCurve(base.ts, base.equity, base.cash, np.array([0, 1, 2, 0]), base.session_end)

    assert compute_stats(held, [], 10_000).exposure == pytest.approx(0.5)
