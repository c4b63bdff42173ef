"""Specification of bar validation: the reason vocabulary, clean_series and parse_bar."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta, timezone

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from fleece.data.parsing import parse_bar
from fleece.data.validate import (
    REASON_CODES,
    REASONS,
    BarColumns,
    BarProblem,
    bar_problem,
    clean_series,
    judge_columns,
)
from fleece.models import Bar

T0 = datetime(2024, 3, 4, 14, 30, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


def bar(
    minute: int = 0,
    *,
    open_: float = 100.0,
    high: float = 101.0,
    low: float = 99.0,
    close: float = 100.5,
    volume: int = 1_000,
    symbol: str = "SPY",
    ts: datetime | None = None,
) -> Bar:
    return Bar(symbol, ts or T0 + minute * MINUTE, open_, high, low, close, volume)


# bar_problem


def test_a_sound_bar_has_no_problem() -> None:
    assert bar_problem(bar()) is None


def test_a_naive_timestamp_is_refused() -> None:
    assert bar_problem(bar(ts=datetime(2024, 3, 4, 14, 30))) == "naive_timestamp"


def test_a_nan_price_is_refused() -> None:
    assert bar_problem(bar(close=math.nan)) == "nan_price"


def test_an_infinite_price_is_refused() -> None:
    assert bar_problem(bar(high=math.inf)) == "infinite_price"


def test_a_zero_or_negative_price_is_refused() -> None:
    assert bar_problem(bar(low=0.0)) == "non_positive_price"
    assert bar_problem(bar(open_=-1.0)) == "non_positive_price"


def test_high_below_low_is_refused() -> None:
    assert bar_problem(bar(open_=100, high=99, low=100, close=100)) == "high_below_low"


def test_high_below_open_or_close_is_refused() -> None:
    assert bar_problem(bar(close=101.5)) == "high_below_open_close"


def test_low_above_open_or_close_is_refused() -> None:
    assert bar_problem(bar(open_=98.5)) == "low_above_open_close"


def test_negative_volume_is_refused() -> None:
    assert bar_problem(bar(volume=-1)) == "negative_volume"


def test_zero_volume_is_accepted() -> None:
    assert bar_problem(bar(volume=0)) is None


def test_a_bar_at_the_previous_timestamp_is_a_duplicate() -> None:
    assert bar_problem(bar(5), previous=T0 + 5 * MINUTE) == "duplicate_timestamp"


def test_a_bar_before_the_previous_one_is_out_of_order() -> None:
    assert bar_problem(bar(4), previous=T0 + 5 * MINUTE) == "out_of_order"


def test_a_bar_not_yet_closed_is_from_the_future() -> None:
    assert bar_problem(bar(0), now=T0 + timedelta(seconds=59)) == "from_the_future"


def test_a_bar_is_usable_the_moment_it_closes() -> None:
    assert bar_problem(bar(0), now=T0 + MINUTE) is None


def test_an_offset_timestamp_is_as_good_as_utc() -> None:
    new_york = timezone(timedelta(hours=-5))
    assert bar_problem(bar(ts=T0.astimezone(new_york)), previous=T0 - MINUTE) is None


# clean_series


def test_clean_series_keeps_good_bars_in_order_and_reports_the_rest() -> None:
    bars = [bar(0), bar(1, close=math.nan), bar(2), bar(2), bar(1), bar(3)]

    kept, problems = clean_series(bars, "feed")

    assert kept == [bar(0), bar(2), bar(3)]
    assert [p.reason for p in problems] == ["nan_price", "duplicate_timestamp", "out_of_order"]
    assert problems[0] == BarProblem("SPY", T0 + MINUTE, "nan_price", "feed")


def test_clean_series_compares_with_the_last_accepted_bar_not_the_last_seen() -> None:
    # Minute 5 is refused for its price, so minute 4 after it is still in order.
    kept, problems = clean_series([bar(3), bar(5, low=0.0), bar(4)], "feed")

    assert kept == [bar(3), bar(4)]
    assert [p.reason for p in problems] == ["non_positive_price"]


def test_clean_series_orders_each_symbol_separately() -> None:
    bars = [bar(5, symbol="SPY"), bar(1, symbol="IBM"), bar(6, symbol="SPY")]

    kept, problems = clean_series(bars, "feed")

    assert kept == bars
    assert problems == []


def test_clean_series_reports_no_timestamp_for_a_naive_one() -> None:
    _, problems = clean_series([bar(ts=datetime(2024, 3, 4, 14, 30))], "x.csv")

    assert problems == [BarProblem("SPY", None, "naive_timestamp", "x.csv")]


# judge_columns: the vectorised twin of clean_series used by the importer


def _columns(bars: list[Bar]) -> BarColumns:
    return BarColumns(
        ts_us=np.array([int(b.timestamp.timestamp()) * 1_000_000 for b in bars], dtype=np.int64),
        open=np.array([b.open for b in bars], dtype=np.float64),
        high=np.array([b.high for b in bars], dtype=np.float64),
        low=np.array([b.low for b in bars], dtype=np.float64),
        close=np.array([b.close for b in bars], dtype=np.float64),
        volume=np.array([b.volume for b in bars], dtype=np.int64),
        parse_codes=np.zeros(len(bars), dtype=np.int8),
    )


prices = st.sampled_from([100.0, 99.0, 101.0, 0.0, -1.0, math.nan, math.inf])
raw_bars = st.builds(
    bar,
    st.integers(0, 8),
    open_=prices,
    high=prices,
    low=prices,
    close=prices,
    volume=st.sampled_from([0, 10, -5]),
)


@given(st.lists(raw_bars, max_size=30))
def test_judge_columns_agrees_with_clean_series_row_by_row(bars: list[Bar]) -> None:
    _, problems = clean_series(bars, "feed")

    codes = judge_columns(_columns(bars))

    assert [REASONS[c - 1] for c in codes if c] == [p.reason for p in problems]


def test_judge_columns_keeps_reading_problems_first() -> None:
    columns = _columns([bar(0), bar(1)])
    columns.parse_codes[1] = REASON_CODES["wrong_type"]

    codes = judge_columns(columns)

    assert codes.tolist() == [0, REASON_CODES["wrong_type"]]


# parse_bar


def test_parse_bar_reads_alpaca_keys() -> None:
    raw = {"t": "2024-03-04T14:30:00Z", "o": 100, "h": 101, "l": 99, "c": 100.5, "v": 1000}
    raw |= {"n": 12, "vw": 100.2}

    parsed = parse_bar("SPY", raw)

    assert parsed == Bar("SPY", T0, 100.0, 101.0, 99.0, 100.5, 1000, 12, 100.2)


def test_parse_bar_reads_long_names_given_as_strings() -> None:
    raw = {
        "timestamp": "2024-03-04T09:30:00-05:00",
        "open": "100",
        "high": "101",
        "low": "99",
        "close": "100.5",
        "volume": "1000.0",
    }

    parsed = parse_bar("SPY", raw)

    assert parsed == bar()
    assert isinstance(parsed, Bar)
    assert parsed.timestamp.tzinfo is UTC


def test_parse_bar_accepts_an_aware_datetime() -> None:
    raw = {"t": T0, "o": 100, "h": 101, "l": 99, "c": 100.5, "v": 1000}

    assert parse_bar("SPY", raw) == bar()


def test_parse_bar_reports_a_missing_field() -> None:
    assert parse_bar("SPY", {"t": "2024-03-04T14:30:00Z", "o": 1, "h": 1, "l": 1, "c": 1}) == (
        "missing_field"
    )


def test_parse_bar_treats_empty_and_none_as_missing() -> None:
    raw = {"t": "2024-03-04T14:30:00Z", "o": "", "h": 1, "l": 1, "c": 1, "v": None}

    assert parse_bar("SPY", raw) == "missing_field"


def test_parse_bar_reports_a_wrong_type() -> None:
    raw = {"t": "2024-03-04T14:30:00Z", "o": "abc", "h": 1, "l": 1, "c": 1, "v": 1}

    assert parse_bar("SPY", raw) == "wrong_type"


def test_parse_bar_refuses_a_fractional_volume() -> None:
    raw = {"t": "2024-03-04T14:30:00Z", "o": 1, "h": 1, "l": 1, "c": 1, "v": 1.5}

    assert parse_bar("SPY", raw) == "wrong_type"


def test_parse_bar_refuses_booleans_as_numbers() -> None:
    raw = {"t": "2024-03-04T14:30:00Z", "o": True, "h": 1, "l": 1, "c": 1, "v": 1}

    assert parse_bar("SPY", raw) == "wrong_type"


def test_parse_bar_refuses_an_unreadable_timestamp() -> None:
    raw = {"t": "yesterday", "o": 1, "h": 1, "l": 1, "c": 1, "v": 1}

    assert parse_bar("SPY", raw) == "wrong_type"


def test_parse_bar_refuses_a_naive_timestamp() -> None:
    raw = {"t": "2024-03-04T14:30:00", "o": 1, "h": 1, "l": 1, "c": 1, "v": 1}

    assert parse_bar("SPY", raw) == "naive_timestamp"


def test_parse_bar_leaves_price_judgement_to_bar_problem() -> None:
    raw = {"t": "2024-03-04T14:30:00Z", "o": "nan", "h": 1, "l": 1, "c": 1, "v": 1}

    parsed = parse_bar("SPY", raw)

    assert isinstance(parsed, Bar)
    assert bar_problem(parsed) == "nan_price"


@given(
    st.dictionaries(
        st.sampled_from(["t", "o", "h", "l", "c", "v", "n", "vw"]), st.from_type(object)
    )
)
def test_parse_bar_never_raises(raw: dict[str, object]) -> None:
    result = parse_bar("SPY", raw)

    assert isinstance(result, Bar | str)
