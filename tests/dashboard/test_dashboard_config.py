"""DASHBOARD_ENABLED, DASHBOARD_HOST, DASHBOARD_PORT and the token a public address requires."""

from __future__ import annotations

import pytest

from fleece.config import load_settings
from fleece.errors import ConfigError

TOKEN = "a-long-random-dashboard-token"


def test_the_dashboard_is_on_and_local_by_default() -> None:
    settings = load_settings(None, {})

    assert settings.dashboard_enabled is True
    assert (settings.dashboard_host, settings.dashboard_port) == ("127.0.0.1", 8080)
    assert settings.dashboard_token is None


def test_a_public_address_without_a_token_is_refused_naming_the_setting() -> None:
    with pytest.raises(ConfigError) as refused:
        load_settings(None, {"DASHBOARD_HOST": "0.0.0.0"})

    assert (refused.value.source, refused.value.key) == ("environment", "DASHBOARD_HOST")
    assert "requires DASHBOARD_TOKEN" in refused.value.reason


def test_a_public_address_with_a_token_is_accepted() -> None:
    settings = load_settings(None, {"DASHBOARD_HOST": "0.0.0.0", "DASHBOARD_TOKEN": TOKEN})

    assert settings.dashboard_host == "0.0.0.0"


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1", "127.0.0.2", "::1"])
def test_loopback_addresses_need_no_token(host: str) -> None:
    assert load_settings(None, {"DASHBOARD_HOST": host}).dashboard_host == host


def test_a_disabled_dashboard_binds_nothing_so_needs_no_token() -> None:
    settings = load_settings(None, {"DASHBOARD_HOST": "0.0.0.0", "DASHBOARD_ENABLED": "false"})

    assert settings.dashboard_enabled is False


def test_port_zero_picks_a_free_port_and_out_of_range_is_refused() -> None:
    assert load_settings(None, {"DASHBOARD_PORT": "0"}).dashboard_port == 0
    with pytest.raises(ConfigError, match="DASHBOARD_PORT"):
        load_settings(None, {"DASHBOARD_PORT": "65536"})


def test_a_host_with_odd_characters_is_refused() -> None:
    with pytest.raises(ConfigError, match="DASHBOARD_HOST: expected a host name"):
        load_settings(None, {"DASHBOARD_HOST": "http://0.0.0.0/"})


def test_a_short_token_is_refused_without_echoing_it() -> None:
    with pytest.raises(ConfigError) as refused:
        load_settings(None, {"DASHBOARD_TOKEN": "abc123"})

    assert refused.value.key == "DASHBOARD_TOKEN" and "too short" in refused.value.reason
    assert "abc123" not in str(refused.value)
