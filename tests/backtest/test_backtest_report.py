"""Specification of the report: it opens offline, and its charts and tables carry the run's data.

The page is parsed as a browser would get it: plotly.js must be inline (no network), and the
figures' JSON and the HTML tables are read back and compared with the run.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from backtest_helpers import config, real

from fleece.backtest.outputs import write_outputs
from fleece.backtest.report import stat_rows
from fleece.backtest.report_charts import new_york_ms
from fleece.backtest.runner import BacktestResult, run_backtest
from fleece.backtest.signals import market_series
from fleece.backtest.stats import Stats, round_trips
from fleece.calendar import NEW_YORK
from fleece.minute_grid import Grid
from fleece.models import Side


class Page(HTMLParser):
    """Scripts, external resources and table cells of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.html = ""
        self.scripts: list[str] = []
        self.sources: list[str] = []
        self.tables: dict[str, list[list[str]]] = {}
        self._script = False
        self._table: str | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "script":
            self._script = True
            self.scripts.append("")
        if found.get("src") or (tag == "link" and found.get("href")):
            self.sources.append(found.get("src") or found.get("href") or "")
        if tag == "table":
            self._table = found.get("id") or ""
            self.tables[self._table] = []
        if tag == "tr" and self._table is not None:
            self.tables[self._table].append([])
        if tag in ("td", "th") and self._table is not None:
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._script = False
        if tag in ("td", "th") and self._cell is not None and self._table is not None:
            self.tables[self._table][-1].append("".join(self._cell).strip())
            self._cell = None
        if tag == "table":
            self._table = None

    def handle_data(self, data: str) -> None:
        if self._script:
            self.scripts[-1] += data
        if self._cell is not None:
            self._cell.append(data)


def figure(page: Page, div_id: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The traces and layout passed to Plotly.newPlot for ``div_id``."""
    for script in page.scripts:
        match = re.search(rf'Plotly\.newPlot\(\s*"{div_id}",', script)
        if match is None:
            continue
        start = match.end()
        decoder = json.JSONDecoder()
        rest = script[start:].lstrip()
        data, used = decoder.raw_decode(rest)
        rest = rest[used:].lstrip().lstrip(",").lstrip()
        layout, _ = decoder.raw_decode(rest)
        return data, layout
    raise AssertionError(f"no figure {div_id}")


def values(encoded: Any) -> np.ndarray:
    """A plotly array: a plain list, or a base64 typed array."""
    if isinstance(encoded, dict) and "bdata" in encoded:
        return np.frombuffer(base64.b64decode(encoded["bdata"]), dtype=np.dtype(encoded["dtype"]))
    return np.asarray(encoded, dtype=float)


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> tuple[BacktestResult, Stats, Page]:
    out: Path = tmp_path_factory.mktemp("report")
    result = run_backtest(real(), config())
    stats = write_outputs(result, out)
    page = Page()
    page.html = (out / "report.html").read_text(encoding="utf-8")
    page.feed(page.html)
    return result, stats, page


def written_html(written: tuple[BacktestResult, Stats, Page]) -> str:
    return written[2].html


def test_the_report_opens_offline_with_plotly_inline(
    written: tuple[BacktestResult, Stats, Page],
) -> None:
    _, _, page = written

    assert page.sources == []  # nothing fetched from the network
    assert any("plotly.js" in s and len(s) > 1_000_000 for s in page.scripts)


def test_the_equity_chart_carries_the_equity_curve_and_its_drawdown(
    written: tuple[BacktestResult, Stats, Page],
) -> None:
    result, stats, page = written

    data, _ = figure(page, "equity-chart")

    equity = values(data[0]["y"])
    drawdown = values(data[1]["y"])
    assert np.array_equal(equity, result.equity.equity / 100)
    assert drawdown.min() == pytest.approx(stats.max_drawdown * 100)
    assert data[1]["yaxis"] == "y2"  # underneath, on its own axis


def test_the_price_chart_has_each_symbol_with_smas_and_every_fill_as_a_marker(
    written: tuple[BacktestResult, Stats, Page],
) -> None:
    result, _, page = written

    data, layout = figure(page, "price-chart")

    labels = [b["label"] for b in layout["updatemenus"][0]["buttons"]]
    assert labels == ["IBM", "SPY"]
    grid = Grid.of((s.open, s.close) for s in result.sessions)
    for k, symbol in enumerate(labels):
        traces = data[k * 6 : (k + 1) * 6]
        series = market_series(result.market, symbol, grid)  # as the strategy met the minutes
        assert traces[0]["name"] == f"{symbol} close"
        assert np.array_equal(values(traces[0]["y"]), series.close / 10_000)
        assert [t["name"] for t in traces[1:4]] == [
            "SMA fast (10)",
            "SMA medium (30)",
            "SMA slow (90)",
        ]
        for trace, side in ((traces[4], Side.BUY), (traces[5], Side.SELL)):
            fills = [f for f in result.fills if f.symbol == symbol and f.side is side]
            assert list(values(trace["y"])) == [f.price for f in fills]
    visible = [t.get("visible") for t in data]
    assert visible[:6] == [True] * 6 and not any(visible[6:])


def test_the_tables_carry_the_statistics_and_every_trade(
    written: tuple[BacktestResult, Stats, Page],
) -> None:
    result, stats, page = written

    assert page.tables["stats"] == [[label, value] for label, value in stat_rows(stats)]
    trades = page.tables["trades"][1:]  # below the header
    trips = round_trips(result.fills)
    assert len(trades) == len(trips)
    first = trips[0]
    assert trades[0][:4] == [
        first.symbol,
        str(first.qty),
        first.entry_time.astimezone(NEW_YORK).strftime("%Y-%m-%d %H:%M"),
        f"{first.entry_price:g}",
    ]
    closed = [t for t in trips if t.pnl_cents is not None]
    assert sum(float(row[6]) for row in trades if row[6]) == pytest.approx(
        sum(t.pnl_cents for t in closed) / 100  # type: ignore[misc]
    )


CHROMIUM = shutil.which("chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]
WAIT_MS = 20_000


@pytest.mark.skipif(
    CHROMIUM is None and not os.environ.get("CI"),
    reason="Debian's chromium is not installed (make test installs it with apt-get; CI runs this)",
)
def test_a_browser_draws_both_charts_and_the_menu_switches_the_symbol(
    written: tuple[BacktestResult, Stats, Page], tmp_path: Path
) -> None:
    # The figures are written as plotly.js takes them: a real browser must draw them offline.
    from playwright.sync_api import expect, sync_playwright

    page_file = tmp_path / "report.html"
    page_file.write_text(written_html(written), encoding="utf-8")
    problems: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
        page.goto(page_file.as_uri())

        equity = page.locator("#equity-chart .scatterlayer .trace")
        prices = page.locator("#price-chart .scatterlayer .trace")
        expect(equity).to_have_count(2, timeout=WAIT_MS)
        expect(prices).to_have_count(6, timeout=WAIT_MS)  # IBM's close, 3 SMAs, entries, exits
        title = page.locator("#price-chart .gtitle")
        expect(title).to_contain_text("IBM: price")
        page.locator("#price-chart .updatemenu-header-group").click()
        page.locator("#price-chart .updatemenu-item-text", has_text="SPY").click()
        expect(title).to_contain_text("SPY: price", timeout=WAIT_MS)
        browser.close()

    assert problems == []


def wall_ms(instant: datetime) -> int:
    """``instant``'s New York wall time as epoch milliseconds (what plotly shows as it is)."""
    wall = instant.astimezone(NEW_YORK).replace(tzinfo=UTC)
    return int(wall.timestamp()) * 1000


def test_chart_times_are_new_york_wall_time_on_both_sides_of_a_clock_change() -> None:
    # 2024-03-10: New York springs forward at 07:00 UTC (01:59:59 EST, then 03:00 EDT).
    instants = [datetime(2024, 3, 10, 6, 59, 59, tzinfo=UTC), datetime(2024, 3, 10, 7, tzinfo=UTC)]
    seconds = np.array([int(t.timestamp()) for t in instants], dtype=np.int64)

    shown = new_york_ms(seconds).tolist()

    assert shown == [wall_ms(t) for t in instants]
    assert shown[1] - shown[0] == 3_601_000  # the hour New York skips
