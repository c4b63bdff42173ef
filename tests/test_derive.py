"""Specification of fleece.derive: one record built from another by field name."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from pydantic import BaseModel, ConfigDict

from fleece.derive import from_attributes, replace_from


@dataclass(frozen=True, slots=True)
class Source:
    symbol: str
    qty: int
    unrealised: float
    note: str = "not shown"


@dataclass(frozen=True, slots=True)
class View:
    symbol: str
    qty: int
    unrealized_pl: float
    shown: bool = True


class Answer(BaseModel):
    model_config = ConfigDict(frozen=True)
    symbol: str
    qty: int
    unrealized_pl: float


SOURCE = Source("SPY", 5, -1.25)


def test_fields_of_the_same_name_carry_over_and_changes_give_the_rest() -> None:
    view = from_attributes(View, SOURCE, unrealized_pl=SOURCE.unrealised)

    assert view == View("SPY", 5, -1.25, shown=True)


def test_a_change_wins_over_the_source_field_of_the_same_name() -> None:
    view = from_attributes(View, SOURCE, qty=7, unrealized_pl=0.0)

    assert view.qty == 7


def test_a_pydantic_model_is_built_and_validated_the_same_way() -> None:
    answer = from_attributes(Answer, SOURCE, unrealized_pl=SOURCE.unrealised)

    assert answer.model_dump() == {"symbol": "SPY", "qty": 5, "unrealized_pl": -1.25}


def test_a_field_the_source_lacks_must_be_given() -> None:
    with pytest.raises(TypeError, match="unrealized_pl"):
        from_attributes(View, SOURCE)


def test_replace_from_takes_the_shared_fields_into_an_existing_record() -> None:
    before = View("QQQ", 1, 2.0, shown=False)

    after = replace_from(before, SOURCE, unrealized_pl=-1.25)

    assert after == View("SPY", 5, -1.25, shown=False)
