"""The order manager: intents become broker orders, broker facts become stored state.

Crash safety rests on three rules:

1. Every intent is written to ``order_intents`` (status ``new``) with a deterministic
   ``client_order_id`` BEFORE anything is sent; the same signal always yields the same id, so a
   replayed signal finds its intent already there and sends nothing.
2. Just before each send the intent is marked ``submitted`` (committed). After a crash, an intent
   in ``submitted`` is looked up by client_order_id: found means adopt, 404 means it never arrived.
   A send whose answer was lost is looked up at once, and again at the next refresh before a 404
   counts: the request may still have been on its way in.
3. Fills are recorded from the broker's cumulative ``filled_qty`` / ``filled_avg_price``, one
   ``trades`` row per increment, idempotently; so re-reading an order never doubles a fill and a
   fill missed while we were down is recorded on the next read.

A definite refusal (a wash trade, an asset not tradable, not enough buying power...) marks the
intent ``rejected`` with Alpaca's status, code and reason in ``last_error`` (see
:func:`~fleece.order_terms.rejection`), and counts toward the circuit breaker like any failed
order: the bot's own rules keep it from meeting them (exits cancel its own working buy first,
start-up drops what is not tradable, sells never exceed the position), so a streak of them means
its picture of the account is wrong (an order someone else left open, a halted symbol), which an
operator should look at before it sends more.

Every Alpaca order status is handled: an intent stays unfinished (and is read again at every
refresh) until the broker's status is final (``filled``, ``canceled``, ``expired``, ``rejected``,
``replaced``). ``done_for_day`` is not final (no more executions today, but the order lives on),
and a fill is recorded whatever status comes with it.

Protective orders held at the broker (:mod:`fleece.protection`) are intents like any other, but
they are not "pending" for the decisions: a position with its stop resting at Alpaca is held,
not waiting for an order. An OCO is read as one order with its leg (:func:`~fleece.protection.
as_one`), its fill booked against the leg that filled.

What the manager speaks in (the broker calls it needs, client_order_ids, submit outcomes) is
:mod:`fleece.order_terms`; its cancels (before an exit, before a close-out, stale orders) are
:mod:`fleece.order_cancels`, reached as ``OrderManager.cancels``; the book of its working
orders, which the decisions ask at every bar, is :mod:`fleece.working_orders`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import date, datetime, timedelta

from fleece.circuit_breaker import CircuitBreaker
from fleece.clock import Clock
from fleece.errors import AmbiguousSubmitError, BrokerError
from fleece.intent_store import FillReportError, IntentStore
from fleece.intents import SENDABLE_STATUSES, IntentStatus, knows_broker_status
from fleece.models import ENTRY_TIME_IN_FORCE, BrokerOrder, ExitOrder, Fill, OrderIntent, Side
from fleece.notify.events import NULL_SINK, BreakerTripped, EventSink
from fleece.order_cancels import OrderCancels
from fleece.order_terms import (
    BLOCKED,
    DUPLICATE,
    OrderBroker,
    SubmitOutcome,
    client_order_id,
    duplicate_id,
    intent_status_for,
    rejection,
)
from fleece.ownership import Close
from fleece.protection import as_one, filled_by, is_protective, protective_cid
from fleece.working_orders import Working, WorkingOrders

log = logging.getLogger(__name__)


class OrderManager(WorkingOrders):
    """Sends approved intents and turns broker answers into intents, fills and breaker state."""

    def __init__(
        self,
        store: IntentStore,
        broker: OrderBroker,
        clock: Clock,
        breaker: CircuitBreaker,
        *,
        dry_run: bool = False,
        time_in_force: str = ENTRY_TIME_IN_FORCE,
        on_fill: Callable[[Fill], None] | None = None,
    ) -> None:
        super().__init__()  # the book of working orders, loaded below
        self._store = store
        self._broker = broker
        self._clock = clock
        self._breaker = breaker
        self._dry_run = dry_run
        self._tif = time_in_force
        # Told of every fill recorded (the kernel points it at the trader's holdings).
        self.on_fill = on_fill
        # Told just before each order goes to the broker (the decision-latency timer).
        self.before_send: Callable[[], None] | None = None
        # Notifications (the circuit breaker tripping): the runtime injects its hub.
        self.events: EventSink = NULL_SINK
        self.submitted = 0
        self.failures = 0
        # Sends whose answer was lost and that the broker did not have yet: judged at the next
        # refresh (client_order_id -> why the answer was lost).
        self._unconfirmed: dict[str, str] = {}
        # Fill reports refused as impossible, told once each (the order is read every cycle).
        self._refused: set[tuple[str, int, float]] = set()
        # Cancels before an exit, a close-out or in housekeeping, recorded through apply().
        self.cancels = OrderCancels(store, broker, clock, self.apply, self._lookup_missing)
        self.reload_open()

    def reload_open(self) -> None:
        """Re-read unfinished intents from the store (after reconciliation changed them)."""
        self._open = {
            r.client_order_id: Working(
                r.symbol, r.side, r.qty, r.filled_qty, is_protective(r.strategy)
            )
            for r in self._store.unfinished_intents()
            if not r.dry_run
        }

    # ---- submission --------------------------------------------------------------------
    def make_intent(
        self, strategy: str, symbol: str, side: Side, qty: int, signal_ts: datetime
    ) -> OrderIntent:
        """Build the intent for an approved signal (pure)."""
        return OrderIntent(
            client_order_id=client_order_id(strategy, symbol, side, signal_ts),
            strategy=strategy,
            symbol=symbol,
            side=side,
            qty=qty,
            signal_timestamp=signal_ts,
            created_at=self._clock.now(),
            dry_run=self._dry_run,
        )

    def protective_intent(
        self, kind: str, symbol: str, qty: int, entry_cid: str, now: datetime
    ) -> OrderIntent:
        """The next protective intent of ``kind`` for the position ``entry_cid`` bought.

        Its client_order_id is the first of ``<kind>-0-<entry>``, ``<kind>-1-<entry>`` ... the
        store does not hold yet: the same after a restart, never one Alpaca saw before.
        """
        n = 0
        while self._store.get_intent(cid := protective_cid(kind, entry_cid, n)) is not None:
            n += 1
        return OrderIntent(cid, kind, symbol, Side.SELL, qty, now, now, self._dry_run)

    async def submit(
        self, intent: OrderIntent, count_on: date | None = None, shape: ExitOrder | None = None
    ) -> SubmitOutcome:
        """Write the intent, then send it once; never sends an intent that already exists.

        Args:
            intent: the order to place.
            count_on: session day whose trade count includes this order, counted as the intent
                is written (before anything is sent), so a crash mid-send cannot undercount.
            shape: a protective order's shape (a market order when None).
        """
        if self._breaker.tripped:
            return SubmitOutcome(intent.client_order_id, BLOCKED, error="circuit_breaker")
        status = IntentStatus.DRY_RUN if intent.dry_run else IntentStatus.NEW
        if not self._store.add_intent(intent, status=status, count_on=count_on):
            log.warning("intent exists, not sent again cid=%s", intent.client_order_id)
            return SubmitOutcome(intent.client_order_id, DUPLICATE)
        if intent.dry_run:
            log.info(
                "dry-run order cid=%s symbol=%s side=%s qty=%d",
                intent.client_order_id,
                intent.symbol,
                intent.side.value,
                intent.qty,
            )
            return SubmitOutcome(intent.client_order_id, IntentStatus.DRY_RUN)
        protective = is_protective(intent.strategy)
        working = Working(intent.symbol, intent.side, intent.qty, 0, protective)
        self._open[intent.client_order_id] = working
        return await self._send(
            intent.client_order_id, intent.symbol, intent.side, intent.qty, shape
        )

    async def _send(
        self, cid: str, symbol: str, side: Side, qty: int, shape: ExitOrder | None = None
    ) -> SubmitOutcome:
        self._store.mark_submit_attempt(cid, self._clock.now())
        self.submitted += 1
        if self.before_send is not None:
            self.before_send()
        try:
            if shape is None:
                order = await self._broker.submit_market(cid, symbol, side, qty, self._tif)
            else:
                order = await self._broker.submit_exit(cid, symbol, side, qty, shape)
        except AmbiguousSubmitError as exc:
            log.warning("order outcome unknown cid=%s reason=%s; looking it up", cid, exc)
            return await self._resolve_ambiguous(cid, str(exc))
        except BrokerError as exc:
            if duplicate_id(exc):
                # The broker already has this id: an earlier attempt did arrive. Adopt it.
                return await self._resolve_ambiguous(cid, str(exc))
            return self._failed(cid, IntentStatus.REJECTED, rejection(exc))
        self._breaker.record_success()
        self._persist_breaker()
        self.apply(order)
        log.info(
            "order submitted cid=%s id=%s symbol=%s side=%s qty=%d status=%s",
            cid,
            order.id,
            symbol,
            side.value,
            qty,
            order.status,
        )
        return SubmitOutcome(cid, intent_status_for(order), order)

    async def _resolve_ambiguous(self, cid: str, reason: str) -> SubmitOutcome:
        try:
            found = await self._broker.order_by_client_id(cid)
        except BrokerError as exc:
            # Still unknown: leave it 'submitted'; the next refresh or start-up looks again.
            log.warning("order still unknown cid=%s reason=%s", cid, exc)
            return SubmitOutcome(cid, IntentStatus.SUBMITTED, error=reason)
        if found is None:
            # Not there YET: a request whose answer timed out may still be queued on its way in
            # and arrive after this lookup. Failing it now would leave that order, and its fills,
            # untracked until the next start; the next refresh looks again.
            self._unconfirmed[cid] = reason
            log.warning("order not at broker yet cid=%s; looked up again next cycle", cid)
            return SubmitOutcome(cid, IntentStatus.SUBMITTED, error=reason)
        self._adopted(found)
        self.apply(found)
        return SubmitOutcome(cid, intent_status_for(found), found)

    def _adopted(self, found: BrokerOrder) -> None:
        self._unconfirmed.pop(found.client_order_id, None)
        self._breaker.record_success()
        self._persist_breaker()
        log.info(
            "order adopted after ambiguous submit cid=%s status=%s",
            found.client_order_id,
            found.status,
        )

    def _failed(self, cid: str, status: IntentStatus, reason: str) -> SubmitOutcome:
        self.failures += 1
        self._store.set_intent_status(cid, status, error=reason, now=self._clock.now())
        self._track(cid, status)
        tripped = self._breaker.record_failure()
        self._persist_breaker()
        log.error("order failed cid=%s status=%s reason=%s", cid, status, reason)
        if tripped:
            log.error(
                "circuit breaker tripped consecutive_failures=%d: trading HALTED",
                self._breaker.consecutive,
            )
            self.events.emit(BreakerTripped(self._clock.now(), self._breaker.consecutive, reason))
        return SubmitOutcome(cid, status, error=reason)

    def _persist_breaker(self) -> None:
        self._store.set_breaker(self._breaker.tripped, self._breaker.consecutive, self._clock.now())

    # ---- broker facts -> state -----------------------------------------------------------
    def apply(self, order: BrokerOrder) -> Fill | None:
        """Record what the broker says about one of our orders (idempotent)."""
        fill: Fill | None = None
        source = filled_by(order)  # an OCO's stop leg, when that is what filled
        order = as_one(order)
        if order.filled_qty > 0 and order.filled_avg_price is not None:
            try:
                fill = self._store.record_fill(
                    order.client_order_id,
                    source,
                    order.symbol,
                    order.side,
                    order.filled_qty,
                    order.filled_avg_price,
                    order.filled_at or order.updated_at,
                )
            except FillReportError as exc:
                # A bad answer, skipped alone: the intent keeps its fills and stays open, so the
                # order is read again next cycle; the broker's later total re-anchors the fills.
                report = (order.client_order_id, order.filled_qty, order.filled_avg_price)
                if report not in self._refused:
                    self._refused.add(report)
                    log.error("fill report refused cid=%s reason=%s", order.client_order_id, exc)
                return None
            if fill is not None:
                log.info(
                    "fill cid=%s symbol=%s side=%s qty=%d price=%.4f",
                    fill.client_order_id,
                    fill.symbol,
                    fill.side.value,
                    fill.qty,
                    fill.price,
                )
                if self.on_fill is not None:
                    self.on_fill(fill)
        if not knows_broker_status(order.status):
            log.warning(
                "unknown order status cid=%s status=%r", order.client_order_id, order.status
            )
        status = intent_status_for(order)
        self._store.set_intent_status(
            order.client_order_id, status, broker_order_id=order.id, now=self._clock.now()
        )
        working = self._open.get(order.client_order_id)
        if working is not None:
            working.filled = max(working.filled, order.filled_qty)
        self._track(order.client_order_id, status)
        return fill

    async def refresh(self) -> int:
        """Bring every unfinished intent up to date with ONE orders request; returns fills."""
        if not self._open:
            return 0
        pending = [r for r in self._store.unfinished_intents() if not r.dry_run]
        if not pending:
            self._open.clear()
            return 0
        # A protective order may rest for days: the listing starts at the oldest other order,
        # and a protective one older than that is looked up on its own.
        regular = [r for r in pending if not is_protective(r.strategy)]
        oldest = min(r.created_at for r in regular or pending)
        orders = await self._broker.orders("all", after=oldest - timedelta(minutes=1))
        by_cid = {o.client_order_id: o for o in orders}
        fills = 0
        for record in pending:
            order = by_cid.get(record.client_order_id)
            lost = record.status in SENDABLE_STATUSES or is_protective(record.strategy)
            if order is None and lost:
                order = await self._lookup_missing(record.client_order_id, record.status)
            if order is not None and record.client_order_id in self._unconfirmed:
                self._adopted(order)
            if order is not None and self.apply(order) is not None:
                fills += 1
        return fills

    async def _lookup_missing(self, cid: str, status: str) -> BrokerOrder | None:
        found = await self._broker.order_by_client_id(cid)
        if found is None and (reason := self._unconfirmed.pop(cid, None)) is not None:
            self._failed(cid, IntentStatus.FAILED, f"not at broker after: {reason}")
        elif found is None:
            # 'new' never left us; 'submitted' never arrived. Either way nothing is at the broker.
            self._store.set_intent_status(
                cid,
                IntentStatus.FAILED,
                error=f"not at broker (was {status})",
                now=self._clock.now(),
            )
            self._track(cid, IntentStatus.FAILED)
            log.warning("intent not found at broker, marked failed cid=%s was=%s", cid, status)
        return found

    async def broker_qty(self, symbol: str) -> int:
        """Shares of ``symbol`` the account holds long right now (0 when short or none)."""
        position = await self._broker.position(symbol)
        return max(0, position.qty) if position is not None else 0

    async def submit_closes(self, closes: Iterable[Close], tag: str) -> int:
        """Close positions through intents (so their fills land in ``trades``)."""
        now = self._clock.now()
        sent = 0
        for close in closes:
            if close.qty <= 0:
                continue
            intent = self.make_intent(tag, close.symbol, close.side, close.qty, now)
            outcome = await self.submit(intent)
            sent += outcome.sent
        return sent
