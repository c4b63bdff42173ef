"""Fault injection for the built-in exchange: the broker's bad day, seeded and replayable.

An ASGI layer in front of the exchange's app (:class:`FaultLayer`) turns a seeded fraction of the
answers into what a real broker does on a bad day. Kinds (``FAULT_KINDS``):

- ``5xx``: 500, 502, 503 or 504 without processing the request;
- ``429``: "too many requests" with a ``Retry-After`` header, without processing;
- ``slow``: processed, answered only after ``slow_seconds`` (longer than the client's timeout);
- ``drop``: the connection is closed without an answer, the request not processed;
- ``ambiguous`` (order submissions): the exchange accepts the order, the client sees the
  connection drop: it cannot know whether the order exists;
- ``reject`` (order submissions): a definite refusal (403), the order does not exist;
- ``partial`` (order submissions): the order is accepted and fills in two parts, a bar apart;
- ``garbage``: processed, answered 200 with an HTML page or an empty body (not in the defaults).
- ``done_for_day`` (order submissions, not in the defaults): the order is accepted and works as
  usual, but every answer shows it ``done_for_day`` while it is ``new`` or ``partially_filled``
  (Alpaca's "no more executions today", which is not final): a fill may follow, and must be
  recorded. With partial fills on, the order is seen ``done_for_day`` with a part filled, then
  ``filled``.

Every decision draws from one ``random.Random(seed)`` in the order requests arrive, so a bot that
sends the same requests meets the same faults: a failing run is replayed with its seed. The
admin routes (``/v1/sim/...``) are never faulted. Whatever the faults, the layer counts every
``POST /v2/orders`` attempt per client_order_id as it arrives: a resent order always shows as a
duplicate, even when the exchange never processed either copy. The one exception is an attempt
answered with an injected 429: like Alpaca's rate limiter, it certainly did not reach the
exchange, and sending the same client_order_id again after the reset is what a client should do
(the rate limiter's own 429s never reach this layer).
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Any, TypedDict

from fleece.errors import ConfigError
from fleece.exchange.asgi import (
    ASGIApp,
    HttpLayer,
    Message,
    Receive,
    Scope,
    Send,
    read_body,
    replay_body,
    send_answer,
    send_error,
)

if TYPE_CHECKING:
    from fleece.exchange.orders import SimOrder

log = logging.getLogger(__name__)

#: Every kind the injector knows; ``garbage`` and ``done_for_day`` are opt-in.
FAULT_KINDS = (
    "5xx",
    "429",
    "slow",
    "drop",
    "ambiguous",
    "reject",
    "partial",
    "garbage",
    "done_for_day",
)
#: What ``--faults`` means when not given.
DEFAULT_KINDS = frozenset(("5xx", "429", "slow", "drop", "ambiguous", "reject", "partial"))
#: Kinds that only make sense for an order submission.
ORDER_ONLY = frozenset(("ambiguous", "reject", "partial", "done_for_day"))
#: Order-only kinds that need the client_order_id (the order is recognised by it later).
BY_CLIENT_ID = frozenset(("partial", "done_for_day"))
#: Statuses an order answer shows as ``done_for_day`` for an order chosen for that kind.
_WORKING = frozenset(("new", "partially_filled"))
SERVER_ERRORS = (500, 502, 503, 504)
ORDERS_PATH = "/v2/orders"
ADMIN_PREFIX = "/v1/sim/"
HTML_PAGE = b"<html><head><title>502 Bad Gateway</title></head><body>bad gateway</body></html>"


@dataclass(frozen=True, slots=True)
class FaultPlan:
    """What to inject: ``rate`` of the answers faulty, of ``kinds``, drawn from ``seed``.

    Attributes:
        rate: the probability that one request meets a fault (0 disables injection).
        seed: seeds every decision, so a run can be replayed.
        kinds: the kinds to choose from (see ``FAULT_KINDS``).
        slow_seconds: how long a ``slow`` answer is held; make it longer than the client's
            request timeout.
        retry_after_seconds: the ``Retry-After`` of a 429 (seconds, may be fractional).
        order_rate: the probability for an order submission (default: ``rate``), so that a
            short session still meets the order-only kinds.
    """

    rate: float = 0.0
    seed: int = 0
    kinds: frozenset[str] = DEFAULT_KINDS
    slow_seconds: float = 20.0
    retry_after_seconds: float = 1.0
    order_rate: float | None = None

    def __post_init__(self) -> None:
        for name, value in (("rate", self.rate), ("order_rate", self.order_rate)):
            if value is not None and not 0.0 <= value <= 1.0:
                raise ConfigError("faults", name, f"must be between 0 and 1, got {value!r}")
        unknown = sorted(set(self.kinds) - set(FAULT_KINDS))
        if unknown:
            raise ConfigError(
                "faults", "kinds", f"unknown {', '.join(unknown)}; known: {', '.join(FAULT_KINDS)}"
            )
        if not 0 < self.slow_seconds <= 3600:
            raise ConfigError("faults", "slow_seconds", "must be > 0 and at most 3600")
        if not 0 <= self.retry_after_seconds <= 3600:
            raise ConfigError("faults", "retry_after_seconds", "must be between 0 and 3600")

    @classmethod
    def parse_kinds(cls, text: str) -> frozenset[str]:
        """``"5xx,429,drop"`` as a set of kinds; ``"all"`` means every kind.

        Raises:
            ConfigError: an unknown kind (one line).
        """
        names = {part.strip().lower() for part in text.split(",") if part.strip()}
        if names == {"all"}:
            return frozenset(FAULT_KINDS)
        unknown = sorted(names - set(FAULT_KINDS))
        if unknown:
            raise ConfigError(
                "faults", "kinds", f"unknown {', '.join(unknown)}; known: {', '.join(FAULT_KINDS)}"
            )
        return frozenset(names)

    def as_json(self) -> dict[str, Any]:
        """The plan as the admin route shows it."""
        shown = asdict(self)
        shown["kinds"] = sorted(self.kinds)
        return shown


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


def plan_from_json(body: dict[str, Any], current: FaultPlan) -> FaultPlan:
    """A new plan from an admin request body (missing fields keep their current values).

    Raises:
        ConfigError: a field is unknown or invalid (one line).
    """
    known = {"rate", "order_rate", "seed", "kinds", "slow_seconds", "retry_after_seconds"}
    unknown = sorted(set(body) - known)
    if unknown:
        raise ConfigError("faults", unknown[0], f"unknown field; known: {', '.join(sorted(known))}")
    changes: dict[str, Any] = {}
    try:
        if body.get("order_rate", 0) is None:
            changes["order_rate"] = None
        for name in ("rate", "order_rate", "slow_seconds", "retry_after_seconds"):
            if name == "order_rate" and body.get(name) is None:
                continue
            if name in body:
                changes[name] = _number(body[name], name)
        if "seed" in body:
            if isinstance(body["seed"], bool) or not isinstance(body["seed"], int):
                raise ConfigError("faults", "seed", "must be an integer")
            changes["seed"] = body["seed"]
        if "kinds" in body:
            kinds = body["kinds"]
            if isinstance(kinds, str):
                changes["kinds"] = FaultPlan.parse_kinds(kinds)
            elif isinstance(kinds, list) and all(isinstance(k, str) for k in kinds):
                changes["kinds"] = FaultPlan.parse_kinds(",".join(kinds))
            else:
                raise ConfigError("faults", "kinds", "must be a list of names or 'a,b,c'")
    except (TypeError, ValueError, OverflowError) as exc:  # e.g. a 400-digit integer
        raise ConfigError("faults", "(body)", str(exc)) from None
    return replace(current, **changes)


def _number(value: object, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError("faults", name, "must be a number")
    return float(value)


# ------------------------------------------------------------------------------------ the layer


@dataclass(eq=False)
class FaultLayer(HttpLayer):
    """ASGI layer applying a :class:`FaultInjector`'s decisions in front of ``app``.

    Args:
        app: the exchange's ASGI app.
        injector: decides and counts.
        before_answer: called (in a worker thread) before any answer to a request that may have
            changed the exchange's state is sent, e.g. to save it; see
            :mod:`fleece.exchange.state_file`.
    """

    injector: FaultInjector
    before_answer: Callable[[str, str], None] | None = None

    async def serve(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one HTTP request, faulty if the injector decides so."""
        method, path = str(scope.get("method", "")), str(scope.get("path", ""))
        raw_send = send  # uvicorn's own: _drop reaches the connection through it
        body: bytes | None = None
        client_order_id: str | None = None
        if method == "POST" and path == ORDERS_PATH:
            body = await read_body(receive) or b""  # no limit: never None
            client_order_id = _client_order_id(body)
            receive = replay_body(body, receive)
        fault = self.injector.decide(method, path, client_order_id)
        if fault is not None:
            log.info(
                "fault injected kind=%s status=%s request=%s %s",
                fault.kind,
                fault.status or "-",
                method,
                path,
            )
        send = self._saving(method, path, send)
        chosen = self.injector.done_for_day_ids()
        if chosen and path.startswith(ORDERS_PATH):
            send = _ShowingDoneForDay(send, chosen)
        kind = fault.kind if fault is not None else None
        if kind is None or kind in BY_CLIENT_ID:
            await self.app(scope, receive, send)
        elif kind == "5xx":
            await send_error(send, fault.status if fault else 500, "injected fault: server error")
        elif kind == "429":
            retry = _seconds_text(self.injector.plan.retry_after_seconds)
            await send_error(send, 429, "rate limit exceeded", [(b"retry-after", retry.encode())])
        elif kind == "reject":
            await send_error(send, 403, "order rejected (injected fault)")
        elif kind == "drop":
            await _drop(raw_send)
        elif kind == "ambiguous":
            await self.app(scope, receive, self._saving(method, path, _swallow))
            await _drop(raw_send)
        elif kind == "slow":
            answer = await _buffered(self.app, scope, receive)
            await asyncio.sleep(self.injector.plan.slow_seconds)
            for message in answer:
                await send(message)
        else:  # garbage
            await self.app(scope, receive, self._saving(method, path, _swallow))
            await _garbage(send, self.injector)

    def _saving(self, method: str, path: str, send: Send) -> Send:
        hook = self.before_answer
        if hook is None:
            return send
        done = False

        async def saving_send(message: Message) -> None:
            nonlocal done
            if not done and message.get("type") == "http.response.start":
                done = True
                # Off the event loop: saving takes the exchange's lock, which a request handler
                # in the thread pool may hold.
                await asyncio.to_thread(hook, method, path)
            await send(message)

        return saving_send


def _client_order_id(body: bytes) -> str | None:
    try:
        parsed = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    value = parsed.get("client_order_id") if isinstance(parsed, dict) else None
    return value if isinstance(value, str) and value else None


def _seconds_text(seconds: float) -> str:
    return str(int(seconds)) if float(seconds).is_integer() else f"{seconds:g}"


class _ShowingDoneForDay:
    """A ``send`` that shows the chosen working orders of an answer as ``done_for_day``."""

    def __init__(self, send: Send, chosen: frozenset[str]) -> None:
        self._send = send
        self._chosen = chosen
        self._start: Message | None = None
        self._chunks: list[bytes] = []
        self.__self__ = getattr(send, "__self__", None)  # the fault layer's drop needs it

    async def __call__(self, message: Message) -> None:
        if message.get("type") == "http.response.start":
            self._start = message
            return
        if message.get("type") != "http.response.body" or self._start is None:
            await self._send(message)
            return
        self._chunks.append(bytes(message.get("body", b"")))
        if message.get("more_body"):
            return
        body = _done_for_day(b"".join(self._chunks), self._chosen)
        headers = [(k, v) for k, v in self._start.get("headers", []) if k != b"content-length"]
        headers.append((b"content-length", str(len(body)).encode()))
        await self._send({**self._start, "headers": headers})
        await self._send({"type": "http.response.body", "body": body})


def _done_for_day(body: bytes, chosen: frozenset[str]) -> bytes:
    try:
        parsed = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return body

    def mark(node: Any) -> Any:
        if isinstance(node, list):
            return [mark(item) for item in node]
        if not isinstance(node, dict):
            return node
        node = {key: mark(value) for key, value in node.items()}
        if node.get("client_order_id") in chosen and node.get("status") in _WORKING:
            node["status"] = "done_for_day"
        return node

    return json.dumps(mark(parsed)).encode()


async def _swallow(message: Message) -> None:
    """A ``send`` that loses the answer (the exchange acted; the client never hears of it)."""


async def _buffered(app: ASGIApp, scope: Scope, receive: Receive) -> list[Message]:
    messages: list[Message] = []

    async def keep(message: Message) -> None:
        messages.append(message)

    await app(scope, receive, keep)
    return messages


async def _drop(send: Send) -> None:
    """Close the client's connection without a byte of answer.

    uvicorn passes its request cycle's bound ``send``; the cycle holds the transport. Closing
    it is what a crashed proxy does. If the server is not uvicorn, a truncated answer (headers
    promising a body that never comes) breaks the connection just as well.
    """
    transport = getattr(getattr(send, "__self__", None), "transport", None)
    if transport is not None and hasattr(transport, "close"):
        transport.close()
        # Let the server see the connection is gone, so it does not report a missing answer.
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        return
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json"), (b"content-length", b"4096")],
        }
    )
    raise ConnectionAbortedError("injected fault: connection dropped")


async def _garbage(send: Send, injector: FaultInjector) -> None:
    html = injector.counts()["requests"] % 2 == 0  # alternate, deterministically
    body = HTML_PAGE if html else b""
    await send_answer(send, 200, body, b"text/html" if html else b"application/json")
