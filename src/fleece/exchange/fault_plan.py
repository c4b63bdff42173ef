"""What fault injection injects: the plan (rate, seed, kinds) and its admin-route form.

A :class:`FaultPlan` says what fraction of the built-in exchange's answers
:class:`~fleece.exchange.faults.FaultInjector` makes faulty, drawn from which seed, of which
kinds; :class:`~fleece.exchange.fault_layer.FaultLayer` applies them. Kinds (``FAULT_KINDS``):

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
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

from fleece.errors import ConfigError

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
