"""The simulated exchange around the engine: its clock, the admin routes, the builder."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from exchange_helpers import SHARED_BARS, Served, fixture_bars, flat_bars, market, ny, stepped

from fleece.clock import ScaledClock
from fleece.errors import ConfigError
from fleece.exchange import ExchangeError, SimExchange, build_exchange

FRIDAY, MONDAY = date(2013, 10, 4), date(2013, 10, 7)


def running(start: datetime) -> SimExchange:
    """An exchange whose clock runs at 60x but (frozen monotonic time) has not moved yet."""
    return SimExchange(fixture_bars(), clock=ScaledClock(start, 60, monotonic=lambda: 0.0))


def now_of(exchange: SimExchange) -> datetime:
    with exchange.synced() as now:
        return now


def test_a_running_clock_skips_a_closed_night_to_shortly_before_the_next_open() -> None:
    assert now_of(running(ny("16:10", FRIDAY))) == ny("09:28", MONDAY)


def test_the_first_minutes_after_the_close_are_not_skipped() -> None:
    assert now_of(running(ny("16:03", FRIDAY))) == ny("16:03", FRIDAY)


def test_a_stepped_clock_never_skips() -> None:
    assert now_of(stepped(fixture_bars(), ny("16:10", FRIDAY))) == ny("16:10", FRIDAY)


def test_the_sim_can_be_told_not_to_skip() -> None:
    clock = ScaledClock(ny("16:10", FRIDAY), 60, monotonic=lambda: 0.0)
    exchange = SimExchange(fixture_bars(), clock=clock, skip_closed=False)

    assert now_of(exchange) == ny("16:10", FRIDAY)


def test_advancing_moves_the_clock_by_exactly_that_many_minutes(served: Served) -> None:
    before = served.now()

    state = served.advance(15)

    assert state["now"] == (before + timedelta(minutes=15)).isoformat().replace("+00:00", "Z")


def test_the_state_counts_requests_per_route(served: Served) -> None:
    served.trading.get_account()
    served.trading.get_account()

    requests = served.http.get("/v1/sim/state").json()["requests"]

    assert requests["GET /v2/account"] == 2
    assert requests["GET /v1/sim/state"] == 1


def test_the_state_counts_every_submission_of_a_client_order_id_even_refused_ones() -> None:
    exchange = stepped({"SPY": flat_bars("SPY", "10:00", 5, 100.0)}, ny("10:00"))
    exchange.submit(market("SPY", 1, client_order_id="once"))
    exchange.submit(market("SPY", 1))
    with pytest.raises(ExchangeError):
        exchange.submit(market("SPY", 1, client_order_id="once"))

    state = exchange.state()

    assert state["orders_submitted"] == 2
    assert state["client_order_id_submissions"]["once"] == 2
    assert sorted(state["client_order_id_submissions"].values()) == [1, 2]


def test_built_over_a_data_directory_the_clock_starts_at_the_first_sessions_open() -> None:
    exchange = build_exchange(["SPY"], data_dir=SHARED_BARS, speed=0)

    assert now_of(exchange) == ny("09:30", FRIDAY)
    assert exchange.store.symbols == ("SPY",)


def test_a_start_day_starts_the_clock_at_that_sessions_open_or_the_next_ones() -> None:
    saturday = date(2013, 10, 5)

    exchange = build_exchange(["IBM"], data_dir=SHARED_BARS, start=saturday, speed=0)

    assert now_of(exchange) == ny("09:30", MONDAY)


def test_synthetic_bars_cover_the_requested_sessions() -> None:
    exchange = build_exchange(["AAA", "BBB"], synthetic=True, start=date(2024, 1, 2), days=2)

    assert exchange.store.symbols == ("AAA", "BBB")
    assert exchange.store.next_regular("AAA", ny("09:30", date(2024, 1, 3))) is not None
    assert exchange.store.next_regular("AAA", ny("09:30", date(2024, 1, 4))) is None


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"data_dir": Path("."), "synthetic": True}, {"synthetic": True}],
    ids=["neither-source", "both-sources", "synthetic-without-symbols"],
)
def test_the_builder_refuses_contradictory_or_missing_sources(kwargs: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        build_exchange(None, **kwargs)  # type: ignore[arg-type]


def test_the_account_id_is_the_same_in_every_run_with_the_same_seed() -> None:
    def account_id(seed: int) -> str:
        return SimExchange(
            fixture_bars(), clock=ScaledClock(ny("10:00", MONDAY), 0), seed=seed
        ).account_id

    assert account_id(3) == account_id(3) != account_id(4)
