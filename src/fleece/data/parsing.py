"""Reading raw bars: an API object or a file row into a :class:`~fleece.models.Bar`, never raising.

:func:`parse_bar` reads a whole bar; :func:`parse_timestamp`, :func:`parse_float` and
:func:`parse_int` read one value each (the column-wise file reader uses them too). A value that
cannot be read becomes a reason of :mod:`fleece.data.validate`'s vocabulary (``missing_field``,
``wrong_type``, ``naive_timestamp``); judging the values read is
:func:`~fleece.data.validate.bar_problem`'s.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from fleece.models import Bar

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
"""Where the column-wise readers count bar starts from, in microseconds (:data:`ONE_US`)."""
ONE_US = timedelta(microseconds=1)
US_PER_S = 1_000_000

# (Alpaca's short key, our long key) for every field parse_bar understands.
_KEYS: dict[str, tuple[str, str]] = {
    "timestamp": ("t", "timestamp"),
    "open": ("o", "open"),
    "high": ("h", "high"),
    "low": ("l", "low"),
    "close": ("c", "close"),
    "volume": ("v", "volume"),
    "trade_count": ("n", "trade_count"),
    "vwap": ("vw", "vwap"),
}


def parse_bar(symbol: str, raw: Mapping[str, object]) -> Bar | str:
    """Turn an API object or a CSV row into a :class:`Bar`, never raising.

    Accepts Alpaca's keys (``t o h l c v n vw``) or long names (``timestamp open high low
    close volume trade_count vwap``). Numbers may be given as strings; timestamps as ISO-8601
    strings with an offset or ``Z``, or as aware datetimes. The timestamp is converted to UTC.
    Prices are not judged here: pass the result through :func:`bar_problem`.

    Args:
        symbol: the symbol to put on the bar.
        raw: the mapping to read.

    Returns:
        The bar, or a reason: ``"missing_field"``, ``"wrong_type"`` or ``"naive_timestamp"``.
    """
    values: dict[str, object] = {}
    for field, keys in _KEYS.items():
        values[field] = _lookup(raw, keys)
    required = ("timestamp", "open", "high", "low", "close", "volume")
    if any(values[f] is None or values[f] == "" for f in required):
        return "missing_field"
    ts = parse_timestamp(values["timestamp"])
    if isinstance(ts, str):
        return ts
    prices = [parse_float(values[f]) for f in ("open", "high", "low", "close")]
    volume = parse_int(values["volume"])
    trade_count = parse_int(values["trade_count"]) if _present(values["trade_count"]) else None
    vwap = parse_float(values["vwap"]) if _present(values["vwap"]) else None
    if any(p is None for p in prices) or volume is None:
        return "wrong_type"
    if _present(values["trade_count"]) and trade_count is None:
        return "wrong_type"
    if _present(values["vwap"]) and vwap is None:
        return "wrong_type"
    open_, high, low, close = (p for p in prices if p is not None)
    return Bar(symbol, ts, open_, high, low, close, volume, trade_count, vwap)


def _lookup(raw: Mapping[str, object], keys: tuple[str, str]) -> object:
    for key in keys:
        if key in raw:
            return raw[key]
    return None


def _present(value: object) -> bool:
    return value is not None and value != ""


def parse_timestamp(value: object) -> datetime | str:
    """Read an aware timestamp (ISO-8601 string or datetime) as UTC.

    Returns:
        The UTC datetime, or ``"naive_timestamp"`` / ``"wrong_type"``.
    """
    if isinstance(value, str):
        try:
            # fromisoformat accepts "Z" and offsets from Python 3.11 on.
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            return "wrong_type"
    if not isinstance(value, datetime):
        return "wrong_type"
    if value.tzinfo is None or value.utcoffset() is None:
        return "naive_timestamp"
    return value.astimezone(UTC)


def parse_float(value: object) -> float | None:
    """Read a float from a number or numeric string; None when it is not one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, numbers.Real):  # also numpy scalars, which pandas and pyarrow hand out
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def parse_int(value: object) -> int | None:
    """Read an integer from an int, an integral float or a numeric string; else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            pass  # "1200.0" is still a whole number: try it as a float below
    number = parse_float(value)
    if number is None or not math.isfinite(number) or not number.is_integer():
        return None
    return int(number)
