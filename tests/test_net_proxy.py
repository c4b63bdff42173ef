"""Which proxy carries the broker's traffic: never one for loopback or plain HTTP, a CONNECT
tunnel to Alpaca's HTTPS APIs, and ``fleece config check`` says which (never its password)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fleece.cli_config import config_app
from fleece.errors import ConfigError
from fleece.net_proxy import route_for
from fleece.paper_lock import DATA_URL, PAPER_TRADING_URL, make_data_client, make_trading_client
from startup_helpers import bot_directory

REPO = Path(__file__).resolve().parents[1]
KEY, SECRET = "PKPROXYTESTKEY000000", "proxy-test-secret-0000000000000000000000"
LOOPBACK = "http://127.0.0.1:8765"
PROXY = "http://proxy.example:3128"
ALL_PROXY_NAMES = (
    "http_proxy",
    "HTTP_PROXY",
    "https_proxy",
    "HTTPS_PROXY",
    "all_proxy",
    "ALL_PROXY",
    "no_proxy",
    "NO_PROXY",
)
EVERY_PROXY = {name: PROXY for name in ALL_PROXY_NAMES if "no_" not in name.lower()}


@pytest.fixture
def no_proxy_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """A process environment without any proxy variable."""
    for name in ALL_PROXY_NAMES:
        monkeypatch.delenv(name, raising=False)


# ----------------------------------------------------------------------------- the rules


def test_loopback_is_never_proxied_whatever_the_environment_says() -> None:
    route = route_for(LOOPBACK, loopback=True, environ=EVERY_PROXY)

    assert route.proxy is None and "loopback" in route.shown


def test_plain_http_is_never_handed_to_a_proxy() -> None:
    route = route_for("http://paper-api.alpaca.markets", loopback=False, environ=EVERY_PROXY)

    assert route.proxy is None and "plain HTTP" in route.shown


@pytest.mark.parametrize(
    ("environ", "chosen"),
    [
        ({"HTTPS_PROXY": "http://upper:1"}, "HTTPS_PROXY"),
        ({"https_proxy": "http://lower:1", "HTTPS_PROXY": "http://upper:1"}, "https_proxy"),
        ({"ALL_PROXY": "http://all:1"}, "ALL_PROXY"),
        ({"all_proxy": "http://all:1", "HTTPS_PROXY": "http://https:1"}, "HTTPS_PROXY"),
    ],
)
def test_alpacas_https_apis_take_the_https_proxy_lower_case_first_then_all_proxy(
    environ: dict[str, str], chosen: str
) -> None:
    route = route_for(PAPER_TRADING_URL, loopback=False, environ=environ)

    assert (route.variable, route.proxy) == (chosen, environ[chosen])


def test_http_proxy_alone_is_for_plain_http_so_alpaca_is_reached_directly() -> None:
    route = route_for(PAPER_TRADING_URL, loopback=False, environ={"HTTP_PROXY": PROXY})

    assert route.proxy is None


@pytest.mark.parametrize(
    "no_proxy", ["*", "paper-api.alpaca.markets", ".alpaca.markets", "x.org, alpaca.markets:443"]
)
def test_no_proxy_names_the_host_a_parent_domain_or_everything(no_proxy: str) -> None:
    route = route_for(
        PAPER_TRADING_URL, loopback=False, environ={"HTTPS_PROXY": PROXY, "NO_PROXY": no_proxy}
    )

    assert route.proxy is None and "NO_PROXY" in route.shown


@pytest.mark.parametrize("no_proxy", ["alpaca.markets.evil", "markets:8443", "api.alpaca"])
def test_no_proxy_entries_that_do_not_name_the_host_leave_the_proxy(no_proxy: str) -> None:
    route = route_for(
        PAPER_TRADING_URL, loopback=False, environ={"HTTPS_PROXY": PROXY, "NO_PROXY": no_proxy}
    )

    assert route.proxy == PROXY


def test_a_proxy_without_a_scheme_is_an_http_proxy() -> None:
    route = route_for(PAPER_TRADING_URL, loopback=False, environ={"HTTPS_PROXY": "proxy:3128"})

    assert route.proxy == "http://proxy:3128"


@pytest.mark.parametrize("proxy", ["socks5://u:pw@proxy:1080", "ftp://proxy", "http://"])
def test_a_proxy_that_cannot_tunnel_tls_is_refused_naming_the_variable(proxy: str) -> None:
    with pytest.raises(ConfigError) as refused:
        route_for(PAPER_TRADING_URL, loopback=False, environ={"ALL_PROXY": proxy})

    assert refused.value.key == "ALL_PROXY" and "CONNECT" in refused.value.reason
    assert "pw" not in str(refused.value)


# ----------------------------------------------------------------------------- the clients


def test_a_loopback_client_ignores_every_proxy_variable(
    monkeypatch: pytest.MonkeyPatch, no_proxy_env: None
) -> None:
    for name, value in EVERY_PROXY.items():
        monkeypatch.setenv(name, value)

    trading = make_trading_client(KEY, SECRET, LOOPBACK)
    data = make_data_client(KEY, SECRET, LOOPBACK)

    for client in (trading, data):
        assert client._session.trust_env is False
        assert client._session.proxies == {}


def test_alpacas_clients_pin_the_https_proxy_and_stop_reading_the_environment(
    monkeypatch: pytest.MonkeyPatch, no_proxy_env: None
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", PROXY)

    trading = make_trading_client(KEY, SECRET, None)
    data = make_data_client(KEY, SECRET, None)

    for client in (trading, data):
        assert client._session.trust_env is False  # no later variable, no ~/.netrc, no CA file
        assert client._session.proxies == {"https": PROXY}


def test_the_proxy_in_use_is_logged_once_per_client_without_its_credentials(
    monkeypatch: pytest.MonkeyPatch, no_proxy_env: None, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("https_proxy", "http://bob:hunter2@proxy.example:3128")

    with caplog.at_level(logging.INFO, logger="fleece"):
        make_trading_client(KEY, SECRET, None)

    lines = [r.getMessage() for r in caplog.records]
    assert lines == [
        f"broker traffic to {PAPER_TRADING_URL} goes through the proxy http://***@proxy.example"
        ":3128 (from https_proxy; a CONNECT tunnel: the keys stay inside TLS to Alpaca)"
    ]


# ----------------------------------------------------------------------------- config check


@pytest.fixture
def bot_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_proxy_env: None) -> Path:
    """A bot directory with the committed trading.yaml and no ambient fleece variables."""
    committed = (REPO / "config" / "trading.yaml").read_text()
    return bot_directory(tmp_path, monkeypatch, committed, at="config/trading.yaml")


def check(env: dict[str, str]) -> tuple[int, str, str]:
    result = CliRunner().invoke(config_app, ["check"], env={"COLUMNS": "300", **env})
    return result.exit_code, result.stdout, result.stderr


def test_config_check_shows_the_proxy_the_paper_api_would_use_without_its_password(
    bot_dir: Path,
) -> None:
    env = {"ALPACA_API_KEY": KEY, "ALPACA_SECRET_KEY": SECRET}
    code, out, err = check({**env, "HTTPS_PROXY": "http://bob:hunter2@proxy.example:3128"})

    assert code == 0, err
    assert f"trading {PAPER_TRADING_URL}: proxy http://***@proxy.example:3128" in out
    assert f"data {DATA_URL}: proxy http://***@proxy.example:3128 (from HTTPS_PROXY" in out
    assert "hunter2" not in out and "bob" not in out


def test_config_check_says_the_built_in_exchange_takes_no_proxy(bot_dir: Path) -> None:
    code, out, _ = check({"FLEECE_MODE": "sim", **EVERY_PROXY})

    assert code == 0
    assert "the built-in exchange: proxy none (loopback is always reached directly)" in out


def test_config_check_refuses_a_socks_proxy_for_the_paper_api_in_one_line(bot_dir: Path) -> None:
    env = {"ALPACA_API_KEY": KEY, "ALPACA_SECRET_KEY": SECRET, "HTTPS_PROXY": "socks5://p:1080"}

    code, _, err = check(env)

    assert code == 2
    assert err.startswith("error: environment: HTTPS_PROXY: 'socks5://p:1080' cannot carry")
    assert err.count("\n") == 1


def test_a_proxy_named_in_dotenv_is_not_used_only_the_process_environment_counts(
    bot_dir: Path,
) -> None:
    (bot_dir / ".env").write_text(
        f"ALPACA_API_KEY={KEY}\nALPACA_SECRET_KEY={SECRET}\nHTTPS_PROXY={PROXY}\n",
        encoding="utf-8",
    )

    code, out, err = check({})

    assert code == 0, err
    assert "proxy none (no HTTPS_PROXY or ALL_PROXY in the environment)" in out
