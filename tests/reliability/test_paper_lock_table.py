"""Specification of the paper lock, table-driven: no setting reaches a live or remote endpoint.

Every combination of ALPACA_PAPER, ALLOW_LIVE_TRADING, FLEECE_MODE, ALPACA_BASE_URL and
ALPACA_DATA_URL goes through the bot's own start-up path (``load_config`` then the runtime's
``_build_broker``, which builds the real alpaca-py clients). Either the configuration is refused,
or both clients point at Alpaca's paper/data API or a loopback address. A socket guard fails the
test if anything tries to connect anywhere but loopback meanwhile.
"""

from __future__ import annotations

import itertools
import socket
from collections import Counter
from collections.abc import Iterator
from enum import Enum
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlsplit

import pytest

from fleece import runtime_broker
from fleece.clock import SystemClock
from fleece.config import load_config
from fleece.errors import ConfigError, LiveTradingRefused
from fleece.paper_lock import DATA_URL, PAPER_TRADING_URL, is_loopback_host
from fleece.runtime import Bot

UNSET = None
PAPER_FLAGS = (UNSET, "true", "false", "0", "yes")
LIVE_FLAGS = (UNSET, "false", "true", "1")
MODES = (UNSET, "paper", "sim", "live", "LIVE")
BASE_URLS = (
    UNSET,
    PAPER_TRADING_URL,
    "https://api.alpaca.markets",  # live
    "https://api.alpaca.markets/",
    "http://127.0.0.1:8765",
    "http://localhost:8765",
    "http://[::1]:8765",
    "https://paper-api.alpaca.markets.evil.example",
    "http://127.0.0.1.nip.io:8765",
    "http://user@api.alpaca.markets",
    "http://[::ffff:127.0.0.1]:8765",
    "http://2130706433:8765",
    "https://paper-api.alpaca.markets/v2/../../",
)
DATA_URLS = (
    UNSET,
    DATA_URL,
    "http://127.0.0.1:8765",
    "https://data.alpaca.markets.evil.example",
    "https://api.alpaca.markets",
)
SAFE_HOSTS = {urlsplit(PAPER_TRADING_URL).hostname, urlsplit(DATA_URL).hostname}
COMBINATIONS = list(itertools.product(PAPER_FLAGS, LIVE_FLAGS, MODES, BASE_URLS, DATA_URLS))


@pytest.fixture
def only_loopback(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Any]]:
    """Refuse (and record) any connection that is not to a loopback address."""
    attempts: list[Any] = []
    real_connect = socket.socket.connect

    def guarded(self: socket.socket, address: Any) -> Any:
        host = address[0] if isinstance(address, tuple) else str(address)
        if not is_loopback_host(str(host)):
            attempts.append(address)
            raise ConnectionRefusedError(f"test guard: {address!r} is not loopback")
        return real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)
    yield attempts


def environment(
    paper: str | None, live: str | None, mode: str | None, base: str | None, data: str | None
) -> dict[str, str]:
    env = {
        "ALPACA_API_KEY": "PKTESTTESTTESTTEST",
        "ALPACA_SECRET_KEY": "secretsecretsecretsecretsecret",
        "DASHBOARD_ENABLED": "false",
    }
    for name, value in (
        ("ALPACA_PAPER", paper),
        ("ALLOW_LIVE_TRADING", live),
        ("FLEECE_MODE", mode),
        ("ALPACA_BASE_URL", base),
        ("ALPACA_DATA_URL", data),
    ):
        if value is not None:
            env[name] = value
    return env


def base_of(client: Any) -> str:
    base = client._base_url
    return str(base.value if isinstance(base, Enum) else base)


def safe(url: str) -> bool:
    parts = urlsplit(url)
    host = parts.hostname or ""
    if host in SAFE_HOSTS:
        return parts.scheme == "https" and parts.port is None
    return is_loopback_host(host)


def where_the_bot_points(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The base URLs of the clients the bot builds for ``env`` (raises when refused)."""
    config = load_config(None, env)
    bot = Bot(config, install_signal_handlers=False)
    # Sim mode starts the built-in exchange on a loopback port; stand in its URL.
    exchange, server = SimpleNamespace(clock=SystemClock()), SimpleNamespace(stop=lambda: None)
    monkeypatch.setattr(
        runtime_broker,
        "start_sim_exchange",
        lambda config, key, secret: (exchange, server, "http://127.0.0.1:9"),
    )
    broker = bot._build_broker()
    return [base_of(broker._trading), base_of(broker._data)]


def test_no_combination_of_settings_reaches_a_live_or_remote_endpoint(
    monkeypatch: pytest.MonkeyPatch, only_loopback: list[Any]
) -> None:
    outcomes: Counter[str] = Counter()
    unsafe: list[tuple[Any, ...]] = []
    for combination in COMBINATIONS:
        paper, live, mode, _base, _data = combination
        env = environment(*combination)
        try:
            urls = where_the_bot_points(env, monkeypatch)
        except LiveTradingRefused:
            outcomes["refused: live trading"] += 1
            continue
        except ConfigError:
            outcomes["refused: invalid"] += 1
            continue
        outcomes["accepted"] += 1
        if not all(safe(url) for url in urls):
            unsafe.append((combination, urls))
        if paper in ("false", "0") or live in ("true", "1") or (mode or "").lower() == "live":
            unsafe.append((combination, "a live flag was accepted"))

    assert unsafe == []
    assert only_loopback == []
    assert outcomes["accepted"] > 0 and outcomes["refused: live trading"] > 0
    assert sum(outcomes.values()) == len(COMBINATIONS)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("ALPACA_PAPER", "false"),
        ("ALLOW_LIVE_TRADING", "true"),
        ("FLEECE_MODE", "live"),
        ("ALPACA_BASE_URL", "https://api.alpaca.markets"),
    ],
)
def test_each_live_setting_alone_is_refused_naming_it(name: str, value: str) -> None:
    with pytest.raises(LiveTradingRefused) as refused:
        load_config(None, {**environment(None, None, None, None, None), name: value})
    assert name in str(refused.value)
    assert "\n" not in str(refused.value)


def test_the_sim_mode_exchange_binds_loopback_only() -> None:
    from fleece.exchange.server import ExchangeServer

    with pytest.raises(ValueError, match="loopback"):
        ExchangeServer(object(), "k", "s", host="0.0.0.0")  # type: ignore[arg-type]
