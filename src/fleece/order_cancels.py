"""Cancelling the bot's orders at the broker, and recording how each ended.

Three occasions: the bot's own unfinished buys before an exit (:meth:`OrderCancels.cancel_buys`),
a position's protective orders before an exit or a close-out
(:meth:`OrderCancels.cancel_protection`), and orders left working too long, in housekeeping
(:meth:`OrderCancels.cancel_stale`). An order that filled before its cancel arrived is recorded
as filled: the broker's answer goes through the order manager's
:meth:`~fleece.order_manager.OrderManager.apply`, which owns every status change.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

from fleece.clock import Clock
from fleece.errors import BrokerError
from fleece.intent_store import IntentStore
from fleece.intents import SENDABLE_STATUSES, IntentRecord
from fleece.models import BrokerOrder, Fill, Side
from fleece.order_terms import OrderBroker
from fleece.protection import is_protective

# The order manager's own lines, under its name wherever the code lives (the backtest's run log
# keeps that logger's lines, and operators grep for it).
log = logging.getLogger("fleece.order_manager")


@dataclass(frozen=True, slots=True)
class OrderCancels:
    """The order manager's cancels (``OrderManager.cancels``): ask the broker, record the end."""

    store: IntentStore
    broker: OrderBroker
    clock: Clock
    # The order manager's: record a broker answer, and judge an order the broker lacks.
    apply: Callable[[BrokerOrder], Fill | None]
    lookup_missing: Callable[[str, str], Awaitable[BrokerOrder | None]]

    async def cancel_buys(self, symbol: str) -> None:
        """Cancel the bot's unfinished buys of ``symbol`` and record how they ended.

        Before an exit: a sell while the bot's own buy is open would be refused by Alpaca as a
        potential wash trade. A buy that already filled (the cancel comes too late) is simply
        recorded as filled.
        """
        for record in self.store.unfinished_intents():
            if record.dry_run or record.symbol != symbol or record.side is not Side.BUY:
                continue
            found = await self._cancel_and_read(record, "cancel before exit")
            log.info(
                "buy cancelled before an exit cid=%s status=%s",
                record.client_order_id,
                found.status if found else "not at broker",
            )

    async def cancel_protection(self, symbol: str) -> int:
        """Cancel the protective orders of ``symbol`` at the broker and record how they ended.

        Before the bot's own exit (Alpaca holds the shares for them, and an order against an
        open opposite one is a wash trade) and before a close-out. One that filled meanwhile
        is recorded as filled (the position is then gone). Returns how many were working.
        """
        count = 0
        for record in self.store.unfinished_intents():
            if record.dry_run or record.symbol != symbol or not is_protective(record.strategy):
                continue
            count += 1
            found = await self._cancel_and_read(record, "cancel protection")
            if found is None and record.status in SENDABLE_STATUSES:
                await self.lookup_missing(record.client_order_id, record.status)
            log.info(
                "protection cancelled cid=%s symbol=%s status=%s",
                record.client_order_id,
                symbol,
                found.status if found else "not at broker",
            )
        return count

    async def _cancel_and_read(self, record: IntentRecord, why: str) -> BrokerOrder | None:
        """Ask the broker to cancel ``record``'s order, then record how it ended (or None)."""
        if record.broker_order_id:
            try:
                await self.broker.cancel_order(record.broker_order_id)
            except BrokerError as exc:  # already final: its answer below says how it ended
                log.info("%s cid=%s: %s", why, record.client_order_id, exc)
        found = await self.broker.order_by_client_id(record.client_order_id)
        if found is not None:
            self.apply(found)
        return found

    async def cancel_stale(self, max_age: timedelta) -> int:
        """Cancel our open orders older than ``max_age``; returns how many were asked to cancel."""
        now = self.clock.now()
        count = 0
        for record in self.store.unfinished_intents():
            if is_protective(record.strategy):
                continue  # good till cancelled on purpose: it protects a position
            if record.broker_order_id and now - record.created_at > max_age:
                try:
                    await self.broker.cancel_order(record.broker_order_id)
                    count += 1
                    log.info("stale order cancelled cid=%s", record.client_order_id)
                except BrokerError as exc:
                    log.warning("cancel failed cid=%s reason=%s", record.client_order_id, exc)
        return count
