"""Specification of the bar importer: real fixtures, dirty files, refuse mode, round trips."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from fleece.calendar import MarketCalendar
from fleece.data.importer import (
    load_bar_arrays,
    load_bar_file,
    load_bars_dir,
    write_bars_csv,
    write_bars_parquet,
)
from fleece.data.session import regular_session_bars
from fleece.data.validate import BarProblem
from fleece.errors import DataError
from fleece.models import Bar

# tests/data/<this file> -> parents[2] is the repo root; shared/ is its sibling.
FIXTURES = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "bars"
HEADER = "timestamp,open,high,low,close,volume\n"
T0 = datetime(2024, 3, 4, 14, 30, tzinfo=UTC)


def write_csv(directory: Path, name: str, *rows: str, header: str = HEADER) -> Path:
    path = directory / name
    path.write_text(header + "".join(f"{row}\n" for row in rows), encoding="utf-8")
    return path


def row(minute: int, o: str = "10", h: str = "11", lo: str = "9", c: str = "10.5") -> str:
    ts = (T0 + timedelta(minutes=minute)).isoformat().replace("+00:00", "Z")
    return f"{ts},{o},{h},{lo},{c},100"


def sample_bars(count: int = 3, symbol: str = "SPY") -> list[Bar]:
    return [
        Bar(symbol, T0 + timedelta(minutes=i), 10.01 + i, 11.5 + i, 9.25, 10.3333 + i, 100 * i)
        for i in range(count)
    ]


# The real fixtures


def test_spy_fixture_regular_session_of_2013_10_07_has_the_known_aggregate() -> None:
    calendar = MarketCalendar()
    session = calendar.session(date(2013, 10, 7))
    assert session is not None

    spy = load_bars_dir(FIXTURES, ["SPY"]).bars["SPY"]
    day = [b for b in regular_session_bars(spy, calendar) if session.contains(b.timestamp)]

    assert (day[0].open, max(b.high for b in day), min(b.low for b in day), day[-1].close) == (
        167.43,
        168.45,
        167.25,
        167.42,
    )


def test_fixtures_load_cleanly_with_extended_hours_kept() -> None:
    result = load_bars_dir(FIXTURES)

    assert set(result.bars) == {"SPY", "IBM"}
    assert result.problems == []
    first = result.bars["SPY"][0]
    assert first.timestamp == datetime(2013, 10, 4, 8, 6, tzinfo=UTC)  # 04:06 New York
    assert (first.open, first.volume) == (167.65, 20000)


def test_requested_symbols_are_case_insensitive() -> None:
    assert set(load_bars_dir(FIXTURES, ["ibm"]).bars) == {"IBM"}


# Missing or malformed inputs are one-line DataErrors


def test_a_missing_directory_is_a_data_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no such directory"):
        load_bars_dir(tmp_path / "nowhere")


def test_a_missing_symbol_file_is_a_data_error(tmp_path: Path) -> None:
    write_csv(tmp_path, "SPY.csv", row(0))

    with pytest.raises(DataError, match=r"no AAPL\.csv or AAPL\.parquet"):
        load_bars_dir(tmp_path, ["SPY", "AAPL"])


def test_a_directory_without_bar_files_is_a_data_error(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hello", encoding="utf-8")

    with pytest.raises(DataError, match=r"no \.csv or \.parquet bar files"):
        load_bars_dir(tmp_path)


def test_a_symbol_with_both_csv_and_parquet_is_ambiguous(tmp_path: Path) -> None:
    write_bars_csv(sample_bars(), tmp_path / "SPY.csv")
    write_bars_parquet(sample_bars(), tmp_path / "SPY.parquet")

    with pytest.raises(DataError, match="both"):
        load_bars_dir(tmp_path)


def test_missing_columns_are_named(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path, "SPY.csv", "2024-03-04T14:30:00Z,1,1", header="timestamp,open,high\n"
    )

    with pytest.raises(DataError, match="missing column\\(s\\) low, close, volume"):
        load_bar_file(path)


def test_an_empty_file_is_a_data_error(tmp_path: Path) -> None:
    path = tmp_path / "SPY.csv"
    path.write_text("", encoding="utf-8")

    with pytest.raises(DataError, match="empty file"):
        load_bar_file(path)


def test_a_structurally_broken_csv_is_one_line_data_error(tmp_path: Path) -> None:
    path = write_csv(tmp_path, "SPY.csv", row(0), row(1) + ",1,2,3")

    with pytest.raises(DataError, match="cannot parse CSV") as caught:
        load_bar_file(path)

    assert "\n" not in str(caught.value)


def test_a_header_only_file_has_no_bars(tmp_path: Path) -> None:
    result = load_bar_file(write_csv(tmp_path, "SPY.csv"))

    assert result.bars == {"SPY": []}
    assert result.problems == []


# Drop mode


def test_drop_mode_reports_bad_rows_with_file_and_line(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path,
        "spy.csv",
        row(0),
        row(1, c="nan"),
        row(2, lo="0"),
        row(3, h="8"),
        row(4),
        row(4, o="10.2"),
        row(3),
        "2024-03-04T14:40:00,10,11,9,10,100",
        row(5, o=""),
        row(6, o="ten"),
        row(7),
    )

    result = load_bar_file(path)

    assert [b.timestamp.minute for b in result.bars["SPY"]] == [30, 34, 37]
    assert [(p.source, p.reason) for p in result.problems] == [
        ("spy.csv:3", "nan_price"),
        ("spy.csv:4", "non_positive_price"),
        ("spy.csv:5", "high_below_low"),
        ("spy.csv:7", "duplicate_timestamp"),
        ("spy.csv:8", "out_of_order"),
        ("spy.csv:9", "naive_timestamp"),
        ("spy.csv:10", "missing_field"),
        ("spy.csv:11", "wrong_type"),
    ]


def test_the_columnar_load_keeps_exactly_the_rows_and_problems_of_the_bar_load(
    tmp_path: Path,
) -> None:
    # A backtest reads its files as columns (no Bar per row); clean cells are typed as the
    # file is read, a file with a bad cell is read as text: the same rows, values and reasons.
    dirty = write_csv(tmp_path, "spy.csv", row(0), row(1, c="nan"), row(2, o="ten"), row(3))
    clean = write_csv(tmp_path, "IBM.csv", row(0), "2024-03-04T09:31:00-05:00,1e1,11,9,10,2e2")

    for path in (dirty, clean):
        arrays, problems = load_bar_arrays(path)
        loaded = load_bar_file(path)
        (bars,) = loaded.bars.values()

        assert problems == loaded.problems
        assert arrays.symbol == path.stem.upper()
        assert arrays.ts.tolist() == [int(b.timestamp.timestamp()) for b in bars]
        assert arrays.open.tolist() == [b.open for b in bars]
        assert arrays.close.tolist() == [b.close for b in bars]
        assert arrays.volume.tolist() == [b.volume for b in bars]
    assert len(load_bar_arrays(dirty)[1]) == 2


def test_a_duplicate_keeps_the_first_bar(tmp_path: Path) -> None:
    path = write_csv(tmp_path, "SPY.csv", row(0, o="10.1"), row(0, o="10.2"))

    (kept,) = load_bar_file(path).bars["SPY"]

    assert kept.open == 10.1


def test_a_problem_carries_the_symbol_and_the_timestamp(tmp_path: Path) -> None:
    path = write_csv(tmp_path, "SPY.csv", row(0, c="-1"))

    assert load_bar_file(path).problems == [
        BarProblem("SPY", T0, "non_positive_price", "SPY.csv:2")
    ]


def test_offset_timestamps_are_converted_to_utc(tmp_path: Path) -> None:
    path = write_csv(tmp_path, "SPY.csv", "2024-03-04T09:30:00-05:00,10,11,9,10.5,100")

    (loaded,) = load_bar_file(path).bars["SPY"]

    assert loaded.timestamp == T0
    assert loaded.timestamp.tzinfo is UTC


def test_alpaca_short_column_names_are_accepted(tmp_path: Path) -> None:
    path = write_csv(tmp_path, "SPY.csv", row(0), header="t,o,h,l,c,v\n")

    (loaded,) = load_bar_file(path).bars["SPY"]

    assert (loaded.timestamp, loaded.close) == (T0, 10.5)


def test_a_byte_order_mark_before_the_header_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "SPY.csv"
    path.write_bytes(("\ufeff" + HEADER + row(0) + "\n").encode("utf-8"))

    (loaded,) = load_bar_file(path).bars["SPY"]

    assert loaded.timestamp == T0


def test_the_symbol_argument_overrides_the_file_name(tmp_path: Path) -> None:
    path = write_csv(tmp_path, "minute_bars.csv", row(0))

    assert set(load_bar_file(path, "qqq").bars) == {"QQQ"}


# Refuse mode


def test_refuse_mode_names_the_file_line_and_reason_on_one_line(tmp_path: Path) -> None:
    path = write_csv(tmp_path, "SPY.csv", row(0), row(1), row(1))

    with pytest.raises(DataError) as caught:
        load_bar_file(path, on_error="refuse")

    assert str(caught.value) == f"{path}, line 4: duplicate_timestamp"


def test_refuse_mode_accepts_a_clean_file(tmp_path: Path) -> None:
    path = write_csv(tmp_path, "SPY.csv", row(0), row(1))

    assert len(load_bar_file(path, on_error="refuse").bars["SPY"]) == 2


def test_refuse_mode_applies_to_every_file_of_a_directory(tmp_path: Path) -> None:
    write_csv(tmp_path, "SPY.csv", row(0))
    write_csv(tmp_path, "IBM.csv", row(0, h="1"))

    with pytest.raises(DataError, match=r"IBM\.csv, line 2: high_below_low"):
        load_bars_dir(tmp_path, on_error="refuse")


# Parquet


def test_parquet_rows_are_numbered_from_one(tmp_path: Path) -> None:
    bars = sample_bars()
    bad = Bar("SPY", T0 + timedelta(minutes=9), 10.0, 9.0, 9.5, 9.5, 1)
    write_bars_parquet([*bars, bad], tmp_path / "SPY.parquet")

    result = load_bar_file(tmp_path / "SPY.parquet")

    assert result.bars["SPY"] == bars
    assert [(p.source, p.reason) for p in result.problems] == [
        ("SPY.parquet:row 4", "high_below_low")
    ]


def test_parquet_with_a_naive_timestamp_column_is_refused_row_by_row(tmp_path: Path) -> None:
    table = pa.table(
        {
            "timestamp": pa.array([datetime(2024, 3, 4, 14, 30)], type=pa.timestamp("us")),
            "open": [1.0],
            "high": [1.0],
            "low": [1.0],
            "close": [1.0],
            "volume": [5],
        }
    )
    pq.write_table(table, tmp_path / "SPY.parquet")

    with pytest.raises(DataError, match="row 1: naive_timestamp"):
        load_bar_file(tmp_path / "SPY.parquet", on_error="refuse")


def test_parquet_with_a_new_york_timestamp_column_is_read_as_utc(tmp_path: Path) -> None:
    table = pa.table(
        {
            "timestamp": pa.array([T0], type=pa.timestamp("ns", tz="America/New_York")),
            "open": [1.0],
            "high": [1.0],
            "low": [1.0],
            "close": [1.0],
            "volume": [5.0],  # whole floats are accepted as volumes
        }
    )
    pq.write_table(table, tmp_path / "SPY.parquet")

    (loaded,) = load_bar_file(tmp_path / "SPY.parquet").bars["SPY"]

    assert loaded == Bar("SPY", T0, 1.0, 1.0, 1.0, 1.0, 5)


# Writing


def test_csv_round_trip_is_exact(tmp_path: Path) -> None:
    bars = sample_bars(50)
    write_bars_csv(bars, tmp_path / "SPY.csv")

    assert load_bar_file(tmp_path / "SPY.csv").bars["SPY"] == bars


def test_csv_round_trip_keeps_trade_count_and_vwap(tmp_path: Path) -> None:
    bars = [
        Bar("SPY", T0, 10.0, 11.0, 9.0, 10.5, 100, 7, 10.37),
        Bar("SPY", T0 + timedelta(minutes=1), 10.0, 11.0, 9.0, 10.5, 100),
    ]
    write_bars_csv(bars, tmp_path / "SPY.csv")

    assert load_bar_file(tmp_path / "SPY.csv").bars["SPY"] == bars


def test_csv_is_written_with_z_timestamps(tmp_path: Path) -> None:
    write_bars_csv(sample_bars(1), tmp_path / "SPY.csv")

    lines = (tmp_path / "SPY.csv").read_text(encoding="utf-8").splitlines()

    assert lines == [HEADER.strip(), "2024-03-04T14:30:00Z,10.01,11.5,9.25,10.3333,0"]


def test_parquet_round_trip_is_exact(tmp_path: Path) -> None:
    bars = [*sample_bars(20), Bar("SPY", T0 + timedelta(hours=1), 1.0, 1.0, 1.0, 1.0, 1, 3, 1.0)]
    write_bars_parquet(bars, tmp_path / "SPY.parquet")

    assert load_bar_file(tmp_path / "SPY.parquet").bars["SPY"] == bars


def test_the_fixture_survives_a_round_trip(tmp_path: Path) -> None:
    ibm = load_bar_file(FIXTURES / "IBM.csv").bars["IBM"]

    write_bars_csv(ibm, tmp_path / "IBM.csv")

    assert load_bar_file(tmp_path / "IBM.csv").bars["IBM"] == ibm


def test_writing_bars_of_two_symbols_to_one_file_is_refused(tmp_path: Path) -> None:
    mixed = [*sample_bars(1, "SPY"), *sample_bars(1, "IBM")]

    with pytest.raises(ValueError, match="one symbol per file"):
        write_bars_csv(mixed, tmp_path / "X.csv")
