"""Specification of where the built-in exchange may listen: the paper lock's loopback hosts only.

The exchange and the bot read "loopback" by one rule (:func:`fleece.paper_lock.is_loopback_host`),
so the exchange never listens on an address the bot would refuse to reach, nor beyond loopback.
"""

from __future__ import annotations

import pytest

from fleece.exchange import ExchangeServer
from fleece.paper_lock import is_loopback_host

REFUSED = (
    "0.0.0.0",
    "192.168.1.10",
    "::",
    "127.1",  # a short form the paper lock does not read as loopback
    "::ffff:127.0.0.1",  # IPv4-mapped
    "::1%lo",  # a scoped ::1: the exchange used to bind it, the bot refuses to reach it
    "localhost.evil.example",
)


@pytest.mark.parametrize("host", REFUSED)
def test_the_exchange_refuses_to_bind_a_host_the_paper_lock_does_not_read_as_loopback(
    host: str,
) -> None:
    assert not is_loopback_host(host)

    with pytest.raises(ValueError, match="binds loopback addresses only"):
        ExchangeServer(None, "key", "secret", host=host)  # type: ignore[arg-type]
