"""Specification: one bad row of a real bar file loses only itself; the rest of the file loads.

Every case copies the real fixture (``shared/data/bars``: SPY and IBM minute bars of October
2013, see its SOURCES.md), corrupts rows of the copy and loads it as a user would.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from fleece.cli import app
from fleece.data.importer import load_bar_file, load_bars_dir
from fleece.exchange.sim import build_exchange
from fleece.models import Bar

# tests/data/<this file> -> parents[2] is the repo root; shared/ is its sibling.
FIXTURES = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "bars"
# Lines of SPY.csv (line 1 is the header): the bars of 2013-10-07 around 09:56 ET.
LINE = 1000
Edit = Callable[[list[str]], None]


def corrupted_copy(directory: Path, *edits: Edit) -> Path:
    """A copy of the fixture folder whose SPY.csv went through ``edits`` (lists of lines)."""
    target = directory / "bars"
    shutil.copytree(FIXTURES, target)
    spy = target / "SPY.csv"
    spy.chmod(0o644)
    lines = spy.read_text(encoding="utf-8").splitlines()
    for edit in edits:
        edit(lines)
    spy.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return target


def field(line: int, index: int, value: str) -> Edit:
    """Set one comma-separated field of line ``line`` (1-based, like an editor)."""

    def edit(lines: list[str]) -> None:
        cells = lines[line - 1].split(",")
        cells[index] = value
        lines[line - 1] = ",".join(cells)

    return edit


def year(line: int, new_year: str) -> Edit:
    """Re-date line ``line`` to another year, keeping its month, day and time."""

    def edit(lines: list[str]) -> None:
        lines[line - 1] = new_year + lines[line - 1][4:]

    return edit


def repeat(line: int) -> Edit:
    """Write line ``line`` twice (a duplicate bar)."""

    def edit(lines: list[str]) -> None:
        lines.insert(line, lines[line - 1])

    return edit


def move_up(line: int, to: int) -> Edit:
    """Move line ``line`` up to position ``to`` (an out-of-order bar)."""

    def edit(lines: list[str]) -> None:
        lines.insert(to - 1, lines.pop(line - 1))

    return edit


def clean_spy() -> list[Bar]:
    return load_bars_dir(FIXTURES, ["SPY"]).bars["SPY"]


def without(bars: list[Bar], *lines: int) -> list[Bar]:
    """The clean bars minus those read from ``lines`` of the file (header is line 1)."""
    gone = {line - 2 for line in lines}
    return [bar for i, bar in enumerate(bars) if i not in gone]


@pytest.mark.parametrize(
    ("edit", "reason", "lost"),
    [
        # The case: on today's main every good bar after it was dropped, then a crash.
        (year(LINE, "2030"), "timestamp_out_of_range", LINE),
        # Inside the calendar's range, but years after its neighbours.
        (year(LINE, "2026"), "out_of_order", LINE),
        (year(LINE, "1999"), "timestamp_out_of_range", LINE),
        (field(LINE, 2, "abc"), "wrong_type", LINE),
        (field(LINE, 3, "-167.66"), "non_positive_price", LINE),
        (field(LINE, 4, "1e12"), "value_out_of_range", LINE),
        (field(LINE, 5, "1e30"), "value_out_of_range", LINE),
    ],
    ids=["2030", "2026", "1999", "unparsable", "negative", "huge-price", "huge-volume"],
)
def test_a_bad_row_is_reported_and_dropped_alone(
    tmp_path: Path, edit: Edit, reason: str, lost: int
) -> None:
    folder = corrupted_copy(tmp_path, edit)

    result = load_bars_dir(folder, ["SPY"])

    assert result.bars["SPY"] == without(clean_spy(), lost)
    assert [(p.source, p.reason) for p in result.problems] == [(f"SPY.csv:{LINE}", reason)]


def test_a_duplicated_row_loses_only_the_copy(tmp_path: Path) -> None:
    folder = corrupted_copy(tmp_path, repeat(LINE))

    result = load_bars_dir(folder, ["SPY"])

    assert result.bars["SPY"] == clean_spy()
    assert [(p.source, p.reason) for p in result.problems] == [
        (f"SPY.csv:{LINE + 1}", "duplicate_timestamp")
    ]


def test_a_row_moved_out_of_order_loses_only_itself(tmp_path: Path) -> None:
    # Line LINE goes up 100 lines: every row between stays in order, only the mover is not.
    folder = corrupted_copy(tmp_path, move_up(LINE, LINE - 100))

    result = load_bars_dir(folder, ["SPY"])

    assert result.bars["SPY"] == without(clean_spy(), LINE)
    assert [(p.source, p.reason) for p in result.problems] == [
        (f"SPY.csv:{LINE - 100}", "out_of_order")
    ]


def test_many_bad_rows_each_lose_only_themselves(tmp_path: Path) -> None:
    edits = (year(500, "2030"), field(900, 1, "x"), year(1500, "2026"), field(2500, 3, "-1"))
    folder = corrupted_copy(tmp_path, *edits)

    result = load_bars_dir(folder, ["SPY", "IBM"])

    assert result.bars["SPY"] == without(clean_spy(), 500, 900, 1500, 2500)
    assert result.bars["IBM"] == load_bars_dir(FIXTURES, ["IBM"]).bars["IBM"]
    assert [p.source for p in result.problems] == [f"SPY.csv:{n}" for n in (500, 900, 1500, 2500)]


def test_a_parquet_file_loses_only_its_bad_rows(tmp_path: Path) -> None:
    table = pa_csv.read_csv(FIXTURES / "SPY.csv")
    stamps = table.column("timestamp").to_pylist()
    stamps[998] = stamps[998].replace(year=2030)  # row 999 of the Parquet file
    closes = table.column("close").to_pylist()
    closes[1499] = -1.0  # row 1500
    table = table.set_column(0, "timestamp", pa.array(stamps, type=table.schema.field(0).type))
    table = table.set_column(4, "close", pa.array(closes, type=pa.float64()))
    path = tmp_path / "SPY.parquet"
    pq.write_table(table, path)

    result = load_bar_file(path)

    assert result.bars["SPY"] == without(clean_spy(), 999 + 1, 1500 + 1)
    assert [(p.source, p.reason) for p in result.problems] == [
        ("SPY.parquet:row 999", "timestamp_out_of_range"),
        ("SPY.parquet:row 1500", "non_positive_price"),
    ]


def test_the_backtest_runs_over_a_file_with_bad_rows_and_names_each_one(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = corrupted_copy(tmp_path, year(LINE, "2030"), field(2000, 2, "abc"))
    config = tmp_path / "trading.yaml"
    config.write_text("symbols:\n  list: [SPY, IBM]\n", encoding="utf-8")
    args = ["backtest", "--data", str(folder), "--config", str(config)]

    with caplog.at_level(logging.WARNING, logger="fleece.data.importer"):
        result = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "out")])

    assert result.exit_code == 0, result.output
    assert "2 bad row(s) of the bar files dropped" in " ".join(result.output.split())
    dropped = [r.getMessage() for r in caplog.records if "bar row dropped" in r.getMessage()]
    assert len(dropped) == 2
    assert "at=SPY.csv:1000 reason=timestamp_out_of_range" in dropped[0]
    assert "at=SPY.csv:2000 reason=wrong_type" in dropped[1]


def test_the_built_in_exchange_serves_the_good_rows_of_a_file_with_a_bad_one(
    tmp_path: Path,
) -> None:
    folder = corrupted_copy(tmp_path, year(LINE, "2030"))

    # The full tape (the free plan's IEX tape would thin the good rows on purpose).
    exchange = build_exchange(["SPY"], data_dir=folder, speed=0, plan="unlimited")

    clean = clean_spy()
    last = exchange.store.last_closed("SPY", clean[-1].timestamp.replace(year=2014))
    assert last == clean[-1]
