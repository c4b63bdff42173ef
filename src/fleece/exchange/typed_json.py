"""Objects to plain JSON values and back, driven by their declared types (never pickle).

The exchange's state file (:mod:`fleece.exchange.state_file`) saves the matching engine with
this: every attribute is written as JSON according to its type annotation, and read back through
the same annotations. A file can therefore only hold data, and reading one only builds the types
the code declares: nothing named in a file is looked up, imported or called. A field added to a
dataclass, or an attribute declared in a class body, round-trips with no edit here.

Types understood: None, bool, int, float, str, datetime (timezone-aware), date, timedelta,
Decimal, enums, Literal, ``X | None`` and other unions, tuples (fixed or ``...``), list, deque,
set, frozenset, dict/Mapping/Counter (JSON objects when the keys are strings, lists of pairs
otherwise), dataclasses, TypedDicts, :class:`random.Random` (its state), ``Iterator[int]`` (an
``itertools.count``: its next value), and plain classes whose attributes are all declared in the
class body. A plain class is restored onto a copy of a *template* (the object the new process
built), which also supplies the *external* attributes: those whose type the caller names as
belonging to the new process (the bars, the calendar), never saved. Anything else (``Any``, a
protocol, an attribute not declared in its class) is refused when saving, so a forgotten
declaration fails a test instead of silently losing state.
"""

from __future__ import annotations

import collections
import copy
import dataclasses
import enum
import itertools
import random
import types
import typing
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal, Union, get_args, get_origin

from fleece.exchange.typed_json_leaves import (
    LOADERS,
    Leaf,
    ShapeError,
    count_position,
    expect,
    load_random,
)

__all__ = ["Codec", "ShapeError"]


@dataclass(frozen=True, slots=True)
class _Plan:
    kind: str
    args: tuple[Any, ...] = ()
    cls: type | None = None
    fields: tuple[tuple[str, Any, bool], ...] = ()  # name, type, external
    via_init: bool = False


_LEAVES: tuple[tuple[type, str], ...] = (
    (bool, "bool"),  # before int: a bool is an int
    (int, "int"),
    (float, "float"),
    (str, "str"),
    (datetime, "datetime"),  # before date: a datetime is a date
    (date, "date"),
    (Decimal, "decimal"),
    (timedelta, "timedelta"),
)
Dumper = Callable[[Any], Any]


def _same(value: Any) -> Any:
    return value


def _random_state(value: random.Random) -> list[Any]:
    version, words, gauss = value.getstate()
    return [version, list(words), gauss]


_SIMPLE_DUMPERS: dict[str, Dumper] = {
    "str": _same,
    "int": _same,
    "bool": _same,
    "none": _same,
    "literal": _same,
    "float": float,
    "datetime": lambda value: value.isoformat(),
    "date": lambda value: value.isoformat(),
    "decimal": str,
    "timedelta": lambda value: [value.days, value.seconds, value.microseconds],
    "enum": lambda value: value.value,
    "count": count_position,
    "random": _random_state,
}
_MAPPINGS = {dict: dict, Mapping: dict, collections.Counter: collections.Counter}
_SEQUENCES = {list: "list", set: "set", frozenset: "frozenset", collections.deque: "deque"}
_BUILDERS: dict[str, Any] = {
    "tuple...": tuple,
    "list": list,
    "set": set,
    "deque": collections.deque,
}


class Codec:
    """Dumps and loads values by their declared types.

    Args:
        external: types that belong to the process, not to the data: attributes of these types
            (or ``T | None``) are neither saved nor read, but taken from the template.
    """

    def __init__(self, external: tuple[type, ...] = ()) -> None:
        self._external = external
        self._plans: dict[Any, _Plan] = {}
        self._dumpers: dict[Any, Dumper] = {}

    # ---------------------------------------------------------------- plans

    def _plan(self, tp: Any) -> _Plan:
        plan = self._plans.get(tp)
        if plan is None:
            plan = self._plans[tp] = self._make_plan(tp)
        return plan

    def _make_plan(self, tp: Any) -> _Plan:
        origin, args = get_origin(tp), get_args(tp)
        if tp is Any or tp is object:
            raise TypeError(f"the state file cannot hold a {tp!r}: declare a precise type")
        if tp is None or tp is types.NoneType:
            return _Plan("none")
        if origin is Union or origin is types.UnionType:
            members = tuple(a for a in args if a is not types.NoneType)
            if len(members) == 1:
                return _Plan("optional", members)
            return _Plan("union", args)
        if origin is Literal:
            return _Plan("literal", args)
        if origin is tuple and args:
            if len(args) == 2 and args[1] is Ellipsis:
                return _Plan("tuple...", args[:1])
            return _Plan("tuple", args)
        if origin in _SEQUENCES and args:
            return _Plan(_SEQUENCES[origin], args)
        if origin in _MAPPINGS and args:
            key, value = args if len(args) == 2 else (args[0], int)  # Counter[K] counts ints
            kind = "object" if isinstance(key, type) and issubclass(key, str) else "pairs"
            return _Plan(kind, (key, value), cls=_MAPPINGS[origin])
        if origin is Iterator and args == (int,):
            return _Plan("count")
        if origin is None and isinstance(tp, type):
            return self._class_plan(tp)
        raise TypeError(f"the state file cannot hold a {tp!r}: declare a precise type")

    def _class_plan(self, cls: type) -> _Plan:
        if cls in self._external:
            return _Plan("external", cls=cls)
        if issubclass(cls, enum.Enum):
            return _Plan("enum", cls=cls)
        for leaf, kind in _LEAVES:
            if issubclass(cls, leaf):
                return _Plan(kind, cls=cls)
        if cls is random.Random:
            return _Plan("random", cls=cls)
        if getattr(cls, "_is_protocol", False) or cls.__module__ == "builtins":
            raise TypeError(f"the state file cannot hold a {cls.__qualname__}")
        hints = typing.get_type_hints(cls)
        if dataclasses.is_dataclass(cls):
            names = [f.name for f in dataclasses.fields(cls)]
            via_init = all(f.init for f in dataclasses.fields(cls))
        elif typing.is_typeddict(cls):
            names, via_init = list(hints), True
        else:
            names = [n for n, t in hints.items() if t is not typing.ClassVar]
            names = [n for n in names if get_origin(hints[n]) is not typing.ClassVar]
            via_init = False
        if not names:
            raise TypeError(f"{cls.__qualname__} declares no attributes the state file can hold")
        fields = tuple((n, hints[n], self._is_external(hints[n])) for n in names)
        if any(external for _, _, external in fields):
            via_init = False
        kind = "typeddict" if typing.is_typeddict(cls) else "record"
        return _Plan(kind, cls=cls, fields=fields, via_init=via_init)

    def _is_external(self, tp: Any) -> bool:
        # Without planning ``tp``: a class may hold a field of its own type.
        union = get_origin(tp) is Union or get_origin(tp) is types.UnionType
        members = [m for m in (get_args(tp) if union else (tp,)) if m is not types.NoneType]
        return len(members) == 1 and members[0] in self._external

    def describe(self, tp: Any, _seen: frozenset[type] = frozenset()) -> str:
        """The layout of ``tp`` as text: equal texts mean files that read the same way."""
        plan = self._plan(tp)
        cls = plan.cls
        if plan.kind in ("record", "typeddict") and cls is not None:
            if cls in _seen:
                return cls.__qualname__
            inner = ",".join(
                f"{n}:{'external' if ext else self.describe(t, _seen | {cls})}"
                for n, t, ext in plan.fields
            )
            return f"{cls.__qualname__}{{{inner}}}"
        if plan.kind in ("enum", "external") and cls is not None:
            return f"{plan.kind} {cls.__qualname__}"
        if plan.kind == "literal":
            return f"literal{sorted(map(repr, plan.args))}"
        args = [self.describe(a, _seen) for a in plan.args]
        name = "counter" if plan.cls is collections.Counter else plan.kind
        return f"{name}[{','.join(args)}]" if args else name

    # ---------------------------------------------------------------- saving

    def dump(self, value: Any, tp: Any) -> Any:
        """``value``, declared as ``tp``, as JSON-ready data (dicts, lists, str, numbers)."""
        return self._dumper(tp)(value)

    def _dumper(self, tp: Any) -> Dumper:
        # Compiled once per type: the exchange saves before answering every order, so a field's
        # conversion must not look its type up again for every value.
        found = self._dumpers.get(tp)
        if found is None:

            def later(value: Any) -> Any:  # for a type that holds itself, while it compiles
                return self._dumpers[tp](value)

            self._dumpers[tp] = later
            found = self._dumpers[tp] = self._make_dumper(self._plan(tp))
        return found

    def _make_dumper(self, plan: _Plan) -> Dumper:
        kind, args = plan.kind, plan.args
        simple = _SIMPLE_DUMPERS.get(kind)
        if simple is not None:
            return simple
        if kind == "optional":
            inner = self._dumper(args[0])
            return lambda value: None if value is None else inner(value)
        if kind == "union":
            members = [(m, self._dumper(m)) for m in args]
            return lambda value: next(
                [i, dump(value)] for i, (m, dump) in enumerate(members) if _is_instance(value, m)
            )
        if kind in ("tuple...", "list", "deque"):
            item = self._dumper(args[0])
            return lambda value: [item(v) for v in value]
        if kind in ("set", "frozenset"):
            item = self._dumper(args[0])
            return lambda value: sorted((item(v) for v in value), key=repr)
        if kind == "tuple":
            items = [self._dumper(t) for t in args]
            return lambda value: [d(v) for d, v in zip(items, value, strict=True)]
        if kind in ("object", "pairs"):
            key, item = self._dumper(args[0]), self._dumper(args[1])
            if kind == "object":
                return lambda value: {key(k): item(v) for k, v in value.items()}
            return lambda value: [[key(k), item(v)] for k, v in value.items()]
        if kind == "typeddict":
            entries = [(n, self._dumper(t)) for n, t, _ in plan.fields]
            return lambda value: {n: d(value[n]) for n, d in entries if n in value}
        if kind == "record":
            return self._record_dumper(plan)
        raise TypeError(f"{kind} values are not saved")  # external: the caller skips them

    def _record_dumper(self, plan: _Plan) -> Dumper:
        cls = plan.cls
        assert cls is not None
        entries = [(n, self._dumper(t)) for n, t, ext in plan.fields if not ext]
        declared = {n for n, _, _ in plan.fields}
        plain = not dataclasses.is_dataclass(cls)

        def dump_record(value: Any) -> dict[str, Any]:
            if type(value) is not cls:
                raise TypeError(f"expected a {cls.__qualname__}, got a {type(value).__qualname__}")
            if plain:
                _check_declared(value, cls, declared)
            return {n: d(getattr(value, n)) for n, d in entries}

        return dump_record

    # ---------------------------------------------------------------- reading

    def load(self, raw: Any, tp: Any, where: str = "", template: Any = None) -> Any:
        """Build the ``tp`` that ``raw`` describes, or raise :class:`ShapeError` naming ``where``.

        Args:
            raw: what ``json.loads`` returned.
            tp: the declared type.
            where: the path shown in errors, e.g. ``engine._orders``.
            template: an object of the process to copy plain classes (and externals) from.
        """
        plan = self._plan(tp)
        kind = plan.kind
        if kind in LOADERS:
            return LOADERS[kind](raw, where, Leaf(kind, plan.cls, plan.args))
        if kind == "optional":
            return None if raw is None else self.load(raw, plan.args[0], where, template)
        if kind == "union":
            index = expect(raw, list, where, "a [member, value] pair")
            if len(index) != 2 or type(index[0]) is not int or not 0 <= index[0] < len(plan.args):
                raise ShapeError(f"{where}: expected a [member, value] pair")
            return self.load(index[1], plan.args[index[0]], where, template)
        if kind in ("tuple...", "list", "set", "frozenset", "deque"):
            items = expect(raw, list, where, "a list")
            loaded = [self.load(v, plan.args[0], f"{where}[{i}]") for i, v in enumerate(items)]
            return _BUILDERS.get(kind, frozenset)(loaded)
        if kind == "tuple":
            items = expect(raw, list, where, f"a list of {len(plan.args)}")
            if len(items) != len(plan.args):
                raise ShapeError(f"{where}: expected a list of {len(plan.args)}, got {len(items)}")
            return tuple(
                self.load(v, t, f"{where}[{i}]")
                for i, (v, t) in enumerate(zip(items, plan.args, strict=True))
            )
        if kind in ("object", "pairs"):
            return self._load_mapping(raw, plan, where)
        if kind == "count":
            return itertools.count(expect(raw, int, where, "an integer"))
        if kind == "random":
            return load_random(raw, where)
        if kind in ("record", "typeddict"):
            return self._load_record(raw, plan, where, template)
        raise ShapeError(f"{where}: {kind} values are not read from a file")

    def _load_mapping(self, raw: Any, plan: _Plan, where: str) -> Any:
        key, item = plan.args
        if plan.kind == "object":
            pairs = list(expect(raw, dict, where, "an object").items())
        else:
            pairs = expect(raw, list, where, "a list of [key, value] pairs")
            if not all(isinstance(p, list) and len(p) == 2 for p in pairs):
                raise ShapeError(f"{where}: expected a list of [key, value] pairs")
        built = {self.load(k, key, where): self.load(v, item, f"{where}[{k!r}]") for k, v in pairs}
        if len(built) != len(pairs):
            raise ShapeError(f"{where}: repeated key")
        assert plan.cls is not None
        return plan.cls(built)

    def _load_record(self, raw: Any, plan: _Plan, where: str, template: Any) -> Any:
        cls = plan.cls
        assert cls is not None
        data = expect(raw, dict, where, f"a {cls.__qualname__}")
        wanted = [n for n, _, ext in plan.fields if not ext]
        unexpected = sorted(set(data) - set(wanted))
        if unexpected:
            raise ShapeError(f"{where}: unexpected key {unexpected[0]!r}")
        missing = [n for n in wanted if n not in data]
        if missing and not (plan.kind == "typeddict" and set(missing) <= cls.__optional_keys__):  # type: ignore[attr-defined]
            raise ShapeError(f"{where}: missing key {missing[0]!r}")

        def part(name: str, tp: Any) -> Any:
            inner = getattr(template, name, None) if plan.kind == "record" else None
            if isinstance(template, Mapping):
                inner = template.get(name)
            return self.load(data[name], tp, f"{where}.{name}".lstrip("."), inner)

        values = {n: part(n, t) for n, t, ext in plan.fields if not ext and n in data}
        if plan.kind == "typeddict":
            return values
        if plan.via_init:
            try:
                return cls(**values)
            except Exception as exc:  # the class's own checks refuse the values
                reason = (str(exc).splitlines() or [repr(exc)])[0]
                raise ShapeError(f"{where}: {reason}") from exc
        if type(template) is not cls:
            raise ShapeError(f"{where}: a {cls.__qualname__} cannot be restored here")
        restored = copy.copy(template)
        for name, value in values.items():
            object.__setattr__(restored, name, value)
        return restored


def _is_instance(value: Any, member: Any) -> bool:
    if member is types.NoneType:
        return value is None
    target = get_origin(member) or member
    return isinstance(target, type) and isinstance(value, target)


def _check_declared(value: Any, cls: type, declared: set[str]) -> None:
    """Refuse to save an object holding an attribute its class body does not declare."""
    present = set(getattr(value, "__dict__", {}))
    for klass in cls.__mro__:
        slots = getattr(klass, "__slots__", ())
        present |= {s for s in slots if not s.startswith("__") and hasattr(value, s)}
    undeclared = sorted(present - declared)
    if undeclared:
        raise TypeError(
            f"{cls.__qualname__}.{undeclared[0]} is not declared in the class body, so the "
            f"state file cannot save it: add `{undeclared[0]}: <type>` to the class"
        )
    absent = sorted(declared - present)
    if absent:
        raise TypeError(f"{cls.__qualname__}.{absent[0]} is declared but not set")
