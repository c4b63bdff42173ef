"""Specification of the one backoff every retry in the bot waits by (broker, delivery, restarts)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fleece.backoff import backoff_delay


def test_the_first_retry_waits_the_base_and_each_next_one_twice_as_long() -> None:
    assert [backoff_delay(n, 0.25, 8.0) for n in range(1, 8)] == [0.25, 0.5, 1, 2, 4, 8, 8]


def test_the_first_attempt_is_not_a_retry() -> None:
    with pytest.raises(ValueError, match="retry counts from 1"):
        backoff_delay(0, 1.0, 30.0)


@given(
    retry=st.integers(min_value=1, max_value=10_000),
    base=st.floats(min_value=0.001, max_value=10),
    cap=st.floats(min_value=0.001, max_value=3600),
)
def test_a_pause_never_exceeds_the_cap_and_never_shrinks(
    retry: int, base: float, cap: float
) -> None:
    pause = backoff_delay(retry, base, cap)
    assert math.isfinite(pause)
    assert 0 < pause <= cap
    assert backoff_delay(retry + 1, base, cap) >= pause
