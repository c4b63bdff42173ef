"""Phase 1's connection: the broker the bot trades through, and the clock it then follows.

* paper mode: alpaca-py against Alpaca's paper API (or a separately started ``fleece
  exchange`` on a loopback URL, whose simulated clock the bot then reads: :class:`BrokerClock`);
* sim mode: the built-in exchange, started here in this process (paused until the bot is ready),
  with throw-away keys; the bot follows its simulated clock.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from fleece.broker import Broker
from fleece.broker_clock import BrokerClock
from fleece.clock import Clock
from fleece.config import AppConfig
from fleece.paper_lock import make_data_client, make_trading_client, resolve_endpoints

# The runtime's own lines, under its name wherever the code lives (operators grep for it).
log = logging.getLogger("fleece.runtime")


@dataclass(frozen=True)
class Connection:
    """The broker, and what the bot learnt connecting to it.

    Attributes:
        broker: the broker the bot trades through.
        clock: the clock to follow instead of the wall clock (None: the wall clock).
        speed: simulated seconds per real second (None: real time; 0.0: an external exchange
            whose pace is unknown).
        base_url: the trading URL (None: alpaca-py's paper default).
        exchange: the in-process exchange (sim mode), else None.
        exchange_server: its HTTP server, to stop at the end, else None.
    """

    broker: Broker
    clock: Clock | None
    speed: float | None
    base_url: str | None
    exchange: Any = None
    exchange_server: Any = None


def connect(
    config: AppConfig, wait_until: Callable[[datetime], Awaitable[None]], wall: Clock
) -> Connection:
    """Start the built-in exchange in sim mode, then build the broker's clients.

    Args:
        config: the validated configuration.
        wait_until: how the broker waits for a rate limit's reset (in the bot's clock).
        wall: the bot's clock when time is real.
    """
    s = config.settings
    if s.fleece_mode == "sim":
        key, secret = "sim-" + secrets.token_hex(8), secrets.token_hex(16)
        exchange, server, url = start_sim_exchange(config, key, secret)
        try:
            broker = _broker(
                config,
                key=key,
                secret=secret,
                trading_url=url,
                data_url=url,
                clock=exchange.clock,
                wait_until=wait_until,
            )
        except BaseException:
            server.stop()
            raise
        return Connection(broker, exchange.clock, s.sim_speed, url, exchange, server)
    endpoints = resolve_endpoints(s)
    key = s.alpaca_api_key.get_secret_value() if s.alpaca_api_key else ""
    secret = s.alpaca_secret_key.get_secret_value() if s.alpaca_secret_key else ""
    clock: Clock | None = None
    speed: float | None = None
    if endpoints.local:
        # A separately started `fleece exchange`: its clock is simulated, follow it.
        clock, speed = BrokerClock(), 0.0
    broker = _broker(
        config,
        key=key,
        secret=secret,
        trading_url=endpoints.trading_url,
        data_url=endpoints.data_url,
        clock=clock or wall,
        wait_until=wait_until,
    )
    return Connection(broker, clock, speed, endpoints.trading_url)


def start_sim_exchange(config: AppConfig, key: str, secret: str) -> tuple[Any, Any, str]:
    """The built-in exchange, paused, served on a free loopback port: (exchange, server, URL)."""
    from fleece.exchange.server import ExchangeServer
    from fleece.exchange.sim import build_exchange

    s = config.settings
    exchange = build_exchange(
        list(config.trading.tickers),
        data_dir=Path(s.sim_data) if s.sim_data else None,
        synthetic=not s.sim_data,
        start=s.sim_start,
        days=s.sim_days,
        speed=s.sim_speed,
        seed=s.sim_seed,
        # Simulated time waits for the bot: released once reconciliation and the warm-up
        # are done (see Bot._phase_trading_logic), so no minute of the session goes unwatched.
        paused=True,
    )
    server = ExchangeServer(exchange, key, secret)
    url: str = server.start()
    log.info("built-in exchange started url=%s speed=%s", url, s.sim_speed)
    return exchange, server, url


def _broker(
    config: AppConfig,
    *,
    key: str,
    secret: str,
    trading_url: str | None,
    data_url: str | None,
    clock: Clock,
    wait_until: Callable[[datetime], Awaitable[None]],
) -> Broker:
    timeout = config.settings.alpaca_timeout_seconds
    trading = make_trading_client(key, secret, trading_url, timeout=timeout, raw_data=True)
    data = make_data_client(key, secret, data_url, timeout=timeout, raw_data=True)
    feed = config.trading.data.feed
    return Broker(trading, data, feed=feed, now=clock.now, wait_until=wait_until)
