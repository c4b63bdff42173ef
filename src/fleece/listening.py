"""Where the bot's HTTP servers listen: the dashboard and the built-in exchange bind alike.

One rule for both: the address family follows the host (an IPv6 address has a colon), the
socket says TCP, it may be bound again at once after a stop, and its URL puts an IPv6 host in
brackets. Which hosts are allowed is :mod:`fleece.paper_lock`'s rule, not this one's.
"""

from __future__ import annotations

import socket


def tcp_socket(host: str) -> socket.socket:
    """An unbound TCP socket for ``host`` (IPv6 for an IPv6 address), reusable at once."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP explicitly: asyncio disables Nagle only on sockets whose proto says TCP, and
    # with Nagle every keep-alive answer waits ~40 ms for the client's delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    return sock


def can_listen(host: str, port: int) -> bool:
    """Whether a server could listen on ``host:port`` now, bound as the servers bind."""
    with tcp_socket(host) as probe:
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def base_url(sock: socket.socket, host: str) -> str:
    """``http://HOST:PORT`` of ``sock``, bound on ``host`` (an IPv6 host in brackets)."""
    shown = f"[{host}]" if sock.family == socket.AF_INET6 else host
    return f"http://{shown}:{sock.getsockname()[1]}"
