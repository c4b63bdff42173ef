"""Fixtures of the specifications that drive the real bot: one scenario's files, a stepped
market and the bot processes to clean up (imported by the ``conftest.py`` of each folder that
uses them).

A test that needs other limits, symbols or another start builds its own with
``scenario_files`` and ``stepped_market_of`` (``runtime_helpers``), as these do.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from runtime_helpers import EIGHT_SYMBOLS, Market, Paths, ny, scenario_files, stepped_market_of
from runtime_processes import Process


@pytest.fixture
def paths(tmp_path: Path) -> Paths:
    """Files of one scenario: eight symbols, the quick strategy, default limits."""
    return scenario_files(tmp_path, EIGHT_SYMBOLS)


@pytest.fixture
def market() -> Iterator[Market]:
    """Eight symbols over two synthetic sessions, the clock standing at the second one's open."""
    with stepped_market_of(EIGHT_SYMBOLS, ny("09:30")) as served:
        yield served


@pytest.fixture
def bots() -> Iterator[list[Process]]:
    """Bot processes started by a test; whatever is still alive at the end is killed."""
    started: list[Process] = []
    yield started
    for process in started:
        process.stop()
