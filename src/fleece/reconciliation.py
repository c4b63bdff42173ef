"""Reconciliation: the broker is the truth, the store is our memory; align them and say how.

Run at start-up (and periodically): every unfinished intent is looked up by client_order_id, fills
the store missed are recorded, orders the store does not know are reported, and positions implied by
our fills are compared with the broker's. Every discrepancy becomes a ``reconciliation_events`` row
and the whole pass one summary log line.

"Our" shares are :mod:`fleece.ownership`'s: what the bot's own fills add up to (never below
zero), of which it keeps no more than the account holds (:func:`~fleece.ownership.owned_qty`).
A mismatch says what the bot owns after it, the figure the runtime then trades with.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

from fleece.broker import Broker
from fleece.clock import Clock
from fleece.errors import BrokerError
from fleece.intents import IntentStatus
from fleece.models import Position
from fleece.order_manager import OrderManager
from fleece.ownership import own_net, owned_qty
from fleece.state_store import StateStore

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ReconcileSummary:
    """What one reconciliation pass found."""

    intents_checked: int
    adopted: int
    marked_failed: int
    fills_recovered: int
    unknown_orders: int
    position_mismatches: int
    unresolved: int

    def line(self) -> str:
        """The one-line summary for the log."""
        return (
            f"reconciliation intents_checked={self.intents_checked} adopted={self.adopted} "
            f"marked_failed={self.marked_failed} fills_recovered={self.fills_recovered} "
            f"unknown_orders={self.unknown_orders} position_mismatches={self.position_mismatches} "
            f"unresolved={self.unresolved}"
        )


@dataclass(frozen=True, slots=True)
class PositionMismatch:
    """A symbol whose position at the broker differs from the bot's own shares by its fills."""

    symbol: str
    broker: int  # signed, as the account holds it
    own: int  # what the bot's fills add up to (fleece.ownership.own_net)

    @property
    def kept(self) -> int:
        """The shares the bot owns from now on (:func:`fleece.ownership.owned_qty`)."""
        return owned_qty(self.own, self.broker)

    def detail(self) -> str:
        """The event's detail: both figures, and what the bot owns after."""
        return f"broker={self.broker} store={self.own} (the bot owns {self.kept})"


def position_mismatches(
    own: Mapping[str, int], broker: Mapping[str, int]
) -> list[PositionMismatch]:
    """Every symbol, in order, where ``broker`` (signed shares) differs from ``own``."""
    return [
        PositionMismatch(symbol, broker.get(symbol, 0), own.get(symbol, 0))
        for symbol in sorted(set(own) | set(broker))
        if broker.get(symbol, 0) != own.get(symbol, 0)
    ]


async def reconcile(
    store: StateStore, broker: Broker, orders: OrderManager, clock: Clock
) -> tuple[ReconcileSummary, dict[str, Position]]:
    """Align the store with the broker; returns the summary and the broker's positions."""
    now = clock.now()
    checked = adopted = failed = recovered = unresolved = 0
    for record in store.unfinished_intents():
        if record.dry_run:
            continue
        checked += 1
        try:
            found = await broker.order_by_client_id(record.client_order_id)
        except BrokerError as exc:
            unresolved += 1
            log.warning("reconcile lookup failed cid=%s reason=%s", record.client_order_id, exc)
            continue
        if found is None:
            failed += 1
            store.set_intent_status(
                record.client_order_id,
                IntentStatus.FAILED,
                error=f"not at broker at start-up (was {record.status})",
                now=now,
            )
            store.add_reconciliation_event(
                now, "intent_not_at_broker", record.client_order_id, record.symbol, record.status
            )
            continue
        adopted += 1
        if orders.apply(found) is not None:
            recovered += 1
            store.add_reconciliation_event(
                now,
                "fill_recovered",
                record.client_order_id,
                record.symbol,
                f"filled_qty={found.filled_qty} status={found.status}",
            )

    unknown = 0
    for order in await broker.orders("open"):
        if store.get_intent(order.client_order_id) is None:
            unknown += 1
            store.add_reconciliation_event(
                now,
                "unknown_broker_order",
                order.client_order_id,
                order.symbol,
                f"id={order.id} side={order.side.value} qty={order.qty} status={order.status}",
            )

    positions = await broker.positions()
    held = {symbol: p.qty for symbol, p in positions.items()}
    mismatches = position_mismatches(own_net(store.fills()), held)
    for m in mismatches:
        store.add_reconciliation_event(now, "position_mismatch", None, m.symbol, m.detail())
    orders.reload_open()
    summary = ReconcileSummary(
        checked, adopted, failed, recovered, unknown, len(mismatches), unresolved
    )
    log.info(summary.line())
    return summary, positions
