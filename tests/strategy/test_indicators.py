"""Specifications of the one SMA computation every vectorised path and chart shares."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fleece.models import TICKS_PER_DOLLAR
from fleece.strategy import sma, window_sums

closes = st.lists(st.integers(min_value=0, max_value=10**9), max_size=60)


@settings(max_examples=200, deadline=None)
@given(closes, st.integers(min_value=1, max_value=12))
def test_window_sums_are_the_exact_sums_of_the_last_window_closes(
    ticks: list[int], window: int
) -> None:
    sums = window_sums(np.array(ticks, dtype=np.int64), window)

    expected = [
        sum(ticks[i - window + 1 : i + 1]) if i >= window - 1 else 0 for i in range(len(ticks))
    ]
    assert sums.tolist() == expected


@settings(max_examples=200, deadline=None)
@given(closes, st.integers(min_value=1, max_value=12))
def test_the_sma_is_the_window_sum_in_dollars_and_undefined_until_the_window_is_full(
    ticks: list[int], window: int
) -> None:
    means = sma(np.array(ticks, dtype=np.int64), window)

    for i, mean in enumerate(means.tolist()):
        if i < window - 1:
            assert math.isnan(mean)
        else:
            assert mean == sum(ticks[i - window + 1 : i + 1]) / window / TICKS_PER_DOLLAR


def test_a_window_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        window_sums(np.array([1, 2, 3]), 0)
