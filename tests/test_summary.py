"""The end-of-run summary: what was dropped, empty minutes, exits (its realised P&L is the one
accounting rule's: tests/test_accounting.py)."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

from rich.console import Console

from fleece.models import Fill, OrderIntent, Side
from fleece.notify.messages import figure_lines
from fleece.notify.reports import run_figures
from fleece.startup_checks import record_dropped
from fleece.state_store import StateStore
from fleece.summary import empty_minutes_line, print_summary

T0 = datetime(2024, 11, 25, 15, 0, tzinfo=UTC)


def fill(i: int, side: Side, qty: int, price: float, symbol: str = "AAPL") -> Fill:
    return Fill(f"c{i}", f"b{i}", symbol, side, qty, price, T0 + timedelta(minutes=i))


def test_the_empty_minutes_line_gives_the_overall_share_and_both_ends_of_liquidity() -> None:
    line = empty_minutes_line({"SPY": 390, "PAAS": 390, "AAPL": 390}, {"SPY": 4, "PAAS": 150})

    assert line == "13.2% of 1,170 symbol-minutes had no bar (AAPL 0.0% ... PAAS 38.5%)"


def test_no_empty_minutes_line_before_any_minute_was_judged() -> None:
    assert empty_minutes_line({}, {}) is None


def test_the_summary_names_the_symbols_the_start_up_checks_dropped(tmp_path: Path) -> None:
    db = tmp_path / "trades.db"
    with StateStore(db) as store:
        record_dropped(store, {"GOLD": "status 'inactive', not active"}, T0)
    console = Console(record=True, width=200)

    print_summary(console, db, tmp_path / "log", datetime.now().astimezone())

    rows = [line for line in console.export_text().splitlines() if "symbols dropped" in line]
    assert len(rows) == 1 and "GOLD (status 'inactive', not active)" in rows[0]


def test_the_summary_counts_stop_outs_and_take_profits(tmp_path: Path) -> None:
    db = tmp_path / "trades.db"
    with StateStore(db) as store:
        # An OCO whose stop leg sold, one whose take-profit sold, a bot-watched trailing stop.
        protective_exit(store, "protect-oco-0-e1", "protect-oco", primary="tp1", filled_by="sl1")
        protective_exit(store, "protect-oco-0-e2", "protect-oco", primary="tp2", filled_by="tp2")
        protective_exit(store, "trailing_stop-x", "trailing_stop", primary="m3", filled_by="m3")
    console = Console(record=True, width=200)

    print_summary(console, db, tmp_path / "log", datetime.now().astimezone())

    rows = [line for line in console.export_text().splitlines() if "protective exits" in line]
    assert len(rows) == 1
    assert "2 stop-outs (stop_loss 1, trailing_stop 1), 1 take-profit" in rows[0]


def test_a_run_without_protective_exits_says_nothing_of_them(tmp_path: Path) -> None:
    db = tmp_path / "trades.db"
    with StateStore(db):
        pass
    console = Console(record=True, width=200)

    print_summary(console, db, tmp_path / "log", datetime.now().astimezone())

    assert "protective exits" not in console.export_text()


def test_the_summary_reads_its_pnl_and_equity_as_the_stop_message_does(tmp_path: Path) -> None:
    db = tmp_path / "trades.db"
    with StateStore(db) as store:
        for i, side, price in ((1, Side.BUY, 100.0), (2, Side.SELL, 1_350.5)):
            cid = f"c{i}"
            store.add_intent(OrderIntent(cid, "test", "AAPL", side, 10, T0, T0))
            store.record_fill(cid, f"b{i}", "AAPL", side, 10, price, T0 + timedelta(minutes=i))
        store.add_equity_snapshot(T0, 100_000.0, 100_000.0, 0.0, 0, 0)
        store.add_equity_snapshot(T0 + timedelta(minutes=3), 112_505.0, 112_505.0, 0.0, 0, 0)
        stop_lines = figure_lines(run_figures(store, T0, open_positions=0))
    console = Console(record=True, width=200)

    print_summary(console, db, tmp_path / "log", datetime.now().astimezone())

    text = console.export_text()
    assert "realised P&L +12,505.00" in stop_lines and "+12,505.00" in text
    assert "equity 100,000.00 -> 112,505.00" in stop_lines and "100,000.00 -> 112,505.00" in text
    assert "+0.00" in text  # no unrealised P&L left, never "-0.00"


def protective_exit(
    store: StateStore, cid: str, strategy: str, *, primary: str, filled_by: str
) -> None:
    """A protective sell of 5 AAPL, its intent at the broker as ``primary``, filled by the
    order ``filled_by`` (an OCO's stop leg, or the order itself)."""
    store.add_intent(OrderIntent(cid, strategy, "AAPL", Side.SELL, 5, T0, T0))
    store.set_intent_status(cid, "accepted", broker_order_id=primary, now=T0)
    store.record_fill(cid, filled_by, "AAPL", Side.SELL, 5, 101.0, T0)
