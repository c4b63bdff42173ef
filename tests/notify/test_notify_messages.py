"""How money and prices read in every message and report: `fleece status`, Telegram,
notifications."""

from __future__ import annotations

from datetime import UTC, date, datetime

from fleece.accounting import equity_change
from fleece.notify.events import DailySummary
from fleece.notify.messages import (
    counts_text,
    kill_switch_text,
    money,
    percent_text,
    price_text,
    render,
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


def test_a_time_reads_in_new_york_to_the_minute_or_to_the_second() -> None:
    at = datetime(2024, 7, 1, 14, 30, 5, tzinfo=UTC)  # summer: UTC-4

    assert when(at) == "2024-07-01 10:30 ET"
    assert when(at, seconds=True) == "2024-07-01 10:30:05 ET"


def test_the_kill_switch_reads_on_with_its_reason_or_off() -> None:
    assert kill_switch_text(True, "maintenance") == "on (maintenance)"
    assert kill_switch_text(True, "") == "on"
    assert kill_switch_text(False, "resumed") == "off"


def test_the_daily_summary_counts_trades_as_the_limit_status_and_the_dashboard_name_them() -> None:
    # max_trades_per_day's counter: "trades today" in fleece status, Telegram and the page.
    summary = DailySummary(date(2024, 11, 25), -198.79, 99_801.21, 24, 24, -198.79, {}, 0)

    body = render(summary).body

    assert "trades 24 · fills 24 · realised P&L -198.79" in body
