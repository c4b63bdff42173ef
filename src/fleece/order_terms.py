"""What the order manager speaks in: the broker it needs, the ids it gives, what a submit comes to.

Pure and I/O-free, so that tests, the trader and the kernel can name them without the manager:
:class:`OrderBroker` (the calls of a broker the order manager makes), :func:`client_order_id`
(the deterministic id of a signal's order), :func:`rejection` (a definite refusal as the
intent records it), :func:`duplicate_id` (the refusal of an id the broker has seen),
:func:`intent_status_for` (our status for a broker order) and :class:`SubmitOutcome` (what
happened to one intent).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from fleece.errors import BrokerError
from fleece.intents import OPEN_STATUSES, IntentStatus, status_for_broker
from fleece.models import (
    CODE_INVALID_ORDER,
    DUPLICATE_CLIENT_ORDER_ID,
    MAX_CLIENT_ORDER_ID,
    BrokerOrder,
    ExitOrder,
    Position,
    Side,
)

#: Intent statuses that still need the broker's answer (the lifecycle's, :mod:`fleece.intents`).
UNFINISHED = OPEN_STATUSES
#: What a submit may come to besides an intent status: refused before it was written (the
#: circuit breaker is tripped), or not sent again (its client_order_id exists already).
BLOCKED = "blocked"
DUPLICATE = "duplicate"


# The order manager needs only these calls of its store (fleece.intent_store.IntentStore) and
# broker. Protocols rather than the concrete classes, so that the backtest drives this very
# class with an in-memory store and an in-process simulated broker (fleece.backtest); StateStore
# and Broker satisfy them as they are.
class OrderBroker(Protocol):
    """The part of :class:`~fleece.broker.Broker` the order manager uses."""

    async def submit_market(
        self, client_order_id: str, symbol: str, side: Side, qty: int, time_in_force: str
    ) -> BrokerOrder: ...

    async def submit_exit(
        self, client_order_id: str, symbol: str, side: Side, qty: int, shape: ExitOrder
    ) -> BrokerOrder: ...

    async def orders(
        self, status: str = "open", after: datetime | None = None
    ) -> list[BrokerOrder]: ...

    async def order_by_client_id(self, client_order_id: str) -> BrokerOrder | None: ...

    async def cancel_order(self, order_id: str) -> None: ...

    async def position(self, symbol: str) -> Position | None: ...


def client_order_id(strategy: str, symbol: str, side: Side, signal_ts: datetime) -> str:
    """The deterministic id of the order a signal asks for (same signal, same id)."""
    stamp = signal_ts.strftime("%Y%m%dT%H%M%SZ")
    cid = f"{strategy}-{symbol}-{side.value}-{stamp}"
    if len(cid) > MAX_CLIENT_ORDER_ID:
        raise ValueError(f"client_order_id longer than {MAX_CLIENT_ORDER_ID} characters: {cid!r}")
    return cid


def rejection(exc: BrokerError) -> str:
    """A definite refusal as the intent records it: Alpaca's status, code and reason.

    For example ``403 code=40310000: order refused: potential wash trade detected. use complex
    orders``, so that ``SELECT ... WHERE last_error LIKE '%code=40310000%'`` finds them.
    """
    status = f"{exc.status} " if exc.status is not None else ""
    code = f"code={exc.code}: " if exc.code is not None else ""
    return f"{status}{code}{exc}"


def duplicate_id(exc: BrokerError) -> bool:
    """True when ``exc`` is Alpaca's refusal of a client_order_id it has already seen: an earlier
    attempt of this very order arrived (:data:`~fleece.models.DUPLICATE_CLIENT_ORDER_ID`)."""
    return exc.code == CODE_INVALID_ORDER and DUPLICATE_CLIENT_ORDER_ID in str(exc)


def intent_status_for(order: BrokerOrder) -> IntentStatus:
    """Our intent status for a broker order (:func:`fleece.intents.status_for_broker`)."""
    return status_for_broker(order.status, order.filled_qty)


@dataclass(frozen=True, slots=True)
class SubmitOutcome:
    """What happened to one intent: ``status`` is the intent's status after the attempt, or
    :data:`BLOCKED` / :data:`DUPLICATE` when nothing was written."""

    client_order_id: str
    status: str
    broker_order: BrokerOrder | None = None
    error: str | None = None

    @property
    def sent(self) -> bool:
        """True when the order went out, or may have (a dry run counts as sent)."""
        return self.status not in _NOT_SENT


_NOT_SENT = frozenset({IntentStatus.FAILED, IntentStatus.REJECTED, BLOCKED, DUPLICATE})
