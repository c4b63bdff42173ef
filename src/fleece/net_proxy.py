"""Which proxy, if any, carries the bot's broker traffic: decided here, once per client.

Left to itself, ``requests`` (alpaca-py's HTTP) picks a proxy at every request from
``HTTP_PROXY``, ``HTTPS_PROXY``, ``ALL_PROXY`` and ``NO_PROXY`` (either case), and adds
``~/.netrc`` credentials; with ``HTTP_PROXY`` set, the bot's requests to a plain-HTTP loopback
exchange, API keys in their headers, went to the proxy in clear. The rules now:

1. **Loopback and plain HTTP never use a proxy.** The built-in exchange (``FLEECE_MODE=sim``, or
   a loopback ``ALPACA_BASE_URL``) is reached directly, whatever the environment says. A
   plain-HTTP base URL can only be loopback (the paper lock refuses any other), and it is never
   handed to a proxy: a proxy forwarding plain HTTP reads every header, keys included.
2. **Alpaca's HTTPS APIs** (paper trading, market data) go through the proxy the process
   environment names for HTTPS: ``https_proxy``, else ``HTTPS_PROXY``, else ``all_proxy``, else
   ``ALL_PROXY`` (lower case first, as curl and requests read them); none when ``no_proxy`` /
   ``NO_PROXY`` lists the host (``*``, the host, or a parent domain, with or without a leading
   dot). ``HTTP_PROXY`` alone is for plain-HTTP URLs, so it is never used.
3. **Only an ``http://`` or ``https://`` proxy**, which requests asks to open a tunnel with
   ``CONNECT host:443``: the proxy sees the host name and an encrypted stream, the keys travel
   inside TLS to Alpaca. A proxy without a scheme is read as ``http://``. Any other scheme
   (``socks5://``...) stops the start with one line naming the variable.
4. **The session then stops reading the environment** (``trust_env = False``): the decision
   cannot change under the bot, ``~/.netrc`` adds no credentials, and ``REQUESTS_CA_BUNDLE`` /
   ``CURL_CA_BUNDLE`` cannot make the bot trust a TLS-intercepting proxy's certificate (which
   would read the keys): Alpaca's certificate is checked against certifi's bundle.

``fleece config check`` shows the decision (:func:`describe_routes`), the proxy's credentials
masked. Only the process environment counts: a ``*_PROXY`` line in ``.env`` is not used.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from requests import Session

from fleece.errors import ConfigError

log = logging.getLogger(__name__)

HTTPS_VARIABLES = ("https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY")
NO_PROXY_VARIABLES = ("no_proxy", "NO_PROXY")
PROXY_SCHEMES = ("http", "https")


@dataclass(frozen=True)
class ProxyRoute:
    """How one base URL is reached.

    Attributes:
        url: the base URL.
        proxy: the proxy URL (with any credentials: never print it, see :attr:`shown`), or None.
        variable: the environment variable that named the proxy, or None.
        why: why there is no proxy, when there is none.
    """

    url: str
    proxy: str | None
    variable: str | None = None
    why: str = ""

    @property
    def shown(self) -> str:
        """The proxy as safe to print: credentials replaced by ``***``; or why there is none."""
        if self.proxy is None:
            return f"none ({self.why})"
        tunnel = "a CONNECT tunnel: the keys stay inside TLS to Alpaca"
        return f"{mask_credentials(self.proxy)} (from {self.variable}; {tunnel})"


def mask_credentials(proxy: str) -> str:
    """``http://user:pw@host:3128/`` -> ``http://***@host:3128`` (scheme, host and port only)."""
    scheme, sep, rest = proxy.partition("://")
    if not sep:
        return "***" if "@" in proxy else proxy
    netloc = rest.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0]
    _, at, host = netloc.rpartition("@")
    return f"{scheme}://{'***@' if at else ''}{host}"


def route_for(url: str, *, loopback: bool, environ: Mapping[str, str] | None = None) -> ProxyRoute:
    """Decide how ``url`` (a checked base URL) is reached, by the rules of the module docstring.

    Args:
        url: Alpaca's paper or data URL, or a loopback URL (already through the paper lock).
        loopback: ``url`` is a loopback URL (the paper lock's judgement).
        environ: the process environment (``os.environ`` when None).

    Raises:
        ConfigError: the proxy named for it is not an http:// or https:// URL.
    """
    env = os.environ if environ is None else environ
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if loopback:
        return ProxyRoute(url, None, why="loopback is always reached directly")
    if parts.scheme != "https":
        return ProxyRoute(url, None, why="plain HTTP is never sent through a proxy")
    variable = next((name for name in HTTPS_VARIABLES if env.get(name, "").strip()), None)
    if variable is None:
        return ProxyRoute(url, None, why="no HTTPS_PROXY or ALL_PROXY in the environment")
    no_proxy = next((env[n] for n in NO_PROXY_VARIABLES if env.get(n, "").strip()), "")
    if bypassed(host, parts.port or 443, no_proxy):
        return ProxyRoute(url, None, why=f"NO_PROXY lists {host}")
    return ProxyRoute(url, _checked_proxy(env[variable].strip(), variable), variable)


def bypassed(host: str, port: int, no_proxy: str) -> bool:
    """True when a ``NO_PROXY`` list names ``host`` (``*``, the host, or a parent domain)."""
    for entry in (e.strip().lower() for e in no_proxy.split(",")):
        name, _, entry_port = entry.partition(":")
        name = name.lstrip(".")
        if entry == "*":
            return True
        if not name or (entry_port and entry_port != str(port)):
            continue
        if host == name or host.endswith("." + name):
            return True
    return False


def _checked_proxy(value: str, variable: str) -> str:
    proxy = value if "://" in value else "http://" + value
    try:
        parts = urlsplit(proxy)
        has_host = bool(parts.hostname)
        _ = parts.port  # a bad port raises ValueError
    except ValueError:
        has_host = False
    if parts.scheme.lower() not in PROXY_SCHEMES or not has_host:
        raise ConfigError(
            "environment",
            variable,
            f"{mask_credentials(proxy)!r} cannot carry Alpaca's API: only an http:// or "
            "https:// proxy is used (it tunnels TLS with CONNECT, so the keys stay encrypted); "
            "unset it or list the host in NO_PROXY",
        )
    return proxy


def pin_proxies(
    session: Session, url: str, *, loopback: bool, environ: Mapping[str, str] | None = None
) -> ProxyRoute:
    """Fix ``session``'s proxy for ``url`` and stop it reading the environment.

    Raises:
        ConfigError: the proxy named for ``url`` is not an http:// or https:// URL.
    """
    route = route_for(url, loopback=loopback, environ=environ)
    session.trust_env = False
    # Only the scheme of our one base URL is mapped; plain HTTP gets no entry, ever.
    session.proxies = {"https": route.proxy} if route.proxy is not None else {}
    if route.proxy is not None:
        log.info("broker traffic to %s goes through the proxy %s", url, route.shown)
    return route


def describe_routes(
    urls: Mapping[str, tuple[str, bool]], environ: Mapping[str, str] | None = None
) -> list[str]:
    """One line per API for ``fleece config check``: ``{name: (url, loopback)}`` in, lines out.

    Raises:
        ConfigError: a proxy that would be used is not an http:// or https:// URL.
    """
    return [
        f"{name} {url}: proxy {route_for(url, loopback=local, environ=environ).shown}"
        for name, (url, local) in urls.items()
    ]
