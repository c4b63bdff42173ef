"""Specification of what an account may read and where its orders fill: plans, feeds, the IEX
tape, rate limits and assets, through alpaca-py over HTTP.

The market: seeded synthetic bars of SPY (liquid) and NOC (thin) for 2024-11-25 and 26, taken as
the consolidated tape; the clock stands at 2024-11-26 11:00 New York until advanced.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from alpaca.common.exceptions import APIError
from alpaca.data.enums import DataFeed
from alpaca.data.requests import StockBarsRequest
from alpaca.data.timeframe import TimeFrame
from alpaca.trading.enums import OrderSide, TimeInForce
from alpaca.trading.requests import MarketOrderRequest
from exchange_helpers import Served, ny, serve, stepped

from fleece.data.iex import iex_tape
from fleece.data.synthetic import generate_bars

DAY = date(2024, 11, 26)
SEED = 0
BARS = generate_bars(("SPY", "NOC"), date(2024, 11, 25), 2, SEED)
IEX = iex_tape(BARS, SEED)
NOW = ny("11:00", DAY)


@contextmanager
def market(**options: Any) -> Iterator[Served]:
    """The two symbols served from 11:00, with the exchange's ``options`` (plan, data_feed...)."""
    with serve(stepped(BARS, NOW, seed=SEED, **options)) as served:
        yield served


def bars(served: Served, feed: DataFeed | None, minutes: int = 60, ago: int = 0) -> dict:
    """The minute bars of the ``minutes`` before ``ago`` minutes ago, through alpaca-py."""
    end = NOW - timedelta(minutes=ago)
    request = StockBarsRequest(
        symbol_or_symbols=["SPY", "NOC"],
        timeframe=TimeFrame.Minute,
        start=end - timedelta(minutes=minutes),
        end=end,
        feed=feed,
    )
    return dict(served.data.get_stock_bars(request).data)


def starts(tape: dict[str, list[Any]], symbol: str, lo: int, hi: int) -> list[Any]:
    """Bar starts of ``symbol`` in the ``tape`` from ``lo`` to ``hi`` minutes before now."""
    first, last = NOW - timedelta(minutes=lo), NOW - timedelta(minutes=hi)
    return [b.timestamp for b in tape[symbol] if first <= b.timestamp <= last]


# ---------------------------------------------------------------- plans and feeds


def test_the_free_plan_refuses_recent_sip_data_with_alpacas_403() -> None:
    with market(plan="free", data_feed="sip") as served, pytest.raises(APIError) as refused:
        bars(served, DataFeed.SIP)

    assert refused.value.status_code == 403
    assert refused.value.message == "subscription does not permit querying recent SIP data"


def test_the_free_plan_serves_sip_data_older_than_15_minutes() -> None:
    with market(plan="free", data_feed="sip") as served:
        old = bars(served, DataFeed.SIP, minutes=30, ago=16)

    assert [b.timestamp for b in old["NOC"]] == starts(BARS, "NOC", 46, 16)


def test_iex_serves_the_seeded_thinning_of_the_consolidated_tape() -> None:
    with market(plan="free", data_feed="sip") as served:
        iex = bars(served, DataFeed.IEX)
        default = bars(served, None)

    noc = [b.timestamp for b in iex["NOC"]]
    assert noc == starts(IEX, "NOC", 60, 1)
    assert len(noc) < len(starts(BARS, "NOC", 60, 1))  # a thin stock: minutes without a bar
    assert [b.timestamp for b in default["NOC"]] == noc  # the free plan's best feed is IEX


def test_the_unlimited_plan_reads_recent_sip_data() -> None:
    with market(plan="unlimited", data_feed="sip") as served:
        sip = bars(served, DataFeed.SIP)
        default = bars(served, None)

    assert [b.timestamp for b in sip["NOC"]] == starts(BARS, "NOC", 60, 1)
    assert [b.timestamp for b in default["NOC"]] == starts(BARS, "NOC", 60, 1)


def test_data_that_already_is_iex_is_served_as_it_is_on_every_feed() -> None:
    with market(plan="unlimited", data_feed="iex") as served:
        iex = bars(served, DataFeed.IEX)

    assert [b.timestamp for b in iex["NOC"]] == starts(BARS, "NOC", 60, 1)


def test_bars_carry_a_trade_count_and_a_vwap_as_numbers() -> None:
    with market(plan="free", data_feed="sip") as served:
        answer = served.http.get(
            "/v2/stocks/bars",
            params={"symbols": "SPY", "timeframe": "1Min", "start": ny("10:50", DAY).isoformat()},
        ).json()

    first = answer["bars"]["SPY"][0]
    assert isinstance(first["n"], int) and first["n"] >= 1
    assert isinstance(first["vw"], float)


# ---------------------------------------------------------------- fills follow the account's tape


def first_gap(tape: dict[str, list[Any]], symbol: str) -> tuple[Any, Any]:
    """The first minute from now on without a bar of ``symbol``, and the next bar after it."""
    minute = NOW
    present = {b.timestamp: b for b in tape[symbol]}
    while minute in present:
        minute += timedelta(minutes=1)
    later = min(t for t in present if t > minute)
    return minute, present[later]


@pytest.mark.parametrize(("plan", "tape"), [("free", IEX), ("unlimited", BARS)])
def test_a_market_order_fills_at_the_next_bar_of_the_tape_the_plan_reads(
    plan: str, tape: dict[str, list[Any]]
) -> None:
    gap, next_bar = first_gap(IEX, "NOC")
    with market(plan=plan, data_feed="sip") as served:
        served.advance((gap - NOW) / timedelta(minutes=1))
        order = served.trading.submit_order(
            MarketOrderRequest(symbol="NOC", qty=1, side=OrderSide.BUY, time_in_force="day")
        )
        served.advance(10)
        done = served.trading.get_order_by_id(order.id)

    expected = next_bar if tape is IEX else {b.timestamp: b for b in BARS["NOC"]}[gap]
    assert (done.filled_at, Decimal(done.filled_avg_price)) == (
        max(expected.timestamp, gap),
        Decimal(str(expected.open)),
    )


# ---------------------------------------------------------------- rate limits


def test_every_answer_carries_the_rate_limit_headers() -> None:
    with market(rate_limit=50) as served:
        account = served.http.get("/v2/account")
        data = served.http.get("/v2/stocks/bars", params={"symbols": "SPY", "timeframe": "1Min"})

    reset = int((NOW.replace(second=0) + timedelta(minutes=1)).timestamp())
    for answer, remaining in ((account, "49"), (data, "49")):  # one budget per API
        assert answer.headers["X-RateLimit-Limit"] == "50"
        assert answer.headers["X-RateLimit-Remaining"] == remaining
        assert answer.headers["X-RateLimit-Reset"] == str(reset)


def test_the_clock_is_answered_beyond_the_limit_and_not_counted() -> None:
    # A bot following the simulated time over HTTP reads the clock to know the time.
    with market(rate_limit=1) as served:
        served.http.get("/v2/account")
        clock = served.http.get("/v2/clock")

    assert clock.status_code == 200
    assert clock.headers["X-RateLimit-Remaining"] == "0"


def test_beyond_the_limit_the_answer_is_429_with_alpacas_body_until_the_next_minute() -> None:
    with market(rate_limit=3) as served:
        for _ in range(3):
            assert served.http.get("/v2/account").status_code == 200
        refused = served.http.get("/v2/account")
        served.http.get("/v1/sim/state")  # the admin routes are neither counted nor limited
        served.advance(1)
        again = served.http.get("/v2/account")
        counted = served.http.get("/v1/sim/state").json()["rate_limited"]

    assert refused.status_code == 429
    assert refused.json() == {"code": 42910000, "message": "rate limit exceeded"}
    assert refused.headers["X-RateLimit-Remaining"] == "0"
    assert again.status_code == 200 and again.headers["X-RateLimit-Remaining"] == "2"
    assert counted == {"trading": 1}


def test_an_order_refused_by_the_rate_limit_never_reaches_the_exchange() -> None:
    with market(rate_limit=1) as served:
        served.http.get("/v2/account")
        served.trading._retry = 0  # alpaca-py would otherwise sleep and retry (the bot does this)
        with pytest.raises(APIError) as refused:
            served.trading.submit_order(
                MarketOrderRequest(
                    symbol="SPY", qty=1, side=OrderSide.BUY, time_in_force=TimeInForce.DAY
                )
            )
        state = served.http.get("/v1/sim/state").json()

    assert (refused.value.status_code, refused.value.code) == (429, 42910000)
    assert state["orders_submitted"] == 0 and state["client_order_id_submissions"] == {}


# ---------------------------------------------------------------- assets


def test_assets_carry_the_listing_venue_and_an_inactive_symbol_is_not_tradable() -> None:
    with market(inactive=("NOC",)) as served:
        spy = served.trading.get_asset("SPY")
        noc = served.trading.get_asset("NOC")
        active = served.http.get("/v2/assets", params={"status": "active"}).json()
        with pytest.raises(APIError) as refused:
            served.trading.submit_order(
                MarketOrderRequest(symbol="NOC", qty=1, side=OrderSide.BUY, time_in_force="day")
            )

    assert (spy.exchange, spy.status, spy.tradable, spy.shortable) == ("ARCA", "active", True, True)
    assert (noc.exchange, noc.status, noc.tradable) == ("NYSE", "inactive", False)
    assert [a["symbol"] for a in active] == ["SPY"]
    assert (refused.value.status_code, refused.value.message) == (422, "asset NOC is not active")
