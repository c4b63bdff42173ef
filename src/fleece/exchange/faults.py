"""Fault injection for the built-in exchange: the broker's bad day, seeded and replayable.

An ASGI layer in front of the exchange's app (:class:`~fleece.exchange.fault_layer.FaultLayer`)
turns a seeded fraction of the answers into what a real broker does on a bad day, of the kinds a
:class:`~fleece.exchange.fault_plan.FaultPlan` names; this module's :class:`FaultInjector`
decides which request meets which fault, and counts.

Every decision draws from one ``random.Random(seed)`` in the order requests arrive, so a bot that
sends the same requests meets the same faults: a failing run is replayed with its seed. The
admin routes (``/v1/sim/...``) are never faulted. Whatever the faults, the injector counts every
``POST /v2/orders`` attempt per client_order_id as it arrives: a resent order always shows as a
duplicate, even when the exchange never processed either copy. The one exception is an attempt
answered with an injected 429: like Alpaca's rate limiter, it certainly did not reach the
exchange, and sending the same client_order_id again after the reset is what a client should do
(the rate limiter's own 429s never reach this layer).
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypedDict

from fleece.exchange.asgi import ADMIN_PREFIX
from fleece.exchange.fault_plan import BY_CLIENT_ID, ORDER_ONLY, FaultPlan

if TYPE_CHECKING:
    from fleece.exchange.orders import SimOrder

SERVER_ERRORS = (500, 502, 503, 504)
ORDERS_PATH = "/v2/orders"


@dataclass(frozen=True, slots=True)
class Fault:
    """One decision: the kind, and the status a ``5xx`` answers with."""

    kind: str
    status: int = 0


class SavedCounts(TypedDict):
    """The injector's counters as the exchange's state file keeps them."""

    requests: int
    injected: dict[str, int]
    order_attempts: dict[str, int]
    partial: list[str]
    done_for_day: list[str]


@dataclass
class _Counts:
    requests: int = 0
    injected: Counter[str] = field(default_factory=Counter)
    order_attempts: Counter[str] = field(default_factory=Counter)


class FaultInjector:
    """Seeded, thread-safe fault decisions and the counters of what was injected.

    Args:
        plan: what to inject; change it at run time with :meth:`configure`.
    """

    def __init__(self, plan: FaultPlan | None = None) -> None:
        self._lock = threading.Lock()
        self._plan = plan or FaultPlan()
        self._rng = random.Random(self._plan.seed)
        self._counts = _Counts()
        self._partial: set[str] = set()
        self._done_for_day: set[str] = set()

    @property
    def plan(self) -> FaultPlan:
        """The plan in force."""
        return self._plan

    def configure(self, plan: FaultPlan) -> None:
        """Switch to ``plan`` and restart its random sequence from its seed."""
        with self._lock:
            self._plan = plan
            self._rng = random.Random(plan.seed)

    def decide(self, method: str, path: str, client_order_id: str | None = None) -> Fault | None:
        """Whether the request ``method path`` meets a fault, and which.

        Order-only kinds apply to ``POST /v2/orders``; ``partial`` needs a client_order_id (the
        engine recognises the order by it). Every call counts the request, and every order
        submission its client_order_id.
        """
        is_order = method == "POST" and path == ORDERS_PATH
        with self._lock:
            self._counts.requests += 1
            if is_order and client_order_id:
                self._counts.order_attempts[client_order_id] += 1
            plan = self._plan
            rate = plan.order_rate if is_order and plan.order_rate is not None else plan.rate
            if rate <= 0 or path.startswith(ADMIN_PREFIX):
                return None
            kinds = sorted(k for k in plan.kinds if is_order or k not in ORDER_ONLY)
            if not is_order or not client_order_id:
                kinds = [k for k in kinds if k not in BY_CLIENT_ID]
            # Draw even when no kind applies, so one request's fate never shifts the others'.
            roll, pick, status = self._rng.random(), self._rng.random(), self._rng.random()
            if roll >= rate or not kinds:
                return None
            kind = kinds[int(pick * len(kinds))]
            code = SERVER_ERRORS[int(status * len(SERVER_ERRORS))] if kind == "5xx" else 0
            self._counts.injected[kind] += 1
            if kind == "429" and is_order and client_order_id:
                # Refused before the exchange, as a rate limit refuses: not an attempt.
                self._counts.order_attempts[client_order_id] -= 1
                if not self._counts.order_attempts[client_order_id]:
                    del self._counts.order_attempts[client_order_id]
            if kind == "partial" and client_order_id:
                self._partial.add(client_order_id)
            if kind == "done_for_day" and client_order_id:
                self._done_for_day.add(client_order_id)
            return Fault(kind, code)

    def fill_qty(self, order: SimOrder) -> int:
        """Shares of ``order`` to fill now (the engine's hook): half at first for a chosen order."""
        remaining = order.qty - order.filled_qty
        with self._lock:
            split = order.client_order_id in self._partial and order.filled_qty == 0
        if split and order.qty > 1:
            return order.qty // 2
        return remaining

    def counts(self) -> dict[str, Any]:
        """What was injected and seen so far (``GET /v1/sim/faults``)."""
        with self._lock:
            attempts = self._counts.order_attempts
            return {
                "plan": self._plan.as_json(),
                "requests": self._counts.requests,
                "injected": dict(sorted(self._counts.injected.items())),
                "injected_total": sum(self._counts.injected.values()),
                "order_attempts": len(attempts),
                "duplicate_submissions": sum(n - 1 for n in attempts.values() if n > 1),
                "duplicated_client_order_ids": sorted(c for c, n in attempts.items() if n > 1),
            }

    def export_counts(self) -> SavedCounts:
        """The counters and partial-fill choices, for the exchange's state file."""
        with self._lock:
            return {
                "requests": self._counts.requests,
                "injected": dict(self._counts.injected),
                "order_attempts": dict(self._counts.order_attempts),
                "partial": sorted(self._partial),
                "done_for_day": sorted(self._done_for_day),
            }

    def import_counts(self, saved: SavedCounts) -> None:
        """Restore what :meth:`export_counts` returned (after an exchange restart)."""
        with self._lock:
            self._counts = _Counts(
                requests=int(saved.get("requests", 0)),
                injected=Counter({str(k): int(v) for k, v in saved.get("injected", {}).items()}),
                order_attempts=Counter(
                    {str(k): int(v) for k, v in saved.get("order_attempts", {}).items()}
                ),
            )
            self._partial = {str(c) for c in saved.get("partial", [])}
            self._done_for_day = {str(c) for c in saved.get("done_for_day", [])}

    def done_for_day_ids(self) -> frozenset[str]:
        """The client_order_ids whose answers show ``done_for_day`` while they work."""
        with self._lock:
            return frozenset(self._done_for_day)
