"""Orders as the simulated exchange holds them, and the refusals it answers with.

Codes and statuses follow Alpaca's: a refusal carries the HTTP status and the numeric ``code``
that goes into the ``{"code": ..., "message": ...}`` body.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, fields
from datetime import datetime
from enum import StrEnum
from operator import attrgetter
from typing import Any

from fleece.errors import FleeceError
from fleece.intents import broker_final
from fleece.models import CODE_INVALID_ORDER, Side

# Alpaca's error codes, by the situation they name (CODE_INVALID_ORDER: fleece.models, which the
# bot reads a reused client_order_id's refusal by).
CODE_UNAUTHORIZED = 40110000
CODE_FORBIDDEN = 40310000
CODE_NOT_FOUND = 40410000
CODE_UNPROCESSABLE = 42210000
CODE_RATE_LIMITED = 42910000

#: Alpaca's answer to an order placed while an opposite-side order of the symbol is open.
WASH_TRADE_MESSAGE = "potential wash trade detected. use complex orders"


class OrderType(StrEnum):
    """The order types the exchange fills (Alpaca's equity types)."""

    MARKET = "market"
    LIMIT = "limit"
    STOP = "stop"
    STOP_LIMIT = "stop_limit"
    TRAILING_STOP = "trailing_stop"

    @property
    def is_stop(self) -> bool:
        """True for the types that wait for a stop price (stop, stop_limit, trailing_stop)."""
        return self in (OrderType.STOP, OrderType.STOP_LIMIT, OrderType.TRAILING_STOP)

    @property
    def has_limit(self) -> bool:
        """True for the types that carry a limit price."""
        return self in (OrderType.LIMIT, OrderType.STOP_LIMIT)


class OrderClass(StrEnum):
    """Alpaca's order classes for equities (``mleg`` is for options only)."""

    SIMPLE = "simple"
    BRACKET = "bracket"
    OCO = "oco"
    OTO = "oto"


class TimeInForce(StrEnum):
    """The time-in-force values the exchange honours."""

    DAY = "day"
    GTC = "gtc"


class OrderStatus(StrEnum):
    """The subset of Alpaca's order statuses the exchange produces.

    A submission is answered ``pending_new`` while the regular session is open and ``accepted``
    while it is closed; the order becomes ``new`` when it is routed (at the next request, or at
    the next open), then ``partially_filled``/``filled``, ``canceled`` or ``expired``. The exit
    legs of a bracket or OTO order are ``held`` until their entry fills; an order replaced
    (``PATCH``) is ``replaced``.
    """

    HELD = "held"
    REPLACED = "replaced"
    ACCEPTED = "accepted"
    PENDING_NEW = "pending_new"
    NEW = "new"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELED = "canceled"
    EXPIRED = "expired"

    @property
    def is_open(self) -> bool:
        """True while the order can still fill or be cancelled."""
        return self in _OPEN_STATUSES


# Open is "not final" by the one table of Alpaca's statuses (fleece.intents), which the bot reads
# the exchange's answers by: held, accepted, pending_new, new and partially_filled.
_OPEN_STATUSES = frozenset(status for status in OrderStatus if not broker_final(status))


class ExchangeError(FleeceError):
    """The exchange refuses a request; becomes an HTTP error in Alpaca's shape.

    Args:
        status: the HTTP status (403, 404, 422).
        code: Alpaca's numeric error code.
        message: one line, no secrets.
    """

    def __init__(self, status: int, code: int, message: str) -> None:
        self.status = status
        self.code = code
        self.message = message
        super().__init__(message)


def invalid(message: str) -> ExchangeError:
    """A 422 for an order that cannot be accepted as written."""
    return ExchangeError(422, CODE_INVALID_ORDER, message)


def forbidden(message: str) -> ExchangeError:
    """A 403 for an order the account cannot afford or cover."""
    return ExchangeError(403, CODE_FORBIDDEN, message)


def unprocessable(message: str) -> ExchangeError:
    """A 422 for an order on an asset that cannot be traded now."""
    return ExchangeError(422, CODE_UNPROCESSABLE, message)


def wash_trade() -> ExchangeError:
    """Alpaca's 403 for an order against an open opposite-side order of the same symbol."""
    return ExchangeError(403, CODE_FORBIDDEN, WASH_TRADE_MESSAGE)


def not_found(message: str) -> ExchangeError:
    """A 404 for an unknown order, position or asset."""
    return ExchangeError(404, CODE_NOT_FOUND, message)


@dataclass(frozen=True, slots=True)
class ExitLegs:
    """The exit legs a bracket, OCO or OTO order asks for (``take_profit``/``stop_loss``)."""

    take_profit: float | None = None  # take_profit.limit_price
    stop_price: float | None = None  # stop_loss.stop_price
    stop_limit: float | None = None  # stop_loss.limit_price (a stop-limit leg)


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """A validated order submission (what the client asked for)."""

    symbol: str
    qty: int
    side: Side
    type: OrderType
    time_in_force: TimeInForce
    limit_price: float | None = None
    client_order_id: str | None = None
    stop_price: float | None = None
    trail_price: float | None = None
    trail_percent: float | None = None
    order_class: OrderClass = OrderClass.SIMPLE
    legs: ExitLegs | None = None

    def terms(self) -> dict[str, Any]:
        """What the order takes from this request as it is, by :class:`SimOrder`'s field names:
        everything but the client order id (the engine's, generated when none is given) and
        the exit legs (orders of their own)."""
        return dict(zip(_TERMS, _terms_of(self), strict=True))


# The names terms() takes, and their getter, made once: the engine asks for every order.
_TERMS = tuple(f.name for f in fields(OrderRequest) if f.name not in {"client_order_id", "legs"})
_terms_of = attrgetter(*_TERMS)


@dataclass(frozen=True, slots=True)
class ReplaceRequest:
    """A validated ``PATCH /v2/orders/{id}`` body: what changes (None: kept)."""

    qty: int | None = None
    time_in_force: TimeInForce | None = None
    limit_price: float | None = None
    stop_price: float | None = None
    trail: float | None = None
    client_order_id: str | None = None


@dataclass(frozen=True, slots=True)
class SimOrder:
    """An order as the exchange knows it; replaced (never mutated) on every state change.

    ``eligible_from`` is the submission time floored to the minute: the first bar that may fill
    the order starts at or after it. ``expires_at`` is the session close for day orders.
    ``reserved_cents`` is the buying power a buy order holds while it is open.

    Stops: ``stop_price`` is the trigger (for a trailing stop, the current one, moved with
    ``hwm``, the best price seen since submission); ``triggered_at`` is set once it triggered
    (then it fills as a market order, a stop-limit as a limit order). Classes: the primary order
    of a bracket, OCO or OTO lists its ``legs`` (order ids); a leg names its ``parent_id``.
    Replacing: the old order names its successor in ``replaced_by``, the new one it in
    ``replaces``.
    """

    id: str
    client_order_id: str
    symbol: str
    side: Side
    type: OrderType
    time_in_force: TimeInForce
    qty: int
    limit_price: float | None
    submitted_at: datetime
    eligible_from: datetime
    expires_at: datetime | None
    reserved_cents: int
    status: OrderStatus
    updated_at: datetime
    filled_qty: int = 0
    filled_avg_price: float | None = None
    filled_at: datetime | None = None
    canceled_at: datetime | None = None
    expired_at: datetime | None = None
    stop_price: float | None = None
    trail_price: float | None = None
    trail_percent: float | None = None
    hwm: float | None = None
    triggered_at: datetime | None = None
    order_class: OrderClass = OrderClass.SIMPLE
    parent_id: str | None = None
    legs: tuple[str, ...] = ()
    replaced_at: datetime | None = None
    replaced_by: str | None = None
    replaces: str | None = None

    @property
    def remaining(self) -> int:
        """Shares still to fill."""
        return self.qty - self.filled_qty


class IdSource:
    """Deterministic uuid4-shaped ids from a seeded RNG, so runs are reproducible."""

    _rng: random.Random  # declared for the exchange's state file (its position is saved)

    def __init__(self, seed: int) -> None:
        self._rng = random.Random(seed)

    def next_id(self) -> str:
        """Return the next id, e.g. ``'3f0c...-4...'``."""
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))


def asset_id(symbol: str) -> str:
    """The stable asset id of ``symbol`` (the same in every run)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"fleece-exchange/asset/{symbol}"))
