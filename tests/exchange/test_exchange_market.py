"""The bar store: per-symbol indexes that can never hand out a bar from the future."""

from __future__ import annotations

import pytest
from exchange_helpers import bar, flat_bars, ny

from fleece.calendar import MarketCalendar
from fleece.errors import DataError
from fleece.exchange import BarStore


def test_a_bar_is_served_only_once_its_minute_has_finished() -> None:
    store = BarStore({"SPY": flat_bars("SPY", "10:00", 5, 100.0)}, MarketCalendar())

    at_1002_59 = store.closed_range("SPY", ny("09:00"), ny("12:00"), now=ny("10:02:59"))
    at_1003 = store.closed_range("SPY", ny("09:00"), ny("12:00"), now=ny("10:03"))

    assert [b.timestamp for b in at_1002_59] == [ny("10:00"), ny("10:01")]
    assert [b.timestamp for b in at_1003] == [ny("10:00"), ny("10:01"), ny("10:02")]


def test_the_last_closed_bar_includes_extended_hours_bars() -> None:
    store = BarStore({"SPY": [bar("SPY", "09:00", 99.0)]}, MarketCalendar())

    assert store.last_closed("SPY", ny("09:00:59")) is None
    assert store.last_closed("SPY", ny("09:01")) == bar("SPY", "09:00", 99.0)
    assert store.last_close("SPY", ny("09:00:59")) is None
    assert store.last_close("SPY", ny("09:01")) == (ny("09:01"), 99.0)


def test_fill_candidates_skip_extended_hours_bars() -> None:
    bars = [bar("SPY", "09:00", 99.0), bar("SPY", "09:30", 100.0), bar("SPY", "16:00", 101.0)]
    store = BarStore({"SPY": bars}, MarketCalendar())

    assert store.next_regular("SPY", ny("08:00")) == bars[1]
    assert store.next_regular("SPY", ny("09:31")) is None


def test_bars_out_of_order_are_refused() -> None:
    bars = [bar("SPY", "10:01", 100.0), bar("SPY", "10:00", 100.0)]

    with pytest.raises(DataError, match="not strictly increasing"):
        BarStore({"SPY": bars}, MarketCalendar())
