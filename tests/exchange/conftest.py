"""Fixtures of the exchange specifications: a stepped exchange over real bars, served."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest
from exchange_helpers import Served, fixture_bars, ny, serve, stepped


@pytest.fixture
def served() -> Iterator[Served]:
    """SPY and IBM (2013-10-04..11) served at 2013-10-07 09:30 New York, clock standing still."""
    with serve(stepped(fixture_bars(), ny("09:30", date(2013, 10, 7)))) as handle:
        yield handle
