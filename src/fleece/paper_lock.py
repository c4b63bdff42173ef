"""The paper lock: alpaca-fleece talks to Alpaca's paper API or a loopback exchange, nothing else.

Three walls, each enough on its own:

1. Flags: ``ALPACA_PAPER=false`` or ``ALLOW_LIVE_TRADING=true`` refuse to start
   (:func:`check_paper_flags`).
2. URLs: an override must be exactly Alpaca's paper (or data) URL, or a loopback URL
   (:func:`check_trading_url`, :func:`check_data_url`). The check is an allow-list on the
   characters and the parsed parts, so look-alike hosts, ``user@host`` tricks, encoded IPs and
   IPv4-mapped IPv6 addresses are refused rather than interpreted.
3. Clients: :data:`make_trading_client` and :data:`make_data_client` (one :class:`ClientMaker`
   each) are the only places that build alpaca-py clients. The trading client always gets
   ``paper=True``; both re-check the URL and verify the base URL the built client actually
   resolved. Its session is then bounded in time and its proxy fixed
   (:mod:`fleece.client_session`): never a proxy for loopback or plain HTTP, a CONNECT tunnel to
   Alpaca.

Every refusal is a :class:`~fleece.errors.LiveTradingRefused` (exit code 2 at the command line).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Generic, Protocol, TypeVar
from urllib.parse import SplitResult, urlsplit

from fleece.client_session import bound_session
from fleece.errors import ConfigError, LiveTradingRefused

if TYPE_CHECKING:
    # alpaca-py is imported where clients are built: its data package pulls in pandas, which
    # would make every configuration check (and `fleece config check`) seconds slower.
    from alpaca.common.rest import RESTClient
    from alpaca.data.historical import StockHistoricalDataClient
    from alpaca.trading.client import TradingClient

PAPER_TRADING_URL = "https://paper-api.alpaca.markets"
DATA_URL = "https://data.alpaca.markets"
LIVE_TRADING_URL = "https://api.alpaca.markets"
"""Alpaca's live API: never used, only recognised so that its refusal says what it is."""
DEFAULT_TIMEOUT_SECONDS = 15.0
"""Per-request timeout (connect and read) for alpaca-py's HTTP calls, which have none."""

_PAPER_HOST = "paper-api.alpaca.markets"
_DATA_HOST = "data.alpaca.markets"
_LIVE_HOST = "api.alpaca.markets"
# A base URL needs no more than this; '@', '%', '\\', '?', '#', spaces and non-ASCII are refused.
_URL_CHARS = re.compile(r"[A-Za-z0-9:/.\[\]_~-]+")
_DOTTED_QUAD = re.compile(r"\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}")
_LOOPBACK_V4 = ipaddress.IPv4Network("127.0.0.0/8")
_LOOPBACK_V6 = ipaddress.IPv6Address("::1")
_LOOPBACK_HINT = "a loopback URL (http://localhost:PORT, http://127.0.0.1:PORT, http://[::1]:PORT)"


def is_loopback_host(host: str) -> bool:
    """True for ``localhost``, a dotted-quad IPv4 in 127.0.0.0/8, or ``::1``.

    Only the canonical spellings count: decimal (``2130706433``), hex or octal encodings,
    short forms (``127.1``) and IPv4-mapped IPv6 (``::ffff:127.0.0.1``) are not loopback here.
    """
    host = host.lower()
    if host == "localhost":
        return True
    if _DOTTED_QUAD.fullmatch(host):
        try:
            return ipaddress.IPv4Address(host) in _LOOPBACK_V4
        except ValueError:  # an octet above 255, or a leading zero (octal ambiguity)
            return False
    if ":" in host and "%" not in host:
        try:
            return ipaddress.IPv6Address(host) == _LOOPBACK_V6
        except ValueError:
            return False
    return False


def is_loopback_url(url: str) -> bool:
    """True when ``url`` is a well-formed http(s) URL to a loopback host."""
    parts = _split(url)
    return parts is not None and _loopback_base(parts) is not None


def check_trading_url(
    url: str, *, source: str = "environment", key: str = "ALPACA_BASE_URL"
) -> str:
    """Return the trading base URL if it is Alpaca's paper API or loopback, else refuse.

    Args:
        url: the candidate base URL (no path beyond ``/``).
        source: named in the refusal, e.g. the ``.env`` path.
        key: named in the refusal.

    Returns:
        ``PAPER_TRADING_URL``, or the loopback URL without a trailing slash.

    Raises:
        LiveTradingRefused: any other URL, with the reason.
    """
    return _check_url(url, _PAPER_HOST, PAPER_TRADING_URL, source, key)


def check_data_url(url: str, *, source: str = "environment", key: str = "ALPACA_DATA_URL") -> str:
    """Return the market-data base URL if it is Alpaca's data API or loopback, else refuse.

    Raises:
        LiveTradingRefused: any other URL, with the reason.
    """
    return _check_url(url, _DATA_HOST, DATA_URL, source, key)


def _check_url(url: str, alpaca_host: str, alpaca_url: str, source: str, key: str) -> str:
    parts = _split(url)
    if parts is None:
        raise LiveTradingRefused(source, key, _refusal(url, alpaca_url, "not a plain base URL"))
    if parts.netloc.lower() == alpaca_host and parts.scheme == "https":
        return alpaca_url
    local = _loopback_base(parts)
    if local is not None:
        return local
    if parts.hostname == _LIVE_HOST:
        reason = (
            f"{LIVE_TRADING_URL} is Alpaca's LIVE trading API; alpaca-fleece trades paper only "
            f"(use {PAPER_TRADING_URL} or {_LOOPBACK_HINT})"
        )
        raise LiveTradingRefused(source, key, reason)
    raise LiveTradingRefused(source, key, _refusal(url, alpaca_url, "host not allowed"))


def _split(url: str) -> SplitResult | None:
    """Parse a base URL, or None if it has anything a plain ``scheme://host[:port][/]`` lacks."""
    if not _URL_CHARS.fullmatch(url):
        return None
    try:
        parts = urlsplit(url)
        port = parts.port  # raises ValueError for a non-numeric or out-of-range port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or parts.path not in ("", "/"):
        return None
    if not parts.hostname or parts.netloc.endswith(":") or port == 0:
        return None
    return parts


def _loopback_base(parts: SplitResult) -> str | None:
    host = parts.hostname or ""
    if not is_loopback_host(host):
        return None
    return f"{parts.scheme}://{parts.netloc.lower()}"


def _refusal(url: str, alpaca_url: str, why: str) -> str:
    return f"refused {_shown(url)} ({why}): only {alpaca_url} or {_LOOPBACK_HINT} is allowed"


def _shown(url: str) -> str:
    """The URL as safe to print: credentials cut out, control characters escaped, bounded."""
    scheme, sep, rest = url.partition("://")
    if sep and "@" in rest:
        url = f"{scheme}://***@{rest.rpartition('@')[2]}"
    text = ascii(url)
    return text if len(text) <= 80 else text[:77] + "..."


class LockSettings(Protocol):
    """What the lock reads of :class:`fleece.config.Settings` (a protocol, so that the
    configuration, which applies the lock, is not imported back by it)."""

    @property
    def alpaca_paper(self) -> bool: ...
    @property
    def allow_live_trading(self) -> bool: ...
    @property
    def alpaca_base_url(self) -> str | None: ...
    @property
    def alpaca_data_url(self) -> str | None: ...
    @property
    def sim(self) -> bool: ...

    def source_of(self, name: str) -> str:
        """Where setting ``name`` came from (a file, the environment or the default)."""


def check_paper_flags(settings: LockSettings) -> None:
    """Refuse ``ALPACA_PAPER=false`` and ``ALLOW_LIVE_TRADING=true``.

    Raises:
        LiveTradingRefused: naming the flag and where it was set.
    """
    if not settings.alpaca_paper:
        raise LiveTradingRefused(
            settings.source_of("ALPACA_PAPER"),
            "ALPACA_PAPER",
            "is false, but alpaca-fleece trades paper only and live trading cannot be enabled "
            "(set ALPACA_PAPER=true)",
        )
    if settings.allow_live_trading:
        raise LiveTradingRefused(
            settings.source_of("ALLOW_LIVE_TRADING"),
            "ALLOW_LIVE_TRADING",
            "is true, but alpaca-fleece trades paper only and live trading cannot be enabled "
            "(set ALLOW_LIVE_TRADING=false)",
        )


@dataclass(frozen=True)
class Endpoints:
    """Where the bot's alpaca-py clients point.

    Attributes:
        trading_url: checked trading base URL; None means alpaca-py's paper default (or, in
            sim mode, the URL of the exchange the runtime starts).
        data_url: checked market-data base URL; None means alpaca-py's default.
        local: True when no real Alpaca account is involved (sim mode, or a loopback
            trading URL such as a separately started built-in exchange).
    """

    trading_url: str | None
    data_url: str | None
    local: bool


def resolve_endpoints(settings: LockSettings) -> Endpoints:
    """Validate ``ALPACA_BASE_URL`` / ``ALPACA_DATA_URL`` and decide where clients point.

    With a loopback trading URL and no data URL, market data comes from the same server,
    since the built-in exchange serves both APIs. In sim mode the runtime starts the exchange
    and supplies its URL, so both URLs are None (the overrides are still checked).

    Raises:
        LiveTradingRefused: an override is neither Alpaca's paper/data URL nor loopback.
    """
    trading = _checked_setting(settings, "ALPACA_BASE_URL", settings.alpaca_base_url)
    data = _checked_setting(settings, "ALPACA_DATA_URL", settings.alpaca_data_url)
    if settings.sim:
        return Endpoints(trading_url=None, data_url=None, local=True)
    local = trading is not None and is_loopback_url(trading)
    if local and data is None:
        data = trading
    return Endpoints(trading_url=trading, data_url=data, local=local)


def _checked_setting(settings: LockSettings, name: str, value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    check = check_trading_url if name == "ALPACA_BASE_URL" else check_data_url
    return check(value.strip(), source=settings.source_of(name), key=name)


def apply_paper_lock(settings: LockSettings) -> Endpoints:
    """Check the live flags and the URL overrides; return the endpoints to use.

    Raises:
        LiveTradingRefused: a live flag is set or an override is not allowed.
    """
    check_paper_flags(settings)
    return resolve_endpoints(settings)


def _paper_trading_client(key: str, secret: str, url: str | None, raw_data: bool) -> TradingClient:
    from alpaca.trading.client import TradingClient

    return TradingClient(
        api_key=key, secret_key=secret, paper=True, url_override=url, raw_data=raw_data
    )


def _data_client(
    key: str, secret: str, url: str | None, raw_data: bool
) -> StockHistoricalDataClient:
    from alpaca.data.historical import StockHistoricalDataClient

    return StockHistoricalDataClient(
        api_key=key, secret_key=secret, url_override=url, raw_data=raw_data
    )


_Client = TypeVar("_Client", bound="RESTClient")


@dataclass(frozen=True)
class ClientMaker(Generic[_Client]):
    """Builds one kind of alpaca-py client, the one way the bot builds any: the URL checked,
    the keys required, the client built on the checked URL, the URL it resolved checked again,
    and its requests bounded in time.

    Attributes:
        new: the alpaca-py client on a checked URL (key, secret, url, raw_data); it imports
            alpaca-py when called.
        check: the rule the URL must pass (:func:`check_trading_url`, :func:`check_data_url`).
        source: how a refused URL names the client.
    """

    new: Callable[[str, str, str | None, bool], _Client]
    check: _UrlCheck
    source: str

    def __call__(
        self,
        key: str,
        secret: str,
        url: str | None,
        *,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        raw_data: bool = False,
    ) -> _Client:
        """Build the client.

        Args:
            key: the API key id.
            secret: the API secret.
            url: a base URL the check allows (Alpaca's or loopback), or None for alpaca-py's
                default (the paper API; Alpaca's data API).
            timeout: seconds before an HTTP call gives up.
            raw_data: return raw JSON instead of alpaca-py models (the bot parses defensively).

        Raises:
            LiveTradingRefused: the URL, or the URL the client resolved, is not allowed.
            ConfigError: a key is empty.
        """
        checked = None if url is None else self.check(url, source=self.source, key="url")
        _require_credentials(key, secret)
        client = self.new(key, secret, checked, raw_data)
        base_url = _verify_base_url(client, self.check)
        bound_session(client, base_url, loopback=is_loopback_url(base_url), timeout=timeout)
        return client


make_trading_client = ClientMaker(_paper_trading_client, check_trading_url, "trading client")
"""Build the bot's alpaca-py ``TradingClient``: always paper, always a checked URL."""

make_data_client = ClientMaker(_data_client, check_data_url, "data client")
"""Build the bot's alpaca-py ``StockHistoricalDataClient`` on a checked URL."""


def _require_credentials(key: str, secret: str) -> None:
    if not key.strip():
        raise ConfigError("environment", "ALPACA_API_KEY", "empty API key")
    if not secret.strip():
        raise ConfigError("environment", "ALPACA_SECRET_KEY", "empty secret key")


class _UrlCheck(Protocol):
    def __call__(self, url: str, *, source: str = ..., key: str = ...) -> str: ...


def _verify_base_url(client: RESTClient, check: _UrlCheck) -> str:
    # Defence in depth: whatever alpaca-py resolved (its BaseURL enum or our override) must
    # pass the same check, so a change in alpaca-py's defaults cannot route us to live.
    base = getattr(client, "_base_url", None)
    if isinstance(base, Enum):
        base = base.value
    if not isinstance(base, str):
        raise LiveTradingRefused("alpaca-py", "base_url", "cannot verify the client's base URL")
    return check(base, source="alpaca-py", key="base_url")
