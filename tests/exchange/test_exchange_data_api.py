"""The Market Data API: minute bars, paginated like Alpaca, never from the future.

Three symbols of ten hand-built bars each (10:00-10:09 New York on 2024-01-03) are served at
10:30, so every bar has closed unless a test says otherwise.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from alpaca.common.exceptions import APIError
from alpaca.data.requests import StockBarsRequest
from alpaca.data.timeframe import TimeFrame, TimeFrameUnit
from exchange_helpers import Served, bar, flat_bars, ny, serve, stepped

from fleece.models import Bar

SYMBOLS = ("AAA", "BBB", "CCC")


def three_symbols() -> dict[str, list[Bar]]:
    return {s: flat_bars(s, "10:00", 10, 10.0 * (i + 1)) for i, s in enumerate(SYMBOLS)}


@pytest.fixture
def three() -> Iterator[Served]:
    with serve(stepped(three_symbols(), ny("10:30"))) as handle:
        yield handle


def get_bars(served: Served, **params: Any) -> dict[str, Any]:
    query = {"symbols": ",".join(SYMBOLS), "timeframe": "1Min", "start": ny("09:00").isoformat()}
    answer = served.http.get("/v2/stocks/bars", params=query | params)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def stamps(page: dict[str, list[dict[str, Any]]]) -> list[tuple[str, str]]:
    return [(symbol, b["t"]) for symbol, bars in page.items() for b in bars]


def test_a_limit_counts_bars_across_symbols_and_the_pages_reassemble_the_full_set(
    three: Served,
) -> None:
    everything = stamps(get_bars(three, limit=10_000)["bars"])
    pages, token = [], None
    while True:
        answer = get_bars(three, limit=7, **({"page_token": token} if token else {}))
        pages.append(stamps(answer["bars"]))
        token = answer["next_page_token"]
        if token is None:
            break

    assert [len(p) for p in pages] == [7, 7, 7, 7, 2]
    assert [s for page in pages for s in page] == everything
    assert len(everything) == 30


def test_alpaca_py_get_stock_bars_honours_a_total_limit(three: Served) -> None:
    request = StockBarsRequest(
        symbol_or_symbols=list(SYMBOLS), timeframe=TimeFrame.Minute, start=ny("09:00"), limit=7
    )

    barset = three.data.get_stock_bars(request)

    assert {s: len(b) for s, b in barset.data.items()} == {"AAA": 7}
    assert barset["AAA"][0].open == 10.0


def test_alpaca_py_follows_next_page_tokens_past_ten_thousand_bars() -> None:
    first = ny("04:00")
    bars = {
        s: [Bar(s, first + timedelta(minutes=i), 10.0, 10.0, 10.0, 10.0, 1) for i in range(3_600)]
        for s in SYMBOLS
    }
    with serve(stepped(bars, first + timedelta(days=10))) as served:
        request = StockBarsRequest(
            symbol_or_symbols=list(SYMBOLS), timeframe=TimeFrame.Minute, start=first
        )
        barset = served.data.get_stock_bars(request)

    assert {s: len(b) for s, b in barset.data.items()} == dict.fromkeys(SYMBOLS, 3_600)


def test_no_bar_is_served_before_its_minute_has_finished() -> None:
    with serve(stepped(three_symbols(), ny("10:04:59"))) as served:
        answer = get_bars(served, end=ny("23:00").isoformat())
        served.advance(1 / 60)
        later = get_bars(served)

    assert [b["t"] for b in answer["bars"]["AAA"]][-1] == "2024-01-03T15:03:00Z"  # 10:03 NY
    assert [b["t"] for b in later["bars"]["AAA"]][-1] == "2024-01-03T15:04:00Z"


def test_bars_carry_alpacas_short_keys(three: Served) -> None:
    first = get_bars(three, limit=1)["bars"]["AAA"][0]

    assert first == {
        "t": "2024-01-03T15:00:00Z",
        "o": 10.0,
        "h": 10.05,
        "l": 9.95,
        "c": 10.01,
        "v": 100,
        "n": 1,  # recorded without: volume over an average trade of 128 shares, at least 1
        "vw": 10.0033,  # recorded without: the typical price (h + l + c) / 3
    }


def test_without_a_start_the_bars_begin_at_the_start_of_the_current_day() -> None:
    bars = {"AAA": [bar("AAA", "15:59", 9.0, day=ny("10:00").date() - timedelta(days=1))]}
    bars["AAA"] += flat_bars("AAA", "10:00", 3, 10.0)
    with serve(stepped(bars, ny("10:30"))) as served:
        answer = served.http.get("/v2/stocks/bars", params={"symbols": "AAA", "timeframe": "1Min"})

    assert len(answer.json()["bars"]["AAA"]) == 3


def test_descending_order_serves_the_newest_bars_first(three: Served) -> None:
    page = get_bars(three, sort="desc", limit=12)

    assert stamps(page["bars"])[:2] == [
        ("AAA", "2024-01-03T15:09:00Z"),
        ("AAA", "2024-01-03T15:08:00Z"),
    ]
    rest = get_bars(three, sort="desc", limit=100, page_token=page["next_page_token"])
    assert stamps(rest["bars"])[0] == ("BBB", "2024-01-03T15:07:00Z")


def test_the_single_symbol_route_pages_the_same_way(three: Served) -> None:
    params = {"timeframe": "1Min", "start": ny("09:00").isoformat(), "limit": 4}
    first = three.http.get("/v2/stocks/bbb/bars", params=params).json()
    second = three.http.get(
        "/v2/stocks/BBB/bars", params=params | {"page_token": first["next_page_token"]}
    ).json()

    assert (first["symbol"], len(first["bars"]), len(second["bars"])) == ("BBB", 4, 4)
    assert second["bars"][0]["t"] == "2024-01-03T15:04:00Z"


def test_unknown_symbols_are_simply_absent(three: Served) -> None:
    answer = get_bars(three, symbols="AAA,ZZZ")

    assert list(answer["bars"]) == ["AAA"]


def test_an_unsupported_timeframe_is_refused_with_a_message(three: Served) -> None:
    request = StockBarsRequest(
        symbol_or_symbols=["AAA"], timeframe=TimeFrame(5, TimeFrameUnit.Minute), start=ny("09:00")
    )

    with pytest.raises(APIError) as refused:
        three.data.get_stock_bars(request)

    assert (refused.value.status_code, refused.value.code) == (422, 42210000)
    assert "5Min" in refused.value.message


@pytest.mark.parametrize(
    "params",
    [{"limit": 0}, {"limit": 10_001}, {"page_token": "not-a-token"}, {"start": "yesterday"}],
    ids=["limit-0", "limit-over-max", "bad-token", "bad-start"],
)
def test_invalid_parameters_are_refused_in_alpacas_shape(three: Served, params: Any) -> None:
    query = {"symbols": "AAA", "timeframe": "1Min"} | params
    answer = three.http.get("/v2/stocks/bars", params=query)

    assert (answer.status_code, answer.json()["code"]) == (422, 42210000)


def test_a_missing_symbols_parameter_is_a_validation_error_in_alpacas_shape(
    three: Served,
) -> None:
    answer = three.http.get("/v2/stocks/bars", params={"timeframe": "1Min"})

    assert (answer.status_code, answer.json()["code"]) == (422, 42210000)
