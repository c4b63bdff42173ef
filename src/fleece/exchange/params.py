"""Query-string values as Alpaca's clients send them: RFC 3339 or plain dates, True/true."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from decimal import Decimal, InvalidOperation

from fleece.calendar import NEW_YORK
from fleece.exchange.orders import ExchangeError


def parse_time(value: str, name: str, code: int) -> datetime:
    """An RFC 3339 instant (naive means UTC) or a ``YYYY-MM-DD`` day (New York midnight).

    Raises:
        ExchangeError: 422 with ``code`` when ``value`` is neither.
    """
    text = value.strip()
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), time(0), tzinfo=NEW_YORK)
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ExchangeError(422, code, f"invalid {name}: {value!r}") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def parse_day(value: str, name: str, code: int) -> date:
    """A ``YYYY-MM-DD`` day (an RFC 3339 instant is cut to its date)."""
    try:
        return date.fromisoformat(value.strip()[:10])
    except ValueError:
        raise ExchangeError(422, code, f"invalid {name}: {value!r}") from None


def parse_bool(value: str | None) -> bool:
    """``True``/``true``/``1`` as True (alpaca-py sends Python's ``True``)."""
    return value is not None and value.strip().lower() in {"true", "1", "yes"}


def parse_decimal(value: object, name: str, code: int) -> Decimal:
    """A finite decimal number from a JSON number or string."""
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise ExchangeError(422, code, f"invalid {name}: {value!r}") from None
    if not number.is_finite():
        raise ExchangeError(422, code, f"invalid {name}: {value!r}")
    return number
