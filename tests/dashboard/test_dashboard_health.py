"""What /healthz judges: a live loop that polls, and fresh data while the market is open."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fleece.dashboard.health import PollFacts, is_stale, judge, stale_after

NOW = datetime(2024, 11, 26, 16, 0, tzinfo=UTC)
LIMIT = timedelta(minutes=3)


def facts(
    *,
    attempt_ago: float | None = 30,
    success_ago: float | None = 30,
    market_open: bool = True,
    stopping: str = "",
) -> PollFacts:
    """Polling facts at NOW, ages in seconds (None: never)."""
    return PollFacts(
        now=NOW,
        market_open=market_open,
        last_poll_at=NOW - timedelta(seconds=attempt_ago) if attempt_ago is not None else None,
        last_success_at=NOW - timedelta(seconds=success_ago) if success_ago is not None else None,
        stopping=stopping,
    )


def test_a_recent_successful_poll_while_the_market_is_open_is_healthy() -> None:
    assert judge(facts(), LIMIT) == (True, "ok")


def test_failing_polls_during_market_hours_are_unhealthy_as_the_data_goes_stale() -> None:
    ok, reason = judge(facts(attempt_ago=10, success_ago=400), LIMIT)

    assert not ok
    assert reason.startswith("data is stale: last successful poll 6 min 40 s ago")


def test_failing_polls_while_the_market_is_closed_are_healthy() -> None:
    assert judge(facts(attempt_ago=10, success_ago=4000, market_open=False), LIMIT) == (
        True,
        "ok (market closed)",
    )


def test_no_poll_attempt_for_too_long_is_unhealthy_even_when_closed() -> None:
    ok, reason = judge(facts(attempt_ago=400, success_ago=400, market_open=False), LIMIT)

    assert not ok and reason.startswith("polling stalled: last poll 6 min 40 s ago")


def test_a_bot_that_never_polled_is_unhealthy() -> None:
    assert judge(facts(attempt_ago=None, success_ago=None), LIMIT) == (False, "no poll yet")


def test_a_stopping_bot_is_unhealthy() -> None:
    ok, reason = judge(facts(stopping="signal SIGTERM"), LIMIT)

    assert not ok and "shutting down (signal SIGTERM)" in reason


def test_stale_after_is_three_poll_periods_of_at_least_a_minute() -> None:
    assert stale_after(5, None) == timedelta(minutes=3)
    assert stale_after(120, None) == timedelta(minutes=6)


def test_stale_after_allows_ten_real_seconds_at_simulation_speed() -> None:
    assert stale_after(5, 600) == timedelta(seconds=6000)
    assert stale_after(5, 0.0) == timedelta(minutes=3)  # a stepped clock


def test_data_is_stale_only_past_the_limit_and_only_while_the_market_is_open() -> None:
    # The one rule /healthz judges polls by and the page's "last bar" chip warns by.
    assert not is_stale(LIMIT, LIMIT, market_open=True)
    assert is_stale(LIMIT + timedelta(seconds=1), LIMIT, market_open=True)
    assert not is_stale(LIMIT * 10, LIMIT, market_open=False)
    assert not is_stale(None, LIMIT, market_open=True)
