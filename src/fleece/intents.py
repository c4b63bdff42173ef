"""The order-intent lifecycle: statuses, transitions and fill arithmetic, in one place.

An intent is what the bot wants (written before it is sent); the broker's orders and fills are
facts that move it along. These rules are the domain's, not a store's: the SQLite
:class:`~fleece.state_store.StateStore` and the backtest's in-memory
:class:`~fleece.backtest.memory_store.MemoryStore` both apply them, and the order manager reads
broker statuses through them (freqtrade's ``LocalTrade`` and ``Trade`` share one set of rules
the same way).

The lifecycle::

    new ──► submitted ──► accepted / pending_new ──► partially_filled ──► filled
     │          │                 │                        │
     │          └──► rejected     └──► canceled, expired, rejected (the broker's word)
     └────────────► failed (never reached the broker)          dry_run: recorded, never sent

Open statuses await the broker; final ones never change again, except through a fill (a fact
the broker reports is recorded whatever we thought of the order: :func:`status_after_fill`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from operator import attrgetter

from fleece.derive import field_names, from_attributes
from fleece.errors import FleeceError
from fleece.models import TICKS_PER_DOLLAR, OrderIntent, to_ticks


class IntentError(FleeceError):
    """An intent was asked to do what its lifecycle forbids."""


class IntentTransitionError(IntentError):
    """A status change the lifecycle does not allow (e.g. sending an accepted order again)."""


class ImpossibleFillError(IntentError):
    """A cumulative fill report that no sequence of executions can produce."""


class IntentStatus(StrEnum):
    """Lifecycle of an order intent; the broker's order statuses plus our own three."""

    NEW = "new"  # written, not yet sent
    SUBMITTED = "submitted"  # send attempted, outcome unknown until the broker answers
    ACCEPTED = "accepted"
    PENDING_NEW = "pending_new"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELED = "canceled"
    EXPIRED = "expired"
    REJECTED = "rejected"
    FAILED = "failed"  # definitely not at the broker
    DRY_RUN = "dry_run"


#: Statuses the broker may still act on, in lifecycle order (the order listings use).
UNFINISHED_STATUSES: tuple[IntentStatus, ...] = (
    IntentStatus.NEW,
    IntentStatus.SUBMITTED,
    IntentStatus.ACCEPTED,
    IntentStatus.PENDING_NEW,
    IntentStatus.PARTIALLY_FILLED,
)
OPEN_STATUSES: frozenset[IntentStatus] = frozenset(UNFINISHED_STATUSES)
FINAL_STATUSES: frozenset[IntentStatus] = frozenset(IntentStatus) - OPEN_STATUSES
#: The statuses an intent is written with: sent later, or never (a dry run).
INITIAL_STATUSES: frozenset[IntentStatus] = frozenset({IntentStatus.NEW, IntentStatus.DRY_RUN})
#: Not acknowledged by the broker yet: a send attempt may start here (and a lookup that finds
#: nothing means it never arrived); an intent the broker has acknowledged is never sent again.
SENDABLE_STATUSES: frozenset[IntentStatus] = frozenset({IntentStatus.NEW, IntentStatus.SUBMITTED})

# What the broker's answer may make of an intent that went out: any status but the initial
# ones and `submitted` (only a send attempt sets it, and only before the broker has the order).
_BROKER_MAY_SAY = frozenset(IntentStatus) - INITIAL_STATUSES - {IntentStatus.SUBMITTED}
#: Every status an intent may move to from each status. A final status only repeats itself
#: (an order read again); a fill is the one fact that moves it further (status_after_fill).
TRANSITIONS: dict[IntentStatus, frozenset[IntentStatus]] = {
    **{status: _BROKER_MAY_SAY | {IntentStatus.SUBMITTED} for status in SENDABLE_STATUSES},
    **{status: _BROKER_MAY_SAY for status in OPEN_STATUSES - SENDABLE_STATUSES},
    **{status: frozenset({status}) for status in FINAL_STATUSES},
}

# The broker's order statuses (Alpaca's words) as our intent reads them: the one table of
# Alpaca's statuses (which exist, which are final: those read as a final intent status).
_BROKER_TO_INTENT: dict[str, IntentStatus] = {
    "new": IntentStatus.ACCEPTED,
    "accepted": IntentStatus.ACCEPTED,
    # At Alpaca, not yet acknowledged by the venue: to the bot it is accepted, and so the seed's
    # unfinished-intents query (status IN ('new', 'submitted', 'accepted')) lists it. Rows
    # written 'pending_new' by older versions stay open.
    "pending_new": IntentStatus.ACCEPTED,
    "accepted_for_bidding": IntentStatus.ACCEPTED,
    "held": IntentStatus.ACCEPTED,
    "calculated": IntentStatus.ACCEPTED,  # done for the day, settlement pending
    "pending_cancel": IntentStatus.ACCEPTED,
    "pending_replace": IntentStatus.ACCEPTED,
    "pending_review": IntentStatus.ACCEPTED,
    "partially_filled": IntentStatus.PARTIALLY_FILLED,
    "filled": IntentStatus.FILLED,
    "done_for_day": IntentStatus.ACCEPTED,
    "canceled": IntentStatus.CANCELED,
    "expired": IntentStatus.EXPIRED,
    "rejected": IntentStatus.REJECTED,
    "replaced": IntentStatus.CANCELED,
    "stopped": IntentStatus.ACCEPTED,
    "suspended": IntentStatus.ACCEPTED,
}
#: Alpaca's order statuses; anything else is reported as a bad answer and kept unfinished.
BROKER_STATUSES: frozenset[str] = frozenset(_BROKER_TO_INTENT)


@dataclass(slots=True)
class IntentProgress:
    """What we learnt about an intent since it was written; its changes follow the lifecycle.

    Mutable on purpose: the stores load it, apply one of these methods and keep or write it
    (a backtest changes intents tens of thousands of times; copying records would cost more
    than all the rest of its bookkeeping).
    """

    status: IntentStatus
    updated_at: datetime
    broker_order_id: str | None = None
    filled_qty: int = 0
    filled_avg_price: float | None = None
    last_error: str | None = None
    submit_attempts: int = 0

    def move(
        self,
        target: IntentStatus,
        now: datetime,
        broker_order_id: str | None = None,
        error: str | None = None,
    ) -> None:
        """Move to ``target``; a given broker_order_id or error replaces the one kept.

        Raises:
            IntentTransitionError: the lifecycle forbids the move (:func:`transition`).
        """
        self.status = transition(self.status, target)
        self.updated_at = now
        if broker_order_id is not None:
            self.broker_order_id = broker_order_id
        if error is not None:
            self.last_error = error

    def send_attempted(self, now: datetime) -> int:
        """Mark ``submitted`` before a send and count the attempt; returns the count.

        Raises:
            IntentTransitionError: the broker already acknowledged it (never sent twice).
        """
        self.move(IntentStatus.SUBMITTED, now)
        self.submit_attempts += 1
        return self.submit_attempts

    def filled(
        self,
        qty: int,
        cumulative_qty: int,
        cumulative_avg_price: float,
        broker_order_id: str,
        now: datetime,
    ) -> None:
        """Take a fill report that added shares to an order of ``qty`` (the broker's figures
        as it gives them; the status by :func:`status_after_fill`)."""
        self.status = status_after_fill(self.status, cumulative_qty, qty)
        self.filled_qty = cumulative_qty
        self.filled_avg_price = cumulative_avg_price
        if self.broker_order_id is None:
            self.broker_order_id = broker_order_id
        self.updated_at = now


@dataclass(frozen=True, slots=True, kw_only=True)
class IntentRecord(OrderIntent):
    """One row of ``order_intents``: the intent (its fields) plus what we learnt about it since
    (:class:`IntentProgress`'s fields)."""

    updated_at: datetime
    status: IntentStatus
    broker_order_id: str | None
    filled_qty: int
    filled_avg_price: float | None
    last_error: str | None
    submit_attempts: int

    @classmethod
    def of(cls, intent: OrderIntent, progress: IntentProgress) -> IntentRecord:
        """The record of ``intent`` as far as it has come: the intent's fields and the
        progress's, by name."""
        # Getters made once (below the class): a backtest builds a record per unfinished
        # intent at every refresh, and fleece.derive.shared_fields looks each name up anew.
        values = _intent_values(intent) + _progress_values(progress)
        return cls(**dict(zip(_RECORD_NAMES, values, strict=True)))

    def to_intent(self) -> OrderIntent:
        """Return the original :class:`OrderIntent` (e.g. to resubmit one still ``new``)."""
        return from_attributes(OrderIntent, self)

    def progress(self) -> IntentProgress:
        """What was learnt about the intent, as a copy to apply the lifecycle's changes to."""
        return from_attributes(IntentProgress, self)


_intent_values = attrgetter(*field_names(OrderIntent))
_progress_values = attrgetter(*field_names(IntentProgress))
_RECORD_NAMES = field_names(OrderIntent) + field_names(IntentProgress)


def written(intent: OrderIntent, status: IntentStatus) -> IntentProgress:
    """The progress of ``intent`` as it is first written, with ``status``."""
    return IntentProgress(status, intent.created_at)


def is_open(status: IntentStatus | str) -> bool:
    """True while the broker may still act on an intent with ``status``."""
    return status in OPEN_STATUSES


def knows_broker_status(broker_status: str) -> bool:
    """True for a broker order status this module knows how to read."""
    return broker_status in _BROKER_TO_INTENT


def broker_final(broker_status: str) -> bool:
    """True once the broker will not change an order in ``broker_status`` any more.

    ``done_for_day`` is not final (no more executions today, but a fill may still follow);
    an unknown status is not either (read as still working, :func:`status_for_broker`).
    """
    return _BROKER_TO_INTENT.get(broker_status, IntentStatus.ACCEPTED) in FINAL_STATUSES


def status_for_broker(broker_status: str, filled_qty: int) -> IntentStatus:
    """Our intent status for a broker order status (an unknown one keeps the intent open).

    An order still working after a fill (``done_for_day``, ``pending_cancel``...) is
    ``partially_filled``.
    """
    status = _BROKER_TO_INTENT.get(broker_status, IntentStatus.ACCEPTED)
    if status in (IntentStatus.ACCEPTED, IntentStatus.PENDING_NEW) and filled_qty > 0:
        return IntentStatus.PARTIALLY_FILLED
    return status


def as_status(value: IntentStatus | str) -> IntentStatus:
    """``value`` as a status (one already a status as it is: the backtest asks ~50k times).

    Raises:
        ValueError: ``value`` is not a status.
    """
    return value if isinstance(value, IntentStatus) else IntentStatus(value)


def transition(current: IntentStatus | str, target: IntentStatus | str) -> IntentStatus:
    """Return ``target`` as a status if an intent in ``current`` may move to it.

    Raises:
        ValueError: ``target`` is not a status.
        IntentTransitionError: the lifecycle forbids the move (a final status changing, an
            intent going back to ``new``, one already at the broker being sent again).
    """
    current, target = as_status(current), as_status(target)
    if target not in TRANSITIONS[current]:
        raise IntentTransitionError(f"an intent cannot go from {current} to {target}")
    return target


def status_after_fill(current: IntentStatus, cumulative_qty: int, qty: int) -> IntentStatus:
    """The status a fill report leaves: filled when complete, else partially filled.

    A partial fill of an order already canceled or expired leaves it so (the rest will never
    fill). A fill is a fact, so it moves any status, a final one included.
    """
    if cumulative_qty >= qty:
        return IntentStatus.FILLED
    if current in (IntentStatus.CANCELED, IntentStatus.EXPIRED):
        return current
    return IntentStatus.PARTIALLY_FILLED


@dataclass(frozen=True, slots=True)
class FillIncrement:
    """The new part of a cumulative fill report: shares, at a price in whole ticks."""

    qty: int
    price_ticks: int

    @property
    def price(self) -> float:
        """The price in dollars (at most 4 decimals)."""
        return self.price_ticks / TICKS_PER_DOLLAR


def round_half_even(numerator: int, denominator: int) -> int:
    """``round(Fraction(numerator, denominator))`` (ties to even), without a Fraction.

    Integer arithmetic, as exact as Fraction and several times faster: the backtest records
    tens of thousands of fills.
    """
    if denominator < 0:
        numerator, denominator = -numerator, -denominator
    floor, remainder = divmod(numerator, denominator)
    twice = 2 * remainder
    if twice < denominator or (twice == denominator and floor % 2 == 0):
        return floor
    return floor + 1


def fill_increment(
    recorded: Iterable[tuple[int, float]], cumulative_qty: int, cumulative_avg_price: float
) -> FillIncrement | None:
    """The fill a cumulative report adds to the ``(qty, price)`` fills already recorded.

    Its qty is the increment over what is recorded; its price (whole ticks) makes the fills'
    ``sum(qty * price)`` equal ``cumulative_qty * cumulative_avg_price`` rounded once to the
    tick (half to even). That is exact whenever the executions were at tick prices (always,
    for Alpaca equities); otherwise each report is off by less than half a tick per share and
    errors never accumulate, since each report re-anchors to the broker's total.

    Returns:
        The increment, or None when the report adds nothing (a repeated or stale report), so
        re-reading an order never doubles a fill.

    Raises:
        ImpossibleFillError: the report implies a price <= 0.
    """
    recorded_qty = recorded_ticks = 0
    for qty, price in recorded:
        recorded_qty += qty
        recorded_ticks += qty * to_ticks(price)
    increment = cumulative_qty - recorded_qty
    if increment <= 0:
        return None
    # as_integer_ratio() is exact, so the broker's total is rounded once, to the tick.
    numerator, denominator = cumulative_avg_price.as_integer_ratio()
    total_ticks = round_half_even(numerator * cumulative_qty * TICKS_PER_DOLLAR, denominator)
    price_ticks = round_half_even(total_ticks - recorded_ticks, increment)
    if price_ticks <= 0:
        raise ImpossibleFillError(
            f"the report implies a non-positive price "
            f"(cumulative {cumulative_qty} @ {cumulative_avg_price})"
        )
    return FillIncrement(increment, price_ticks)
