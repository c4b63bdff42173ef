"""The graceful shutdown: no new signals, orders cancelled and positions closed as configured,
the closing fills waited for (within the grace period), the last equity recorded; and what a
finished run lets go of (:func:`release`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from fleece.broker import Broker
from fleece.clock import Clock, ScaledClock
from fleece.closing import close_out
from fleece.config import ShutdownConfig
from fleece.disk_guard import DiskGuard
from fleece.errors import BrokerError
from fleece.housekeeping import record_equity
from fleece.ownership import CloseMode
from fleece.state_store import StateStore
from fleece.store_health import StoreDiskError
from fleece.store_lock import StoreLock
from fleece.systemd import notify
from fleece.trader import Trader

# The runtime's own lines, under its name wherever the code lives (operators grep for it).
log = logging.getLogger("fleece.runtime")


@dataclass(frozen=True)
class Stopping:
    """What the shutdown works with (the running bot's parts)."""

    trader: Trader
    broker: Broker
    store: StateStore
    clock: Clock
    disk: DiskGuard
    sim: ScaledClock | None  # the in-process exchange's clock, which the bot may hold
    nap: Callable[[], Awaitable[None]]  # a pause between two looks at the closing orders


async def shut_down(parts: Stopping, cfg: ShutdownConfig) -> None:
    """Stop taking signals, cancel orders and close positions as configured, flush."""
    trader, store, disk = parts.trader, parts.store, parts.disk
    trader.accepting = False
    now = parts.clock.now()
    market_open = trader.sessions.is_open(now)
    log.info("shutdown begins market_open=%s", market_open)
    notify("STOPPING=1")
    try:
        await asyncio.wait_for(_wind_down(parts, cfg, market_open), timeout=cfg.grace_seconds)
    except TimeoutError:
        log.error("shutdown grace of %ss exceeded; leaving orders as they are", cfg.grace_seconds)
    except BrokerError as exc:
        log.error("shutdown could not finish with the broker: %s", exc)
    except StoreDiskError:
        if not disk.tripped:
            raise
        log.warning("shutdown stopped at the failed store: positions kept as they are")
    finally:
        if (sim := parts.sim) is not None:
            sim.release()
    state = trader.state[0]
    with disk.quietly():
        state = trader.update_state(parts.clock.now())[0]
        record_equity(store, trader, parts.clock.now())
    log.info("shutdown complete state=%s", state.value)


async def _wind_down(parts: Stopping, cfg: ShutdownConfig, market_open: bool) -> None:
    trader, broker, store, disk = parts.trader, parts.broker, parts.store, parts.disk
    # The close-out routine `fleece flatten` shares (fleece.closing).
    await close_out(
        trader,
        broker,
        store,
        market_open,
        mode=CloseMode(cfg.close_positions),
        cancel_orders=cfg.cancel_open_orders,
        tag="shutdown",
        refresh=not disk.tripped,  # what a refresh learns could not be recorded
        keep_protective=cfg.keep_protective,
    )
    # Wait for the closing fills (and cancel confirmations) so they land in the store
    # before we exit; orders left working on purpose, or that cannot fill while the market
    # is closed, are not worth the grace period.
    closing = cfg.cancel_open_orders or cfg.close_positions != "none"
    worth_waiting = market_open and closing and not disk.tripped
    if (sim := parts.sim) is not None:
        # Everything above happened at the held instant of the last poll (so a sim run's
        # closing orders are deterministic too); their fills need the market to move on.
        sim.release()
    # Protective orders kept at the broker are not waited for: they outlive the bot.
    while worth_waiting and trader.orders.awaiting:
        await trader.orders.refresh()
        if not trader.orders.awaiting:
            break
        await parts.nap()
    with contextlib.suppress(BrokerError):
        trader.account = await broker.account()


def close_store(store: StateStore | None) -> None:
    """Close the store if it was opened; a failed disk's error is no news by then."""
    if store is not None:
        with contextlib.suppress(StoreDiskError):
            store.close()


def release(store: StateStore | None, exchange_server: Any, lock: StoreLock | None) -> None:
    """What a finished run lets go of, whatever ended it: the store, the in-process exchange's
    server (sim mode), the store's lock."""
    close_store(store)
    if exchange_server is not None:
        exchange_server.stop()
    if lock is not None:
        lock.release()
