"""Specification of the typed JSON codec under the exchange's state file.

Values go to plain JSON by their declared types and come back through the same declarations:
a new field round-trips with no edit to the codec, an undeclared attribute is refused when saving
(never silently lost), and what belongs to the new process is taken from it, never from a file.
"""

from __future__ import annotations

import itertools
import json
import random
from collections import Counter, deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from enum import StrEnum
from typing import Any, Literal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fleece.exchange.typed_json import Codec, ShapeError


class Colour(StrEnum):
    RED = "red"
    BLUE = "blue"


@dataclass(frozen=True, slots=True)
class Leaf:
    at: datetime
    price: Decimal
    colour: Colour
    note: str | None = None


@dataclass(frozen=True)
class Everything:
    flag: bool
    count: int
    ratio: float
    day: date
    leaf: Leaf
    maybe: Leaf | None
    either: int | str
    mode: Literal["a", "b"]
    pair: tuple[int, str]
    many: tuple[Leaf, ...]
    tags: frozenset[str]
    by_number: dict[int, str]
    by_colour: dict[Colour, list[float]]
    window: deque[timedelta]
    tally: Counter[str] = field(default_factory=Counter)


class External:
    """Stands for the bars: the new process has them, a file never does."""


class Holder:
    """A plain class: every attribute declared in the body."""

    _name: str
    _rng: random.Random
    _seq: Iterator[int]
    _external: External
    _items: dict[str, Leaf]

    def __init__(self, external: External, seed: int) -> None:
        self._name = "holder"
        self._rng = random.Random(seed)
        self._seq = itertools.count()
        self._external = external
        self._items = {}


class Forgetful(Holder):
    def __init__(self, external: External, seed: int) -> None:
        super().__init__(external, seed)
        self._added_later = 1  # not declared in the class body


@dataclass(frozen=True)
class Chain:
    value: int
    rest: Chain | None = None


@dataclass
class Loose:
    anything: Any


def round_trip(codec: Codec, value: Any, tp: Any, template: Any = None) -> Any:
    text = json.dumps(codec.dump(value, tp))
    return codec.load(json.loads(text), tp, "value", template)


utc_times = st.datetimes(
    min_value=datetime(1990, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)
leaves = st.builds(
    Leaf,
    at=utc_times,
    price=st.decimals(allow_nan=False, allow_infinity=False, places=4, max_value=10**9),
    colour=st.sampled_from(Colour),
    note=st.none() | st.text(max_size=5),
)
everything = st.builds(
    Everything,
    flag=st.booleans(),
    count=st.integers(),
    ratio=st.floats(allow_nan=False),
    day=st.dates(),
    leaf=leaves,
    maybe=st.none() | leaves,
    either=st.integers() | st.text(max_size=4),
    mode=st.sampled_from(["a", "b"]),
    pair=st.tuples(st.integers(), st.text(max_size=3)),
    many=st.lists(leaves, max_size=3).map(tuple),
    tags=st.frozensets(st.text(max_size=3), max_size=3),
    by_number=st.dictionaries(st.integers(), st.text(max_size=3), max_size=3),
    by_colour=st.dictionaries(st.sampled_from(Colour), st.lists(st.floats(allow_nan=False))),
    window=st.lists(st.timedeltas(), max_size=3).map(deque),
    tally=st.dictionaries(st.text(max_size=3), st.integers(0, 9)).map(Counter),
)


@settings(max_examples=100, derandomize=True, deadline=None)
@given(value=everything)
def test_every_declared_type_round_trips_through_plain_json(value: Everything) -> None:
    assert round_trip(Codec(), value, Everything) == value


def test_a_type_that_holds_itself_round_trips() -> None:
    chain = Chain(1, Chain(2, Chain(3)))

    assert round_trip(Codec(), chain, Chain) == chain
    assert Codec().describe(Chain) == "Chain{value:int,rest:optional[Chain]}"


def test_a_plain_object_comes_back_whole_with_its_externals_from_the_new_process() -> None:
    codec = Codec(external=(External,))
    saved = Holder(External(), seed=4)
    saved._items["x"] = Leaf(datetime(2024, 1, 2, tzinfo=UTC), Decimal("1.5"), Colour.RED)
    saved._rng.random()
    next(saved._seq), next(saved._seq)
    template = Holder(External(), seed=0)

    restored = round_trip(codec, saved, Holder, template)

    assert restored is not template
    assert restored._external is template._external  # never from the file
    assert restored._rng.getstate() == saved._rng.getstate()
    assert next(restored._seq) == 2
    assert restored._items == saved._items
    assert template._items == {}  # the template is copied, not changed


def test_an_attribute_not_declared_in_its_class_is_refused_when_saving() -> None:
    codec = Codec(external=(External,))
    template = Forgetful(External(), seed=0)

    with pytest.raises(TypeError, match=r"_added_later is not declared in the class body"):
        codec.dump(template, Forgetful)


def test_a_value_declared_as_any_is_refused_when_saving() -> None:
    with pytest.raises(TypeError, match="declare a precise type"):
        Codec().dump(Loose(anything=1), Loose)


def test_a_different_layout_gives_a_different_description() -> None:
    codec = Codec(external=(External,))

    assert codec.describe(Leaf) != codec.describe(Everything)
    assert "external" in codec.describe(Holder)
    assert codec.describe(Holder) == Codec(external=(External,)).describe(Holder)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"at": "2024-01-02T00:00:00", "price": "1", "colour": "red", "note": None}, "timezone"),
        ({"at": "2024-01-02T00:00:00Z", "price": "1e999999", "colour": "red", "note": None}, ""),
        ({"at": "2024-01-02T00:00:00Z", "price": "NaN", "colour": "red", "note": None}, "finite"),
        ({"at": "2024-01-02T00:00:00Z", "price": "1" * 65, "colour": "red", "note": None}, "64"),
        ({"at": "2024-01-02T00:00:00Z", "price": "1", "colour": "green", "note": None}, "Colour"),
        ({"at": "2024-01-02T00:00:00Z", "price": "1", "colour": "red"}, "missing key 'note'"),
        (
            {"at": "2024-01-02T00:00:00Z", "price": 1, "colour": "red", "note": None},
            "decimal, got a",
        ),
        (["2024-01-02T00:00:00Z", "1", "red", None], "expected a Leaf"),
    ],
)
def test_a_value_of_the_wrong_shape_is_refused_naming_where(raw: Any, message: str) -> None:
    codec = Codec()
    try:
        loaded = codec.load(raw, Leaf, "leaf")
    except ShapeError as refused:
        assert str(refused).startswith("leaf")
        assert message in str(refused)
    else:  # a huge exponent is a valid decimal: it must at least come back as one
        assert isinstance(loaded.price, Decimal) and not message


def test_timestamps_keep_their_instant_whatever_their_zone() -> None:
    at = datetime(2024, 3, 10, 9, 30, tzinfo=timezone(timedelta(hours=-5)))
    leaf = Leaf(at, Decimal("2.25"), Colour.BLUE)

    assert round_trip(Codec(), leaf, Leaf).at == at
