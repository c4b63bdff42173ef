"""Which market-data feeds exist is one fact: Alpaca's two real-time tapes, ``iex`` and ``sip``.

The config's ``data.feed`` may name either and nothing else, the built-in exchange models a tape
for each, and the README and the exchange's page name the same two.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest
from pydantic import ValidationError

from fleece.config import TradingConfig
from fleece.errors import ConfigError
from fleece.exchange import build_exchange
from fleece.models import FEEDS

REPO = Path(__file__).resolve().parents[1]


def _config(feed: str) -> TradingConfig:
    """The seed's trading config for SPY reading ``feed``."""
    return TradingConfig.model_validate({"symbols": {"list": ["SPY"]}, "data": {"feed": feed}})


def test_the_feeds_are_alpacas_two_real_time_tapes() -> None:
    assert FEEDS == ("iex", "sip")


@pytest.mark.parametrize("feed", FEEDS)
def test_the_config_reads_every_feed(feed: str) -> None:
    assert _config(feed).data.feed == feed


@pytest.mark.parametrize("feed", ["delayed_sip", "otc", "IEX"])
def test_the_config_refuses_any_other_feed(feed: str) -> None:
    with pytest.raises(ValidationError) as refused:
        _config(feed)

    assert [error["loc"] for error in refused.value.errors()] == [("data", "feed")]


@pytest.mark.parametrize("feed", FEEDS)
def test_the_exchange_takes_bars_of_every_feed_and_serves_a_tape_for_each(feed: str) -> None:
    exchange = build_exchange(
        ["SPY"], synthetic=True, start=date(2024, 1, 2), days=1, data_feed=feed
    )

    assert set(exchange.tapes) == set(FEEDS)


def test_the_exchange_refuses_bars_of_another_feed_naming_the_feeds() -> None:
    with pytest.raises(ConfigError, match="data_feed: must be one of iex, sip; got 'otc'"):
        build_exchange(["SPY"], synthetic=True, start=date(2024, 1, 2), days=1, data_feed="otc")


def test_the_readme_names_the_feeds_data_feed_takes() -> None:
    stated = re.search(
        r"`data\.feed` is `(\w+)` \(a free plan\) or `(\w+)`", (REPO / "README.md").read_text()
    )

    assert stated and stated.groups() == FEEDS


def test_the_exchange_page_names_the_feeds_its_bars_may_be() -> None:
    page = (REPO / "docs" / "exchange.md").read_text()
    stated = re.search(r"`--data-feed ([\w\\|]+)`", page)

    assert stated and sorted(stated[1].split("\\|")) == sorted(FEEDS)
