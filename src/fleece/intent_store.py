"""What a store of order intents answers, and the lifecycle steps both stores share.

The order manager needs these calls of its store (:class:`IntentStore`). The SQLite
:class:`~fleece.state_store.StateStore` and the backtest's in-memory
:class:`~fleece.backtest.memory_store.MemoryStore` both subclass it: each keeps intents and
fills its own way (the hooks at the end of the class), and both take the steps of an intent's
life (a status change, a send attempt, a fill report) as they are written here, once, over
the rules of :mod:`fleece.intents`. A protocol rather than a plain base class because the
trader's store protocol (:class:`~fleece.trader.TraderStore`) extends it.
"""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import AbstractContextManager
from datetime import date, datetime
from typing import Protocol

from fleece.intents import (
    IntentError,
    IntentProgress,
    IntentRecord,
    IntentStatus,
    as_status,
    fill_increment,
    written,
)
from fleece.models import Fill, OrderIntent, Side
from fleece.store.schema import StateStoreError


class FillReportError(StateStoreError):
    """A broker's fill report no sequence of executions can produce: nothing was recorded."""


class IntentStore(Protocol):
    """The part of a store the order manager uses (StateStore's, MemoryStore's)."""

    def add_intent(
        self,
        intent: OrderIntent,
        status: IntentStatus | str = IntentStatus.NEW,
        count_on: date | None = None,
    ) -> bool:
        """Write ``intent`` with ``status``; return False if its client_order_id already existed.

        Idempotent: an existing intent is left untouched, so replaying a signal never resets
        an intent that is already at the broker.

        Args:
            intent: the order intent.
            status: its first status (``new``, or ``dry_run`` for one never sent; any status
                is stored, e.g. by tools that rebuild a store).
            count_on: when given, session day whose ``trades_submitted`` counts this intent,
                together with the write: a crash can never leave a written (and then sent)
                order out of the day's count, nor count an order that was never written.
        """
        return self._write_intent(intent, written(intent, as_status(status)), count_on)

    def get_intent(self, cid: str) -> IntentRecord | None:
        """Return the intent with client_order_id ``cid``, or None."""
        ...

    def unfinished_intents(self) -> list[IntentRecord]:
        """Return intents the broker may still act on (new, submitted, accepted, ...)."""
        ...

    def set_breaker(self, tripped: bool, consecutive: int, now: datetime) -> None:
        """Keep the circuit breaker's state."""
        ...

    def set_intent_status(
        self,
        cid: str,
        status: IntentStatus | str,
        *,
        broker_order_id: str | None = None,
        error: str | None = None,
        now: datetime,
    ) -> None:
        """Set an intent's status; a given broker_order_id or error is recorded too.

        Raises:
            ValueError: ``status`` is not an intent status.
            StateStoreError: no intent has client_order_id ``cid``, or its lifecycle forbids
                the change (:func:`fleece.intents.transition`).
        """
        target = as_status(status)
        with self._changing(cid) as (_, progress):
            try:
                progress.move(target, now, broker_order_id, error)
            except IntentError as exc:
                raise StateStoreError(f"{cid!r}: {exc}") from exc
            self._keep(cid, progress)

    def mark_submit_attempt(self, cid: str, now: datetime) -> int:
        """Record that a submit is about to be sent; call BEFORE the HTTP request.

        Sets status ``submitted`` (outcome unknown until the broker answers) and returns the
        new number of attempts. After a crash, ``submitted`` means: look the order up by
        client_order_id, never blindly resend.

        Raises:
            StateStoreError: no intent has client_order_id ``cid``, or it is past sending
                (already at the broker, or final): an order is never sent twice.
        """
        with self._changing(cid) as (_, progress):
            try:
                attempts = progress.send_attempted(now)
            except IntentError as exc:
                raise StateStoreError(f"{cid!r}: {exc}") from exc
            self._keep(cid, progress)
        return attempts

    def record_fill(  # noqa: PLR0917 (the documented positional API)
        self,
        cid: str,
        broker_order_id: str,
        symbol: str,
        side: Side,
        cumulative_qty: int,
        cumulative_avg_price: float,
        timestamp: datetime,
    ) -> Fill | None:
        """Record the broker's cumulative fill state of an order as one new fill.

        The fill is the increment :func:`fleece.intents.fill_increment` finds over the fills
        already recorded (whole ticks; the fills' ``sum(qty * price)`` follows the broker's
        total to the tick). The intent's filled_qty, filled_avg_price (as the broker reports
        it) and status change with it, as :meth:`fleece.intents.IntentProgress.filled` says.

        Returns:
            The Fill recorded, or None if nothing new (a repeated or stale report).

        Raises:
            StateStoreError: ``cid`` is unknown.
            FillReportError: the report implies a price <= 0 (nothing is recorded).
        """
        with self._changing(cid) as (qty, progress):
            try:
                new = fill_increment(self._recorded(cid), cumulative_qty, cumulative_avg_price)
            except IntentError as exc:
                raise FillReportError(f"fill report for {cid!r}: {exc}") from exc
            if new is None:
                return None
            fill = self._keep_fill(
                Fill(cid, broker_order_id, symbol, side, new.qty, new.price, timestamp),
                cumulative_qty,
            )
            progress.filled(qty, cumulative_qty, cumulative_avg_price, broker_order_id, timestamp)
            self._keep(cid, progress)
        return fill

    # -- what each store keeps its own way ----------------------------------------------------
    def _write_intent(
        self, intent: OrderIntent, progress: IntentProgress, count_on: date | None
    ) -> bool:
        """Write a new intent (False, nothing changed, if its client_order_id exists)."""
        ...

    def _changing(self, cid: str) -> AbstractContextManager[tuple[int, IntentProgress]]:
        """The ordered qty and the progress of intent ``cid``, to change and then :meth:`_keep`.

        One transaction in a store that has them: the calls above read and write inside it.

        Raises:
            StateStoreError: no intent has client_order_id ``cid``.
        """
        ...

    def _keep(self, cid: str, progress: IntentProgress) -> None:
        """Keep the changed ``progress`` of intent ``cid`` (inside :meth:`_changing`)."""
        ...

    def _recorded(self, cid: str) -> Iterable[tuple[int, float]]:
        """The ``(qty, price)`` of the fills recorded for intent ``cid``."""
        ...

    def _keep_fill(self, fill: Fill, cumulative_qty: int) -> Fill:
        """Keep a new fill (reported with ``cumulative_qty``); returns it as kept."""
        ...
