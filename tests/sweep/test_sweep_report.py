"""The sweep report: one offline page with the heatmap, the best runs, the walk-forward curve."""

from __future__ import annotations

import json
import math
import re
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path

import pytest
from sweep_helpers import axes, spec, tiny_market

from fleece.calendar import NEW_YORK
from fleece.sweep.executor import SerialExecutor
from fleece.sweep.report import heatmap_axes, heatmap_frame, walk_forward_figure, write_report
from fleece.sweep.sweep import plan_sweep, run_sweep


class _Tables(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: list[str] = []
        self.rows: dict[str, int] = {}
        self._table: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag in ("div", "table") and found.get("id"):
            self.ids.append(str(found["id"]))
        if tag == "table":
            self._table = str(found.get("id"))
        if tag == "tr" and self._table is not None:
            self.rows[self._table] = self.rows.get(self._table, 0) + 1


def _plotly_data(page: str, div_id: str) -> list[dict[str, object]]:
    match = re.search(
        r'Plotly\.newPlot\(\s*"' + re.escape(div_id) + r'",\s*(\[.*?\]),\s*\{', page, re.S
    )
    assert match is not None, div_id
    data: list[dict[str, object]] = json.loads(match[1])
    return data


def test_the_report_shows_the_heatmap_the_best_runs_and_the_walk_forward_curve(
    tmp_path: Path,
) -> None:
    market = tiny_market()
    result = run_sweep(plan_sweep(market, spec(walk_forward="2:1")), SerialExecutor(market))
    path = tmp_path / "report.html"

    write_report(result, path)

    page = path.read_text(encoding="utf-8")
    parsed = _Tables()
    parsed.feed(page)
    assert {"heatmap-chart", "runs", "walk-forward-chart", "walk-forward"} <= set(parsed.ids)
    assert parsed.rows["runs"] == 1 + len(result.phase("grid"))
    assert parsed.rows["walk-forward"] == 1 + len(result.windows)
    heat = _plotly_data(page, "heatmap-chart")[0]
    assert heat["type"] == "heatmap"
    assert heat["x"] == ["3", "5"] and heat["y"] == ["8", "12"]  # fast by medium
    curve = _plotly_data(page, "walk-forward-chart")
    assert len(curve) == len(result.windows)
    assert "<script src=" not in page and "Plotly" in page  # plotly inlined: opens offline


def test_each_heatmap_cell_is_the_best_run_over_the_other_parameters() -> None:
    market = tiny_market()
    result = run_sweep(plan_sweep(market, spec()), SerialExecutor(market))

    frame = heatmap_frame(result.phase("grid"), "sharpe", "fast", "medium")

    for fast in (3, 5):
        for medium in (8, 12):
            values = [
                o.metric("sharpe")
                for o in result.phase("grid")
                if (o.spec.params.value("fast"), o.spec.params.value("medium")) == (fast, medium)
            ]
            defined = [v for v in values if v is not None]
            expected = max(defined) if defined else math.nan
            assert frame.loc[medium, fast] == pytest.approx(expected, nan_ok=True)


def test_the_heatmap_defaults_to_the_first_two_parameters_that_vary() -> None:
    assert heatmap_axes(axes(fast=(3,), medium=(8, 12), slow=(20, 30))) == ("medium", "slow")
    assert heatmap_axes(axes(fast=(3,), medium=(8,), slow=(20, 30))) == ("slow", "fast")


def test_a_heatmap_over_an_unknown_parameter_is_refused() -> None:
    with pytest.raises(ValueError, match="two distinct parameters"):
        heatmap_axes(axes(), ["fast", "colour"])


def test_the_walk_forward_curve_is_drawn_in_new_york_wall_time_as_the_backtest_charts_are() -> None:
    # The sweep once converted its times with its own pandas code beside the backtest report's.
    market = tiny_market()
    result = run_sweep(plan_sweep(market, spec(walk_forward="2:1")), SerialExecutor(market))
    oos = result.out_of_sample
    assert oos is not None
    first = datetime.fromtimestamp(int(oos.ts[0]), UTC)

    x = walk_forward_figure(result).data[0].x

    assert int(x[0]) == int(first.astimezone(NEW_YORK).replace(tzinfo=UTC).timestamp()) * 1000
