"""Specification of where the bot's HTTP servers listen (:mod:`fleece.listening`).

The dashboard and the built-in exchange bind by one rule: the family follows the host, and the
URL they hand out puts an IPv6 host in brackets, so that alpaca-py and a browser can reach it.
Real sockets on the loopback addresses.
"""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from fleece.clock import ScaledClock
from fleece.exchange import ExchangeServer, SimExchange
from fleece.listening import base_url, can_listen, tcp_socket

KEY, SECRET = "listen-key", "listen-secret"


@pytest.mark.parametrize(("host", "shown"), [("127.0.0.1", "127.0.0.1"), ("::1", "[::1]")])
def test_a_bound_socket_is_reached_at_its_url(host: str, shown: str) -> None:
    with tcp_socket(host) as sock:
        sock.bind((host, 0))
        port = sock.getsockname()[1]

        assert base_url(sock, host) == f"http://{shown}:{port}"


@pytest.mark.parametrize("host", ["127.0.0.1", "::1"])
def test_a_port_in_use_cannot_be_listened_on_and_is_free_again_once_closed(host: str) -> None:
    with tcp_socket(host) as taken:
        taken.bind((host, 0))
        taken.listen()
        port = taken.getsockname()[1]
        while_taken = can_listen(host, port)

    assert while_taken is False
    assert can_listen(host, port) is True


def test_the_exchange_on_ipv6_loopback_hands_out_a_url_its_clients_reach() -> None:
    # The exchange wrote its URL by a copy of the dashboard's rule; now both use one.
    clock = ScaledClock(datetime(2024, 1, 8, 15, 0, tzinfo=UTC), speed=0)
    with ExchangeServer(SimExchange({}, clock=clock), KEY, SECRET, host="::1") as server:
        answer = httpx.get(
            f"{server.url}/v2/clock",
            headers={"APCA-API-KEY-ID": KEY, "APCA-API-SECRET-KEY": SECRET},
            timeout=30,
        )

    assert server.url.startswith("http://[::1]:")
    assert answer.status_code == 200
