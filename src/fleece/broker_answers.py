"""The broker's answers and failures, read defensively (the adapter's half that does no I/O).

An unknown status, a missing field or an HTML body becomes a :class:`~fleece.errors.BrokerError`
(or a skipped item), never a crash; a failure of alpaca-py or ``requests`` is sorted into
retryable, definite (the broker certainly did not act) or ambiguous.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, TypeVar

import requests
from alpaca.common.exceptions import APIError

from fleece.errors import BrokerError
from fleece.models import AccountSnapshot, BrokerOrder, CalendarDay, MarketClock, Position, Side

T = TypeVar("T")

RETRYABLE_STATUS = frozenset({408, 429, 500, 502, 503, 504})


@dataclass(frozen=True, slots=True)
class Failure:
    retryable: bool
    definite: bool  # the broker certainly did not act on the request
    status: int | None
    code: int | None
    message: str
    retry_after: float | None


def _retry_after(response: Any) -> float | None:
    if response is None:
        return None
    raw = response.headers.get("Retry-After") if hasattr(response, "headers") else None
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        return None
    return value if math.isfinite(value) and value >= 0 else None


def classify(exc: BaseException) -> Failure:
    """Sort an exception from alpaca-py/requests into retryable, definite or ambiguous."""
    if isinstance(exc, APIError):
        status = exc.status_code
        code: int | None = None
        message = "broker error"
        try:
            body = json.loads(str(exc))
            if isinstance(body, dict):
                code = body.get("code") if isinstance(body.get("code"), int) else None
                message = str(body.get("message", message))[:200]
        except (ValueError, TypeError):
            message = "non-JSON error body"
        retryable = status is None or status in RETRYABLE_STATUS
        definite = status is not None and 400 <= status < 500 and status not in {408}
        return Failure(retryable, definite, status, code, message, _retry_after(exc.response))
    if isinstance(exc, requests.exceptions.Timeout | requests.exceptions.ConnectionError):
        return Failure(True, False, None, None, f"network: {type(exc).__name__}", None)
    if isinstance(exc, requests.exceptions.RequestException):
        return Failure(True, False, None, None, f"request failed: {type(exc).__name__}", None)
    # A body we could not parse (HTML instead of JSON, a model validation error, ...).
    return Failure(True, False, None, None, f"unreadable answer: {type(exc).__name__}", None)


def as_time(raw: object) -> datetime | None:
    if not isinstance(raw, str) or not raw:
        return None
    try:
        ts = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return None
    return ts.astimezone(UTC) if ts.tzinfo else None


def as_number(raw: object) -> float | None:
    if raw is None or isinstance(raw, bool):
        return None
    try:
        value = float(raw)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def required(raw: Mapping[str, Any], key: str, conv: Callable[[object], T | None]) -> T:
    value = conv(raw.get(key))
    if value is None:
        raise BrokerError(f"bad broker answer: field {key!r} missing or invalid")
    return value


def parse_order(raw: object, depth: int = 0) -> BrokerOrder:
    """Parse one raw order dict, raising ``BrokerError`` when it is unusable.

    Its ``legs`` (a bracket's or an OCO's, one level deep as Alpaca nests them) are parsed too.
    """
    if not isinstance(raw, Mapping):
        raise BrokerError("bad broker answer: order is not an object")
    side_raw = raw.get("side")
    if side_raw not in ("buy", "sell"):
        raise BrokerError(f"bad broker answer: unknown side {side_raw!r}")
    qty = required(raw, "qty", as_number)
    created = required(raw, "created_at", as_time)
    return BrokerOrder(
        id=required(raw, "id", lambda v: v if isinstance(v, str) and v else None),
        client_order_id=required(
            raw, "client_order_id", lambda v: v if isinstance(v, str) and v else None
        ),
        symbol=required(raw, "symbol", lambda v: v if isinstance(v, str) and v else None),
        side=Side(side_raw),
        qty=int(qty),
        filled_qty=int(as_number(raw.get("filled_qty")) or 0),
        filled_avg_price=as_number(raw.get("filled_avg_price")),
        status=str(raw.get("status", "")),
        created_at=created,
        updated_at=as_time(raw.get("updated_at")) or created,
        filled_at=as_time(raw.get("filled_at")),
        legs=_legs(raw.get("legs"), depth),
    )


def _legs(raw: object, depth: int) -> tuple[BrokerOrder, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list) or depth > 0:
        raise BrokerError("bad broker answer: legs is not a list of orders")
    return tuple(parse_order(leg, depth + 1) for leg in raw)


def parse_account(raw: object) -> AccountSnapshot:
    """Parse ``GET /v2/account``: equity, cash, buying power and last (previous close) equity."""
    if not isinstance(raw, Mapping):
        raise BrokerError("bad broker answer: account is not an object")
    return AccountSnapshot(
        equity=required(raw, "equity", as_number),
        cash=required(raw, "cash", as_number),
        buying_power=required(raw, "buying_power", as_number),
        last_equity=as_number(raw.get("last_equity")) or required(raw, "equity", as_number),
        long_market_value=as_number(raw.get("long_market_value")) or 0.0,
        short_market_value=as_number(raw.get("short_market_value")) or 0.0,
    )


def parse_clock(raw: object) -> MarketClock:
    """Parse ``GET /v2/clock``."""
    if not isinstance(raw, Mapping):
        raise BrokerError("bad broker answer: clock is not an object")
    return MarketClock(
        timestamp=required(raw, "timestamp", as_time),
        is_open=bool(raw.get("is_open")),
        next_open=required(raw, "next_open", as_time),
        next_close=required(raw, "next_close", as_time),
    )


def parse_calendar_day(raw: Any) -> CalendarDay | None:
    """One day of ``GET /v2/calendar`` (``open``/``close`` as New York ``HH:MM``), in UTC
    instants; None when it cannot be read."""
    from fleece.calendar import NEW_YORK  # local: the calendar module loads exchange-calendars

    try:
        day = date.fromisoformat(raw["date"])
        o_h, o_m = map(int, raw["open"].split(":"))
        c_h, c_m = map(int, raw["close"].split(":"))
        opened = datetime(day.year, day.month, day.day, o_h, o_m, tzinfo=NEW_YORK)
        closed = datetime(day.year, day.month, day.day, c_h, c_m, tzinfo=NEW_YORK)
    except (KeyError, ValueError, TypeError, AttributeError):
        return None
    return CalendarDay(day, opened.astimezone(UTC), closed.astimezone(UTC))


def parse_position(raw: object) -> Position:
    """Parse one raw position dict."""
    if not isinstance(raw, Mapping):
        raise BrokerError("bad broker answer: position is not an object")
    return Position(
        symbol=required(raw, "symbol", lambda v: v if isinstance(v, str) and v else None),
        qty=int(required(raw, "qty", as_number)),
        avg_entry_price=required(raw, "avg_entry_price", as_number),
        market_value=as_number(raw.get("market_value")) or 0.0,
        unrealized_pl=as_number(raw.get("unrealized_pl")) or 0.0,
    )
