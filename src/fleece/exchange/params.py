"""Query-string values as Alpaca's clients send them: RFC 3339 or plain dates, True/true."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation

from pydantic import BaseModel, ConfigDict

from fleece.calendar import day_start
from fleece.exchange.orders import ExchangeError

#: Any quantity or price a client sends is refused beyond this (no share or price comes close),
#: so exact arithmetic on it (integers, cents, ticks) stays within Decimal's 28 digits.
MAX_NUMBER = Decimal(10**12)
MAX_NUMBER_CHARS = 40
MAX_SHOWN = 48  # characters of a client's value quoted back in an error


class RawQuery(BaseModel):
    """A route's query parameters as the plain strings the client sent (a subclass names them,
    each ``str | None = None``). The route checks every value and refuses a bad one with
    Alpaca's 422 in its own words, so that no value is refused in FastAPI's."""

    model_config = ConfigDict(frozen=True)


def parse_time(value: str, name: str, code: int) -> datetime:
    """An RFC 3339 instant (naive means UTC) or a ``YYYY-MM-DD`` day (New York midnight).

    Raises:
        ExchangeError: 422 with ``code`` when ``value`` is neither.
    """
    text = value.strip()
    try:
        if len(text) == 10:
            return day_start(date.fromisoformat(text))
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ExchangeError(422, code, f"invalid {name}: {shown(value)}") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def parse_day(value: str, name: str, code: int) -> date:
    """A ``YYYY-MM-DD`` day (an RFC 3339 instant is cut to its date)."""
    try:
        return date.fromisoformat(value.strip()[:10])
    except ValueError:
        raise ExchangeError(422, code, f"invalid {name}: {shown(value)}") from None


def parse_bool(value: str | None) -> bool:
    """``True``/``true``/``1`` as True (alpaca-py sends Python's ``True``)."""
    return value is not None and value.strip().lower() in {"true", "1", "yes"}


def parse_decimal(value: object, name: str, code: int) -> Decimal:
    """A finite decimal number from a JSON number or string, at most :data:`MAX_NUMBER` in size.

    The bound comes before any arithmetic: ``"1e1000000"`` parses in an instant, but turning it
    into an integer or rounding it to the cent would hold the exchange for seconds.
    """
    text = str(value).strip()
    if len(text) > MAX_NUMBER_CHARS:
        raise ExchangeError(422, code, f"invalid {name}: longer than {MAX_NUMBER_CHARS} characters")
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise ExchangeError(422, code, f"invalid {name}: {shown(value)}") from None
    if not number.is_finite():
        raise ExchangeError(422, code, f"invalid {name}: {shown(value)}")
    if number.copy_abs() > MAX_NUMBER:  # copy_abs: exact, abs() may overflow the context
        raise ExchangeError(422, code, f"invalid {name}: {shown(value)} is out of range")
    return number


def shown(value: object) -> str:
    """``value`` as an error message quotes it: its repr, cut to a readable length."""
    text = repr(value)
    return text if len(text) <= MAX_SHOWN else f"{text[:MAX_SHOWN]}..."
