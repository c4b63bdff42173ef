"""Specification of the circuit breaker: failures in a row trip it, only a reset clears it."""

from __future__ import annotations

import pytest

from fleece.circuit_breaker import CircuitBreaker


def test_breaker_trips_after_exactly_n_consecutive_failures() -> None:
    breaker = CircuitBreaker(threshold=3)

    tripped_now = [breaker.record_failure() for _ in range(3)]

    assert tripped_now == [False, False, True]
    assert breaker.tripped


def test_breaker_reports_the_trip_only_once() -> None:
    breaker = CircuitBreaker(threshold=1)
    breaker.record_failure()

    assert breaker.record_failure() is False
    assert breaker.tripped and breaker.consecutive == 2


def test_a_success_in_between_resets_the_count() -> None:
    breaker = CircuitBreaker(threshold=3)
    breaker.record_failure()
    breaker.record_failure()

    breaker.record_success()
    breaker.record_failure()
    breaker.record_failure()

    assert not breaker.tripped
    assert breaker.consecutive == 2


def test_a_success_does_not_clear_a_trip() -> None:
    breaker = CircuitBreaker(threshold=1)
    breaker.record_failure()

    breaker.record_success()

    assert breaker.tripped


def test_reset_clears_the_trip_and_the_count() -> None:
    breaker = CircuitBreaker(threshold=1)
    breaker.record_failure()

    breaker.reset()

    assert (breaker.tripped, breaker.consecutive) == (False, 0)


def test_breaker_resumes_from_persisted_values() -> None:
    breaker = CircuitBreaker(threshold=5, consecutive=4)

    assert breaker.record_failure() is True


def test_persisted_trip_survives_a_restart() -> None:
    assert CircuitBreaker(threshold=5, consecutive=0, tripped=True).tripped


@pytest.mark.parametrize(("threshold", "consecutive"), [(0, 0), (5, -1)])
def test_breaker_refuses_bad_values(threshold: int, consecutive: int) -> None:
    with pytest.raises(ValueError):
        CircuitBreaker(threshold, consecutive)
