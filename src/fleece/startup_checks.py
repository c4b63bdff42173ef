"""Start-up checks: the configured symbols against the broker's assets, and the data feed.

Tickers change (Barrick's ``GOLD`` became ``B`` in 2025) and a free Alpaca plan may not read the
feed the configuration names, so before trading the bot asks the broker:

* **Each symbol** (``GET /v2/assets/{symbol}``): one that is unknown, not ``active`` or not
  ``tradable`` is dropped for this run, with one warning line naming it and why. The dropped
  symbols are kept in the store (``bot_state`` key ``dropped_symbols``) so that ``fleece status``,
  the dashboard and the demo's summary show them. With no symbol left, start-up stops with one
  line and exit code 2.
* **The feed**, probed once with the first symbol's last half hour of bars: a 403 (on a free
  plan ``feed: sip`` answers "subscription does not permit querying recent SIP data") stops
  start-up with one line naming the feed and what to set, exit code 2, instead of polling for
  ever without a bar.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from fleece.errors import BrokerError, ConfigError

log = logging.getLogger(__name__)

KEY_DROPPED = "dropped_symbols"
FEED_PROBE = timedelta(minutes=30)


class AssetBroker(Protocol):
    """The part of :class:`~fleece.broker.Broker` the checks use."""

    async def asset(self, symbol: str) -> Mapping[str, Any] | None: ...

    async def bars(
        self, symbols: Sequence[str], start: datetime, end: datetime | None = None
    ) -> tuple[dict[str, Any], list[tuple[str, str]]]: ...


class StateKeys(Protocol):
    """The store's key-value state (see :class:`~fleece.state_store.StateStore`)."""

    def get_state(self, key: str, default: str | None = None) -> str | None: ...

    def set_state(self, key: str, value: str, now: datetime) -> None: ...


@dataclass(frozen=True, slots=True)
class SymbolCheck:
    """The symbols kept for trading, and the dropped ones with the reason."""

    kept: tuple[str, ...]
    dropped: dict[str, str]


def why_not_tradable(asset: Mapping[str, Any] | None) -> str | None:
    """Why an asset cannot be traded (None when it can)."""
    if asset is None:
        return "not listed at the broker"
    if asset.get("status") != "active":
        return f"status {asset.get('status')!r}, not active"
    if asset.get("tradable") is not True:
        return "not tradable"
    return None


async def check_symbols(broker: AssetBroker, symbols: Sequence[str], source: str) -> SymbolCheck:
    """Drop the symbols the broker will not trade; every drop is one warning line.

    Args:
        broker: asks ``/v2/assets/{symbol}``.
        symbols: the configured symbols.
        source: the configuration file (named in the error when no symbol is left).

    Raises:
        ConfigError: no symbol is left (exit code 2).
        BrokerError: the broker could not be asked.
    """
    kept: list[str] = []
    dropped: dict[str, str] = {}
    for symbol in symbols:
        reason = why_not_tradable(await broker.asset(symbol))
        if reason is None:
            kept.append(symbol)
            continue
        dropped[symbol] = reason
        log.warning("symbol dropped: %s is %s; it is not traded this run", symbol, reason)
    if not kept:
        shown = ", ".join(f"{s} ({r})" for s, r in dropped.items())
        raise ConfigError(source, "symbols.list", f"no tradable symbol left: {shown}")
    return SymbolCheck(tuple(kept), dropped)


async def probe_feed(
    broker: AssetBroker, symbol: str, feed: str, now: datetime, source: str
) -> None:
    """Ask for ``symbol``'s last half hour of bars on ``feed``; a 403 stops start-up.

    Raises:
        ConfigError: the broker refuses the feed (exit code 2).
        BrokerError: the broker could not be asked.
    """
    end = now.replace(second=0, microsecond=0) - timedelta(minutes=1)
    try:
        await broker.bars([symbol], end - FEED_PROBE, end)
    except BrokerError as exc:
        if exc.status != 403:
            raise
        other = "iex" if feed == "sip" else "sip"
        raise ConfigError(
            source,
            "data.feed",
            f"the broker refuses feed {feed!r} ({exc}); the free Alpaca plan reads IEX in real "
            f"time: set data.feed: {other}, or subscribe to a plan that includes {feed}",
        ) from None


def record_dropped(store: StateKeys, dropped: Mapping[str, str], now: datetime) -> None:
    """Keep this run's dropped symbols for ``fleece status``, the dashboard and the summary."""
    store.set_state(KEY_DROPPED, json.dumps(dict(sorted(dropped.items()))), now)


def read_dropped(store: StateKeys) -> dict[str, str]:
    """The symbols the last start dropped, with the reason (empty when none or unreadable)."""
    text = store.get_state(KEY_DROPPED)
    try:
        value = json.loads(text) if text else {}
    except ValueError:
        return {}
    if not isinstance(value, dict):
        return {}
    return {str(k): str(v) for k, v in value.items()}
