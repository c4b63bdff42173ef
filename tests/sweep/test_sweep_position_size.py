"""The sweep shows a position size one way everywhere: as a percent, the way every limit is shown.

``--max-position-pct 0.1`` takes a fraction; the terminal, the HTML report, the heatmap and every
label show it as ``10.00%`` (:func:`fleece.notify.messages.percent_text`) under ``max pos``. The
report used to say 0.1 and the terminal 10 (and "pos 10%") for the same run. ``runs.csv`` keeps
the fraction: it is data, in the option's unit.
"""

from __future__ import annotations

import functools
import re

from sweep_helpers import axes, sma_point, spec, tiny_market

from fleece.sweep.executor import SerialExecutor
from fleece.sweep.grid import RISK_AXIS
from fleece.sweep.report import heatmap_figure, render_report
from fleece.sweep.results import runs_table
from fleece.sweep.sweep import SweepResult, plan_sweep, run_sweep

SIZES = (0.05, 0.1)
SHOWN = ["5.00%", "10.00%"]


@functools.cache
def _sweep(pct: tuple[float, ...] = SIZES) -> SweepResult:
    """A two-run sweep (one SMA setting) over the position sizes ``pct``."""
    market = tiny_market()
    grid = axes(fast=(3,), medium=(8,), slow=(20,), pct=pct)
    return run_sweep(plan_sweep(market, spec(grid)), SerialExecutor(market))


def _html_column(page: str, table_id: str, heading: str) -> list[str]:
    """The cells under ``heading`` in the page's table ``table_id``, in row order."""
    table = re.search(rf'<table id="{table_id}">(.*?)</table>', page, re.S)
    assert table is not None, table_id
    rows = [
        re.findall(r"<t[hd]>(.*?)</t[hd]>", row) for row in re.findall(r"<tr>(.*?)</tr>", table[1])
    ]
    k = rows[0].index(heading)
    return [row[k] for row in rows[1:]]


def test_a_runs_label_shows_its_position_size_as_a_percent() -> None:
    point = sma_point(3, 8, 20, pct=0.1)

    assert point.label() == "fast=3 medium=8 slow=20 pos=10.00% [IBM,SPY]"
    assert point.text(RISK_AXIS) == "10.00%"


def test_the_terminal_ranking_shows_a_swept_position_size_as_a_percent_under_max_pos() -> None:
    table = runs_table(_sweep())

    column = next(c for c in table.columns if c.header == "max pos")
    assert sorted(map(str, column.cells)) == sorted(SHOWN)


def test_the_terminal_title_states_a_fixed_position_size_as_a_percent() -> None:
    table = runs_table(_sweep((0.1,)))

    assert "pos=10.00%" in str(table.title)
    assert all(c.header != "max pos" for c in table.columns)


def test_the_reports_best_runs_show_the_position_size_as_the_terminal_does() -> None:
    page = render_report(_sweep())

    assert sorted(_html_column(page, "runs", "max pos")) == sorted(SHOWN)


def test_the_heatmap_labels_position_sizes_as_percents_in_ascending_order() -> None:
    figure = heatmap_figure(_sweep(), RISK_AXIS, "fast")

    assert list(figure.data[0].x) == SHOWN
