"""Specification of the bar feed in the running bot: one request per poll, pages, bad bars.

Counted where it matters, at the exchange: its per-route request counters see every HTTP
request alpaca-py makes, pages included.
"""

from __future__ import annotations

import asyncio
import logging
import math
import re
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from runtime_helpers import (
    ny,
    query,
    scenario_files,
    stepped_bot,
    stepped_market,
    stepped_market_of,
    synthetic,
)

from fleece.broker import Broker
from fleece.clock import ManualClock
from fleece.config import load_trading_config
from fleece.models import Bar
from fleece.stream_polling import BarPoller

BARS_ROUTE = "GET /v2/stocks/bars"
SKIP_LINE = re.compile(r"^bad bar skipped symbol=(?P<symbol>\S+) .*reason=(?P<reason>\S+)")
ALPACA_PAGE = 10_000  # alpaca-py asks for pages of 10,000 bars
# The seed's 31 symbols, as the shipped config/trading.yaml lists them.
SEED_SYMBOLS = load_trading_config(Path(__file__).parents[2] / "config" / "trading.yaml").tickers


def _bars_requests_per_poll(tmp_path: Path, symbols: Sequence[str], polls: int) -> float:
    paths = scenario_files(tmp_path / f"n{len(symbols)}", symbols)

    async def scenario() -> float:
        with stepped_market_of(symbols, ny("09:30")) as market:
            harness = await stepped_bot(paths, market)
            before = market.requests(BARS_ROUTE)
            await harness.step(polls)
            after = market.requests(BARS_ROUTE)
            await harness.stop()
            # A retried request would count twice at the exchange; say so if it happened.
            assert harness.bot.broker is not None and not harness.bot.broker.errors
            return (after - before) / harness.cycles

    return asyncio.run(scenario())


def test_one_bars_request_per_poll_for_31_symbols_as_for_2(tmp_path: Path) -> None:
    assert len(SEED_SYMBOLS) == 31
    per_poll = {n: _bars_requests_per_poll(tmp_path, SEED_SYMBOLS[:n], polls=4) for n in (2, 31)}

    assert per_poll == {2: 1.0, 31: 1.0}


def test_a_symbol_without_any_bar_does_not_make_each_poll_fetch_the_history_again(
    tmp_path: Path,
) -> None:
    # One configured ticker has no bar at all (renamed, delisted, not on IEX): the others' bars
    # must still come one minute at a time, in one request per poll.
    traded = [s for s in SEED_SYMBOLS if s != "GOLD"]
    paths = scenario_files(tmp_path, SEED_SYMBOLS)

    async def scenario() -> tuple[float, int, dict[str, int]]:
        with stepped_market_of(traded, ny("09:30")) as market:
            harness = await stepped_bot(paths, market)
            before = market.requests(BARS_ROUTE)
            bars_before = harness.bot.stats.bars
            await harness.step(3)
            per_poll = (market.requests(BARS_ROUTE) - before) / harness.cycles
            bars = harness.bot.stats.bars - bars_before
            await harness.stop()
            errors = dict(harness.bot.broker.errors) if harness.bot.broker else {}
            return per_poll, bars, errors

    per_poll, bars, errors = asyncio.run(scenario())

    assert per_poll == 1.0, f"retried after errors: {errors}"
    assert bars == 3 * len(traded)


def test_warmup_backfill_follows_next_page_token_until_every_bar_is_in(tmp_path: Path) -> None:
    paths = scenario_files(tmp_path, SEED_SYMBOLS)
    bars = synthetic(SEED_SYMBOLS)
    start = ny("12:00")  # the whole first session and the second one's morning are history
    history = sum(1 for series in bars.values() for b in series if b.timestamp < start)

    async def scenario() -> tuple[int, int, int]:
        with stepped_market(bars, start) as market:
            harness = await stepped_bot(paths, market)
            pages = market.requests(BARS_ROUTE)
            polls = harness.bot.broker.requests["get_stock_bars"] if harness.bot.broker else 0
            await harness.stop()
        stored = int(query(paths.db, "SELECT COUNT(*) FROM bars")[0][0])
        return pages, polls, stored

    pages, polls, stored = asyncio.run(scenario())

    assert history > ALPACA_PAGE  # more than one page
    # One request for the warm-up (all its pages) after the start-up's one-page feed probe.
    assert (polls, pages) == (2, 1 + math.ceil(history / ALPACA_PAGE))
    assert stored == history


def _spoiled(bars: dict[str, list[Bar]], symbol: str, at: datetime, **change: Any) -> None:
    series = bars[symbol]
    index = next(i for i, b in enumerate(series) if b.timestamp == at)
    series[index] = replace(series[index], **change)


def test_bad_bars_from_the_exchange_are_skipped_with_a_warning_and_the_bot_keeps_going(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    paths = scenario_files(tmp_path, ["AAPL", "MSFT"])
    bars = synthetic(["AAPL", "MSFT"])
    _spoiled(bars, "AAPL", ny("09:32"), high=1.0, low=2.0)
    _spoiled(bars, "MSFT", ny("09:33"), close=0.0)
    _spoiled(bars, "AAPL", ny("09:34"), volume=-5)

    async def scenario() -> int:
        with stepped_market(bars, ny("09:30")) as market:
            harness = await stepped_bot(paths, market, KILL_SWITCH="true")
            await harness.step(10)
            return await harness.stop()

    with caplog.at_level(logging.WARNING, logger="fleece"):
        code = asyncio.run(scenario())

    skipped = {
        (m["symbol"], m["reason"])
        for r in caplog.records
        if (m := SKIP_LINE.search(r.getMessage())) is not None
    }
    stored = query(
        paths.db,
        "SELECT symbol, timestamp_utc FROM bars WHERE timestamp_utc >= ? ORDER BY timestamp_utc",
        (ny("09:30").isoformat().replace("+00:00", "Z"),),
    )
    kept = {(r[0], datetime.fromisoformat(r[1].replace("Z", "+00:00"))) for r in stored}
    assert code == 0
    assert skipped == {
        ("AAPL", "high_below_low"),
        ("MSFT", "non_positive_price"),
        ("AAPL", "negative_volume"),
    }
    assert ("AAPL", ny("09:32")) not in kept and ("MSFT", ny("09:33")) not in kept
    assert {("AAPL", ny("09:38")), ("MSFT", ny("09:38"))} <= kept


def test_bars_closed_after_the_bots_own_now_wait_for_the_next_poll_without_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # The exchange's clock is ahead of the bot's (a fast simulated exchange, or clock skew):
    # its 10:00 bar is closed over there, still running by the bot's clock.
    bot_clock = ManualClock(ny("10:00") + timedelta(seconds=30))
    with stepped_market_of(["AAPL", "MSFT"], ny("10:01") + timedelta(seconds=10)) as m:
        poller = BarPoller(m.broker(), bot_clock, ["AAPL", "MSFT"])
        with caplog.at_level(logging.WARNING, logger="fleece"):
            first = asyncio.run(poller.poll(ny("09:50")))
            bot_clock.set(ny("10:01") + timedelta(seconds=5))
            second = asyncio.run(poller.poll(ny("09:50")))

    assert {b.timestamp for b in first} == {ny("09:50") + timedelta(minutes=i) for i in range(10)}
    assert [(b.symbol, b.timestamp) for b in second] == [
        ("AAPL", ny("10:00")),
        ("MSFT", ny("10:00")),
    ]
    assert [r.getMessage() for r in caplog.records] == []


# ---- pure parsing: raw JSON the feed might send, through the broker adapter and the poller


class _Client:
    """Stands in for an alpaca-py client returning raw JSON (parsing only, no exchange)."""

    def __init__(self, bars: dict[str, Any]) -> None:
        self._bars = bars
        self._retry = 3

    def get_stock_bars(self, request: object) -> dict[str, Any]:
        return self._bars


def test_unparseable_bars_are_skipped_with_their_reason_and_the_good_ones_kept(
    caplog: pytest.LogCaptureFixture,
) -> None:
    t0 = datetime(2024, 11, 26, 14, 30, tzinfo=UTC)

    def raw(minute: int, **values: Any) -> dict[str, Any]:
        stamp = (t0 + timedelta(minutes=minute)).isoformat().replace("+00:00", "Z")
        return {"t": stamp, "o": 10.0, "h": 10.5, "l": 9.5, "c": 10.2, "v": 100} | values

    feed = {
        "AAPL": [raw(0), raw(1, o=float("nan")), raw(2, c=None), raw(3, v="lots"), raw(4)],
        "MSFT": "not a list",
        "SPY": [raw(0, t="2024-11-26T14:30:00"), raw(1, h=float("inf")), ["wrong"], raw(2)],
    }
    client = _Client(feed)
    poller = BarPoller(
        Broker(client, client), ManualClock(t0 + timedelta(minutes=10)), ["AAPL", "MSFT", "SPY"]
    )

    with caplog.at_level(logging.WARNING, logger="fleece"):
        kept = asyncio.run(poller.poll(t0))

    assert [(b.symbol, b.timestamp) for b in kept] == [
        ("AAPL", t0),
        ("SPY", t0 + timedelta(minutes=2)),
        ("AAPL", t0 + timedelta(minutes=4)),
    ]
    assert poller.skipped == {
        "nan_price": 1,
        "missing_field": 1,
        "wrong_type": 2,
        "not_a_list": 1,
        "naive_timestamp": 1,
        "infinite_price": 1,
    }
    assert sum(r.msg.startswith("bad bar skipped") for r in caplog.records) == 7
