"""The leaves of :mod:`fleece.exchange.typed_json`: scalars and two stateful builtins, checked.

Each loader takes what ``json.loads`` returned and gives the declared type, or raises
:class:`ShapeError` naming where; text is bounded before it is converted.
"""

from __future__ import annotations

import enum
import itertools
import random
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

# Longest text accepted for a timestamp or a decimal: bounded before it is converted.
MAX_SCALAR_CHARS = 64
_COUNT_REPR = re.compile(r"count\((-?\d+)\)")
_RANDOM_WORDS = 625  # Mersenne Twister: 624 words of state and the position


class ShapeError(ValueError):
    """A value read does not fit its declared type; the message says where and why."""


@dataclass(frozen=True, slots=True)
class Leaf:
    """What a leaf loader needs of its type: the kind, the class (enums), the choices (Literal)."""

    kind: str
    cls: type | None = None
    args: tuple[Any, ...] = ()


def expect(raw: Any, kind: type, where: str, what: str) -> Any:
    """``raw`` if it is a ``kind`` (a bool is never an int here), else :class:`ShapeError`."""
    if not isinstance(raw, kind) or (kind is int and isinstance(raw, bool)):
        raise ShapeError(f"{where}: expected {what}, got {json_name(raw)}")
    return raw


def json_name(raw: Any) -> str:
    """What ``raw`` is, in JSON's words ("a string", "null"), for error messages."""
    names = {bool: "a boolean", int: "a number", float: "a number", str: "a string"}
    names.update({list: "a list", dict: "an object", type(None): "null"})
    return names.get(type(raw), type(raw).__name__)


def _short_text(raw: Any, where: str, what: str) -> str:
    text: str = expect(raw, str, where, what)
    if len(text) > MAX_SCALAR_CHARS:
        raise ShapeError(f"{where}: {what} longer than {MAX_SCALAR_CHARS} characters")
    return text


def _load_datetime(raw: Any, where: str, leaf: Leaf) -> datetime:
    text = _short_text(raw, where, "a timestamp")
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise ShapeError(f"{where}: not a timestamp: {text!r}") from None
    if value.tzinfo is None:
        raise ShapeError(f"{where}: timestamp without a timezone: {text!r}")
    return value


def _load_date(raw: Any, where: str, leaf: Leaf) -> date:
    text = _short_text(raw, where, "a date")
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ShapeError(f"{where}: not a date: {text!r}") from None


def _load_decimal(raw: Any, where: str, leaf: Leaf) -> Decimal:
    text = _short_text(raw, where, "a decimal")
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ShapeError(f"{where}: not a decimal: {text!r}") from None
    if not value.is_finite():
        raise ShapeError(f"{where}: not a finite decimal: {text!r}")
    return value


def _load_timedelta(raw: Any, where: str, leaf: Leaf) -> timedelta:
    parts = expect(raw, list, where, "[days, seconds, microseconds]")
    if len(parts) != 3 or not all(type(p) is int for p in parts):
        raise ShapeError(f"{where}: expected [days, seconds, microseconds]")
    try:
        return timedelta(days=parts[0], seconds=parts[1], microseconds=parts[2])
    except OverflowError:
        raise ShapeError(f"{where}: a duration out of range") from None


def _load_float(raw: Any, where: str, leaf: Leaf) -> float:
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        raise ShapeError(f"{where}: expected a number, got {json_name(raw)}")
    return float(raw)


def _load_enum(raw: Any, where: str, leaf: Leaf) -> enum.Enum:
    assert leaf.cls is not None
    if isinstance(raw, bool) or not isinstance(raw, str | int):
        raise ShapeError(f"{where}: expected a {leaf.cls.__qualname__}, got {json_name(raw)}")
    try:
        member: enum.Enum = leaf.cls(raw)
    except ValueError:
        raise ShapeError(f"{where}: not a valid {leaf.cls.__qualname__}: {raw!r}") from None
    return member


def _load_literal(raw: Any, where: str, leaf: Leaf) -> Any:
    if not any(type(raw) is type(a) and raw == a for a in leaf.args):
        raise ShapeError(f"{where}: expected one of {list(leaf.args)}, got {raw!r}")
    return raw


def _load_none(raw: Any, where: str, leaf: Leaf) -> None:
    if raw is not None:
        raise ShapeError(f"{where}: expected null, got {json_name(raw)}")


LOADERS: dict[str, Any] = {
    "none": _load_none,
    "bool": lambda raw, where, leaf: expect(raw, bool, where, "a boolean"),
    "int": lambda raw, where, leaf: expect(raw, int, where, "an integer"),
    "str": lambda raw, where, leaf: expect(raw, str, where, "a string"),
    "float": _load_float,
    "datetime": _load_datetime,
    "date": _load_date,
    "decimal": _load_decimal,
    "timedelta": _load_timedelta,
    "enum": _load_enum,
    "literal": _load_literal,
}


# ---------------------------------------------------------------- the two stateful builtins


def count_position(value: Any) -> int:
    """The next value of an ``itertools.count`` (step 1), read from its repr."""
    match = _COUNT_REPR.fullmatch(repr(value)) if isinstance(value, itertools.count) else None
    if match is None:
        raise TypeError(f"an Iterator[int] is saved only as an itertools.count, not {value!r}")
    return int(match.group(1))


def load_random(raw: Any, where: str) -> random.Random:
    parts = expect(raw, list, where, "a random generator's state")
    if len(parts) != 3:
        raise ShapeError(f"{where}: expected [version, words, gauss]")
    version, words, gauss = parts
    expect(version, int, where, "a version number")
    expect(words, list, where, "a list of words")
    if len(words) != _RANDOM_WORDS or not all(type(w) is int and 0 <= w < 2**32 for w in words):
        raise ShapeError(f"{where}: expected {_RANDOM_WORDS} words of 32 bits")
    if gauss is not None:
        gauss = _load_float(gauss, where, Leaf("float"))
    rng = random.Random()
    try:
        rng.setstate((version, tuple(words), gauss))
    except (ValueError, TypeError) as exc:
        raise ShapeError(f"{where}: not a random generator's state ({exc})") from None
    return rng
