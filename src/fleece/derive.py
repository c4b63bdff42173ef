"""One record built from another by field name: pydantic's ``from_attributes`` for any record.

Viewers show the same facts under the same names: the dashboard's schemas and ``fleece status``
show the read model's snapshot, the backtest's broker reports the exchange's order, the risk
manager's limits are the config's. Rather than a second list of ``x=source.x`` keywords for
every copy (kept equal by hand), :func:`from_attributes` reads every field the target shares
with the source by name, and the caller spells only what differs: a renamed or converted field,
or one the source does not have.

Works for frozen dataclasses and pydantic models alike (a pydantic model validates what it is
given, as ``Model.model_validate(obj, from_attributes=True)`` would). Only the standard
library is imported: :mod:`fleece.status` keeps its top-level imports to it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Collection
from functools import cache
from typing import Any, TypeVar

T = TypeVar("T")


@cache
def field_names(cls: type) -> tuple[str, ...]:
    """The names a dataclass's or pydantic model's constructor takes, in declaration order."""
    model_fields = getattr(cls, "model_fields", None)  # a pydantic model (not imported here)
    if model_fields is not None:
        return tuple(model_fields)
    return tuple(f.name for f in dataclasses.fields(cls) if f.init)


def shared_fields(cls: type, source: object, *, but: Collection[str] = ()) -> dict[str, Any]:
    """``source``'s attributes named like a field of ``cls``, except the names in ``but``."""
    return {
        name: getattr(source, name)
        for name in field_names(cls)
        if name not in but and hasattr(source, name)
    }


def from_attributes(cls: type[T], source: object, /, **changes: Any) -> T:
    """A ``cls`` whose fields are ``source``'s attributes of the same names, except ``changes``.

    A field of ``cls`` that ``source`` lacks must be in ``changes`` (or have a default).
    """
    build: Callable[..., T] = cls
    return build(**shared_fields(cls, source, but=changes), **changes)


def replace_from(record: T, source: object, /, **changes: Any) -> T:
    """``record`` (a dataclass) with its fields named like ``source``'s attributes taken from
    ``source``, and ``changes``: :func:`dataclasses.replace` by field name."""
    carried = shared_fields(type(record), source, but=changes)
    return dataclasses.replace(record, **carried, **changes)  # type: ignore[type-var]
