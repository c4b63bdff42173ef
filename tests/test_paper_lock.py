"""Specification of the paper lock: paper or loopback only, whatever flags, URLs or clients say."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from typing import Any

import alpaca.trading.client
import pytest
import requests
from alpaca.trading.client import TradingClient
from hypothesis import given, settings
from hypothesis import strategies as st

from fleece.client_session import TimeoutHTTPAdapter
from fleece.config import Settings
from fleece.errors import ConfigError, LiveTradingRefused
from fleece.paper_lock import (
    DATA_URL,
    PAPER_TRADING_URL,
    Endpoints,
    apply_paper_lock,
    check_data_url,
    check_paper_flags,
    check_trading_url,
    is_loopback_url,
    make_data_client,
    make_trading_client,
    resolve_endpoints,
)

KEY, SECRET = "PKTESTKEY1234567890", "s3cr3t-s3cr3t-s3cr3t"

REFUSED_URLS = [
    "https://api.alpaca.markets",  # live
    "https://api.alpaca.markets/",
    "http://paper-api.alpaca.markets",  # paper host without TLS
    "https://paper-api.alpaca.markets:443",
    "https://paper-api.alpaca.markets:8443",
    "https://paper-api.alpaca.markets.",
    "https://paper-api.alpaca.markets/v2",
    "https://paper-api.alpaca.markets?x=1",
    "https://paper-api.alpaca.markets#frag",
    "https://paper-api.alpaca.markets.evil.com",
    "https://evil-paper-api.alpaca.markets",
    "https://paper-api.alpaca.markets@evil.com",
    "https://evil.com@paper-api.alpaca.markets",
    "https://user:pw@paper-api.alpaca.markets",
    "https://evil.com#@paper-api.alpaca.markets",
    "https://evil.com\\@paper-api.alpaca.markets",
    "https://paper-api.alpaca.markets%2eevil.com",
    "https://paper-api.alpaca.markets\n",
    " https://paper-api.alpaca.markets",
    "https://paper-api.alpaca.mаrkets",  # Cyrillic 'а'
    "https://data.alpaca.markets",  # the data API is not a trading API
    "https://broker-api.alpaca.markets",
    "paper-api.alpaca.markets",
    "//paper-api.alpaca.markets",
    "ftp://127.0.0.1",
    "ws://127.0.0.1:8765",
    "",
    "http://",
    "http://127.0.0.1.evil.com",
    "http://127.0.0.1.nip.io",
    "http://localhost.evil.com",
    "http://localhost.",
    "http://evil.localhost",
    "http://2130706433",  # 127.0.0.1 as a decimal integer
    "http://0x7f000001",
    "http://0x7f.0.0.1",
    "http://0177.0.0.1",  # octal
    "http://127.000.000.001",
    "http://127.1",
    "http://128.0.0.1",
    "http://0.0.0.0:8765",
    "http://10.0.0.1:8765",
    "http://[::ffff:127.0.0.1]:8765",  # IPv4-mapped IPv6
    "http://[::ffff:7f00:1]:8765",
    "http://[::1%25eth0]:8765",
    "http://[::2]:8765",
    "http://[::1",
    "http://127.0.0.1:99999",
    "http://127.0.0.1:0",
    "http://127.0.0.1:",
    "http://127.0.0.1:port",
    "http://127.0.0.1:8765/v2",
    "http://127.0.0.1:8765/../",
    "http://user@127.0.0.1:8765",
]

ACCEPTED_TRADING_URLS = {
    "https://paper-api.alpaca.markets": PAPER_TRADING_URL,
    "https://paper-api.alpaca.markets/": PAPER_TRADING_URL,
    "https://PAPER-API.alpaca.markets": PAPER_TRADING_URL,
    "http://127.0.0.1:8765": "http://127.0.0.1:8765",
    "http://127.0.0.1:8765/": "http://127.0.0.1:8765",
    "http://127.5.6.7:1": "http://127.5.6.7:1",
    "http://127.0.0.1": "http://127.0.0.1",
    "https://localhost:8443": "https://localhost:8443",
    "http://LocalHost:8765": "http://localhost:8765",
    "http://[::1]:8765": "http://[::1]:8765",
    "http://[0:0:0:0:0:0:0:1]:8765": "http://[0:0:0:0:0:0:0:1]:8765",
}


def settings_with(**values: Any) -> Settings:
    return Settings(**values)


# --------------------------------------------------------------------------- URLs


@pytest.mark.parametrize("url", REFUSED_URLS)
def test_trading_urls_other_than_paper_or_loopback_are_refused(url: str) -> None:
    with pytest.raises(LiveTradingRefused) as info:
        check_trading_url(url)

    assert "\n" not in str(info.value)


@pytest.mark.parametrize(("url", "expected"), ACCEPTED_TRADING_URLS.items())
def test_paper_and_loopback_trading_urls_are_accepted_in_canonical_form(
    url: str, expected: str
) -> None:
    assert check_trading_url(url) == expected


def test_the_live_url_refusal_says_it_is_live_and_what_to_use() -> None:
    with pytest.raises(LiveTradingRefused) as info:
        check_trading_url("https://api.alpaca.markets", source=".env", key="ALPACA_BASE_URL")

    assert (info.value.source, info.value.key) == (".env", "ALPACA_BASE_URL")
    assert "LIVE" in info.value.reason
    assert PAPER_TRADING_URL in info.value.reason


def test_a_refusal_never_prints_credentials_from_the_url() -> None:
    with pytest.raises(LiveTradingRefused) as info:
        check_trading_url("https://PKLEAK:supersecret@paper-api.alpaca.markets")

    assert "supersecret" not in str(info.value)
    assert "PKLEAK" not in str(info.value)


def test_the_live_refusal_is_a_config_error() -> None:
    with pytest.raises(ConfigError):
        check_trading_url("https://api.alpaca.markets")


@pytest.mark.parametrize(
    "url",
    [
        "https://api.alpaca.markets",
        "https://paper-api.alpaca.markets",
        "http://data.alpaca.markets",
        "https://data.alpaca.markets.evil.com",
        "https://data.sandbox.alpaca.markets",
        "http://2130706433",
    ],
)
def test_data_urls_other_than_alpaca_data_or_loopback_are_refused(url: str) -> None:
    with pytest.raises(LiveTradingRefused):
        check_data_url(url)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://data.alpaca.markets", DATA_URL),
        ("https://data.alpaca.markets/", DATA_URL),
        ("http://127.0.0.1:8765", "http://127.0.0.1:8765"),
        ("http://[::1]:9000/", "http://[::1]:9000"),
    ],
)
def test_alpaca_data_and_loopback_data_urls_are_accepted(url: str, expected: str) -> None:
    assert check_data_url(url) == expected


@settings(max_examples=300, deadline=None)
@given(
    url=st.one_of(
        st.text(max_size=40),
        st.builds(
            "{}://{}{}".format,
            st.sampled_from(["http", "https", "HTTP", "ftp"]),
            st.text(alphabet="0123456789.:[]abcdefx@%-", max_size=24),
            st.sampled_from(["", "/", ":8765", "/v2"]),
        ),
    )
)
def test_any_accepted_trading_url_is_paper_or_loopback(url: str) -> None:
    try:
        checked = check_trading_url(url)
    except LiveTradingRefused:
        return
    assert checked == PAPER_TRADING_URL or is_loopback_url(checked)


# --------------------------------------------------------------------------- flags, endpoints


def test_alpaca_paper_false_is_refused() -> None:
    with pytest.raises(LiveTradingRefused) as info:
        check_paper_flags(settings_with(alpaca_paper=False))

    assert info.value.key == "ALPACA_PAPER"
    assert "live trading cannot be enabled" in info.value.reason


def test_allow_live_trading_true_is_refused() -> None:
    with pytest.raises(LiveTradingRefused) as info:
        check_paper_flags(settings_with(allow_live_trading=True))

    assert info.value.key == "ALLOW_LIVE_TRADING"


def test_both_live_flags_are_refused_too() -> None:
    with pytest.raises(LiveTradingRefused):
        apply_paper_lock(settings_with(alpaca_paper=False, allow_live_trading=True))


def test_paper_flags_pass() -> None:
    check_paper_flags(settings_with(alpaca_paper=True, allow_live_trading=False))


def test_default_endpoints_are_alpaca_py_paper_defaults() -> None:
    assert resolve_endpoints(settings_with()) == Endpoints(None, None, local=False)


def test_a_paper_override_is_kept() -> None:
    endpoints = resolve_endpoints(
        settings_with(alpaca_base_url="https://paper-api.alpaca.markets/")
    )

    assert endpoints == Endpoints(PAPER_TRADING_URL, None, local=False)


def test_a_loopback_trading_url_also_serves_market_data() -> None:
    endpoints = resolve_endpoints(settings_with(alpaca_base_url="http://127.0.0.1:8765"))

    assert endpoints == Endpoints("http://127.0.0.1:8765", "http://127.0.0.1:8765", local=True)


def test_an_explicit_data_url_is_kept_beside_a_loopback_trading_url() -> None:
    endpoints = resolve_endpoints(
        settings_with(alpaca_base_url="http://127.0.0.1:8765", alpaca_data_url=DATA_URL)
    )

    assert endpoints.data_url == DATA_URL


def test_sim_mode_is_local_and_leaves_the_urls_to_the_runtime() -> None:
    assert resolve_endpoints(settings_with(fleece_mode="sim")) == Endpoints(None, None, local=True)


def test_sim_mode_still_refuses_a_live_override() -> None:
    with pytest.raises(LiveTradingRefused):
        resolve_endpoints(
            settings_with(fleece_mode="sim", alpaca_base_url="https://api.alpaca.markets")
        )


def test_a_bad_data_override_is_refused_naming_its_variable() -> None:
    with pytest.raises(LiveTradingRefused) as info:
        resolve_endpoints(settings_with(alpaca_data_url="https://evil.example"))

    assert info.value.key == "ALPACA_DATA_URL"


# --------------------------------------------------------------------------- clients


def base_url_of(client: Any) -> str:
    base = client._base_url
    return str(getattr(base, "value", base))


def test_the_trading_client_defaults_to_the_paper_api() -> None:
    client = make_trading_client(KEY, SECRET, None)

    assert base_url_of(client) == PAPER_TRADING_URL
    assert client._sandbox is True


def test_the_trading_client_accepts_a_loopback_url() -> None:
    client = make_trading_client(KEY, SECRET, "http://127.0.0.1:8765/")

    assert base_url_of(client) == "http://127.0.0.1:8765"


@pytest.mark.parametrize("url", ["https://api.alpaca.markets", "http://[::ffff:127.0.0.1]:1"])
def test_the_trading_client_refuses_a_non_paper_url(url: str) -> None:
    with pytest.raises(LiveTradingRefused):
        make_trading_client(KEY, SECRET, url)


def test_the_trading_client_is_refused_if_alpaca_py_resolves_a_live_url(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    class DriftedClient(TradingClient):
        """As if a future alpaca-py ignored paper=True."""

        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self._base_url = "https://api.alpaca.markets"

    monkeypatch.setattr(alpaca.trading.client, "TradingClient", DriftedClient)

    with pytest.raises(LiveTradingRefused) as info:
        make_trading_client(KEY, SECRET, None)

    assert info.value.source == "alpaca-py"


def test_clients_can_return_raw_json() -> None:
    trading = make_trading_client(KEY, SECRET, None, raw_data=True)
    data = make_data_client(KEY, SECRET, None, raw_data=True)

    assert trading._use_raw_data and data._use_raw_data


def test_the_data_client_defaults_to_alpaca_data() -> None:
    assert base_url_of(make_data_client(KEY, SECRET, None)) == DATA_URL


def test_the_data_client_accepts_a_loopback_url() -> None:
    assert base_url_of(make_data_client(KEY, SECRET, "http://localhost:8765")) == (
        "http://localhost:8765"
    )


def test_the_data_client_refuses_other_urls() -> None:
    with pytest.raises(LiveTradingRefused):
        make_data_client(KEY, SECRET, "https://data.alpaca.markets.evil.com")


@pytest.mark.parametrize(("key", "secret"), [("", SECRET), (KEY, ""), ("  ", SECRET)])
def test_clients_refuse_empty_keys(key: str, secret: str) -> None:
    with pytest.raises(ConfigError):
        make_trading_client(key, secret, None)


def test_clients_mount_the_timeout_adapter_for_http_and_https() -> None:
    client = make_trading_client(KEY, SECRET, None, timeout=3.0)

    for prefix in ("http://", "https://"):
        adapter = client._session.get_adapter(prefix + "example")
        assert isinstance(adapter, TimeoutHTTPAdapter)
        assert adapter.timeout == 3.0


@pytest.mark.parametrize("timeout", [0.0, -1.0, float("inf"), float("nan")])
def test_the_timeout_must_be_a_positive_number(timeout: float) -> None:
    with pytest.raises(ValueError, match="timeout"):
        TimeoutHTTPAdapter(timeout)


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A loopback server that accepts connections and never answers."""
    server = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.05)
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    stop.set()
    thread.join()
    for conn in accepted:
        conn.close()
    server.close()


def test_a_silent_server_makes_a_call_time_out_instead_of_hanging(silent_server: str) -> None:
    client = make_trading_client(KEY, SECRET, silent_server, timeout=0.2)

    with pytest.raises(requests.exceptions.Timeout):
        client.get_clock()
