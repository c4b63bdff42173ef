"""How money and prices read in every message and report: `fleece status`, Telegram,
notifications."""

from __future__ import annotations

from datetime import UTC, date, datetime

from fleece.accounting import equity_change
from fleece.models import TradingState
from fleece.notify.events import DailySummary
from fleece.notify.messages import (
    counts_text,
    duration_text,
    kill_switch_text,
    money,
    percent_text,
    price_text,
    render,
    state_text,
    stopped_text,
    symbol_reasons,
    when,
)


def test_money_reads_in_dollars_to_the_cent_with_thousands_separators() -> None:
    assert money(99_700.0) == "99,700.00"
    assert money(-300.0, signed=True) == "-300.00"
    assert money(12.5, signed=True) == "+12.50"
    assert money(None) == "unknown"


def test_a_loss_smaller_than_half_a_cent_reads_as_no_change_not_minus_zero() -> None:
    pnl = equity_change(100_000.0, 99_999.999)  # -0.0 after rounding to the cent

    assert money(pnl, signed=True) == "+0.00"


def test_a_share_price_reads_to_the_tick_with_thousands_separators() -> None:
    assert price_text(1234.5) == "1,234.5000"
    assert price_text(0.1234) == "0.1234"
    assert price_text(None) == "unknown"


def test_counts_by_name_read_sorted_by_name_and_none_when_empty() -> None:
    assert counts_text({"stale_bar": 1, "max_positions": 2}) == "max_positions 2, stale_bar 1"
    assert counts_text({}) == "none"


def test_a_fraction_reads_as_a_percent_to_two_decimals() -> None:
    assert percent_text(0.025) == "2.50%"
    assert percent_text(-0.1234) == "-12.34%"
    assert percent_text(None) == "unknown"
    assert percent_text(0.025, signed=True) == "+2.50%"
    assert percent_text(-0.0, signed=True) == "+0.00%"


def test_a_time_reads_in_new_york_to_the_minute_or_to_the_second() -> None:
    at = datetime(2024, 7, 1, 14, 30, 5, tzinfo=UTC)  # summer: UTC-4

    assert when(at) == "2024-07-01 10:30 ET"
    assert when(at, seconds=True) == "2024-07-01 10:30:05 ET"
    assert when(at, seconds=True, simulated=True) == "2024-07-01 10:30:05 ET (simulated)"


def test_the_kill_switch_reads_on_with_its_reason_or_off() -> None:
    assert kill_switch_text(True, "maintenance") == "on (maintenance)"
    assert kill_switch_text(True, "") == "on"
    assert kill_switch_text(False, "resumed") == "off"


def test_the_trading_state_reads_with_its_reason_in_brackets() -> None:
    # fleece status, Telegram, the notifications, flatten's refusal and the page alike (the page
    # once said "HALTED · kill switch").
    assert state_text(TradingState.HALTED, "kill_switch") == "HALTED (kill_switch)"
    assert state_text(TradingState.ACTIVE, "") == "ACTIVE"


def test_a_run_reads_stopped_at_a_time_with_its_reason_or_no_stop_recorded() -> None:
    at = datetime(2024, 11, 26, 16, 3, tzinfo=UTC)

    assert (
        stopped_text(at, "signal SIGTERM", False)
        == "stopped 2024-11-26 11:03:00 ET (signal SIGTERM)"
    )
    assert (
        stopped_text(at, None, True)
        == "stopped 2024-11-26 11:03:00 ET (simulated) (no reason recorded)"
    )
    assert stopped_text(None, None, False) == "no stop recorded"


def test_dropped_symbols_read_sorted_with_why() -> None:
    assert symbol_reasons({"ZZ": "not active", "GOLD": "not tradable"}) == [
        "GOLD (not tradable)",
        "ZZ (not active)",
    ]


def test_the_daily_summary_counts_trades_as_the_limit_status_and_the_dashboard_name_them() -> None:
    # max_trades_per_day's counter: "trades today" in fleece status, Telegram and the page.
    summary = DailySummary(date(2024, 11, 25), -198.79, 99_801.21, 24, 24, -198.79, {}, 0)

    body = render(summary).body

    assert "trades 24 · fills 24 · realised P&L -198.79" in body


#: (seconds, text): the one rule for a span of time (outages, ages and their limits, waits).
DURATIONS = [
    (0, "0 s"),
    (44.5, "45 s"),
    (119.4, "119 s"),
    (120, "2 min"),
    (360, "6 min"),
    (400, "6 min 40 s"),
    (7199, "119 min 59 s"),
    (7200, "2 h"),
    (11_100, "3 h 5 min"),
    (172_800, "2 d"),
    (234_000, "2 d 17 h"),
    (-3, "0 s"),
]


def test_a_duration_reads_in_seconds_then_minutes_then_hours_then_days() -> None:
    assert [duration_text(seconds) for seconds, _ in DURATIONS] == [t for _, t in DURATIONS]


def test_an_age_just_over_its_limit_never_reads_like_the_limit() -> None:
    # /healthz and fleece status --check once said "7 min" for 400 s against a 360 s limit
    # here, "400s" there and "400 s" in a third place; the broker outage said "7 min".
    assert duration_text(400) != duration_text(360)
    assert duration_text(121) != duration_text(120)
