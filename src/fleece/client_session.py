"""An alpaca-py client's HTTP session, set up once when the client is built: every request
bounded in time (:class:`TimeoutHTTPAdapter`) and the proxy pinned (:mod:`fleece.net_proxy`).

:mod:`fleece.paper_lock`'s client makers call :func:`bound_session` on every client they build,
after the client's base URL has passed the lock.
"""

from __future__ import annotations

import math

from requests import PreparedRequest, Response, Session
from requests.adapters import HTTPAdapter

from fleece.net_proxy import pin_proxies


class TimeoutHTTPAdapter(HTTPAdapter):
    """An adapter that gives every request a timeout unless the caller chose one.

    alpaca-py sends through a plain ``requests.Session`` without a timeout, so a silent
    server would block its thread forever. Mounting this adapter on the client's session for
    ``http://`` and ``https://`` bounds every call without touching alpaca-py's code.
    """

    def __init__(self, timeout: float) -> None:
        if not (math.isfinite(timeout) and timeout > 0):
            raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")
        super().__init__()
        self.timeout = timeout

    def send(  # noqa: PLR0917 - the signature is requests' HTTPAdapter.send
        self,
        request: PreparedRequest,
        stream: bool = False,
        timeout: float | tuple[float | None, float | None] | None = None,
        verify: bool | str = True,
        cert: str | tuple[str, str] | None = None,
        proxies: dict[str, str] | None = None,
    ) -> Response:
        """Send ``request``, with the adapter's timeout when none was given."""
        return super().send(
            request,
            stream=stream,
            timeout=self.timeout if timeout is None else timeout,
            verify=verify,
            cert=cert,
            proxies=proxies,
        )


def bound_session(client: object, base_url: str, *, loopback: bool, timeout: float) -> None:
    """Bound every request of ``client`` in time and fix its proxy (none for loopback).

    Args:
        client: an alpaca-py REST client (it sends through ``client._session``).
        base_url: the client's checked base URL.
        loopback: ``base_url`` is a loopback URL (the paper lock's judgement).
        timeout: seconds before a request gives up, unless the caller chose its own.

    Raises:
        TypeError: the client has no requests session.
        ConfigError: the proxy named for ``base_url`` cannot carry Alpaca's API.
    """
    session = getattr(client, "_session", None)
    if not isinstance(session, Session):
        raise TypeError("alpaca-py client has no requests session to apply a timeout to")
    adapter = TimeoutHTTPAdapter(timeout)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    pin_proxies(session, base_url, loopback=loopback)
