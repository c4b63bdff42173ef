"""The JSON API, /metrics and /healthz over the store of a real, finished run.

The store is filled once by the real bot (paper mode) trading a simulated morning on the built-in
exchange, stepped minute by minute, then read by the dashboard the way ``fleece dashboard`` reads
it. The wall clock of the specs is noon New York on the day traded.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from dashboard_helpers import (
    BEARER,
    KEY,
    SECRET,
    SYMBOLS,
    TOKEN,
    ny,
    paper_bot,
    step_until,
    wait_for,
)
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr
from rich.console import Console

from fleece.accounting import realised_pnl
from fleece.calendar import MarketCalendar, session_date
from fleece.cli_ops import print_status
from fleece.clock import ManualClock
from fleece.config import AppConfig
from fleece.dashboard import DashboardView, create_app
from fleece.dashboard.app import PLOTLY_JS
from fleece.dashboard.health import is_stale, stale_after
from fleece.minute_grid import Carry
from fleece.models import OrderIntent, Side, to_ticks
from fleece.notify.messages import duration_text, money, percent_text, price_text, when
from fleece.read_model import recorded_until
from fleece.startup_checks import record_dropped
from fleece.state_store import StateStore
from fleece.status import BotStatus, collect_status
from fleece.strategy.sma_crossover import SmaCrossover

LOCAL = "http://127.0.0.1"
MAX_STEPS = 120
NOON = ny("12:00")


@dataclass(frozen=True)
class FinishedRun:
    """A stopped bot's store and configuration."""

    db: Path
    config: AppConfig
    folder: Path


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory: pytest.TempPathFactory) -> FinishedRun:
    """One real run, minute by minute, until it has traded, been refused and holds a position.

    One position at a time (so signals get refused), and positions are kept at the stop.
    """
    folder = tmp_path_factory.mktemp("finished")
    # DASHBOARD_TOKEN is set (paper_bot) so that the specs can show it never leaks.
    with paper_bot(folder, close_positions=False, max_positions=1) as (exchange, bot, _):
        store = bot.bot.store
        assert store is not None

        def traded_refused_and_holding() -> bool:
            held = realised_pnl(store.fills()).open_qty
            return len(store.fills()) >= 6 and bool(store.refusal_counts()) and bool(held)

        step_until(
            exchange, bot, traded_refused_and_holding, "trades, refusals and holdings", MAX_STEPS
        )
    assert bot.exit_code == 0
    return FinishedRun(folder / "trades.db", bot.bot.config, folder)


@pytest.fixture(scope="module")
def store(finished_run: FinishedRun) -> Iterator[StateStore]:
    """The finished run's store, open for the specs to compare against."""
    with StateStore(finished_run.db) as opened:
        yield opened


def client_over(
    store: StateStore, config: AppConfig, token: str | None = TOKEN, *, send_token: bool = True
) -> TestClient:
    """A client of the dashboard over a stopped bot's store, at noon of the day traded.

    With a token configured, the client sends it with every request (as the page does) unless
    ``send_token`` is False.
    """
    view = DashboardView(store, config, clock=ManualClock(NOON))
    app = create_app(view, token=SecretStr(token) if token else None)
    headers = {"Authorization": f"Bearer {token}"} if token and send_token else {}
    return TestClient(app, base_url=LOCAL, headers=headers)


@pytest.fixture(scope="module")
def client(store: StateStore, finished_run: FinishedRun) -> TestClient:
    """A read-only-use client over the shared store."""
    return client_over(store, finished_run.config)


@pytest.fixture(scope="module")
def cli_status(finished_run: FinishedRun) -> BotStatus:
    """What `fleece status` reports of the finished run's store at noon (no bot process)."""
    return collect_status(finished_run.config, pid_file=finished_run.folder / "none.pid", now=NOON)


@pytest.fixture
def own_store(finished_run: FinishedRun, tmp_path: Path) -> Iterator[StateStore]:
    """A private copy of the store, for specs that change it (halt, resume)."""
    copy = tmp_path / "trades.db"
    shutil.copy(finished_run.db, copy)
    with StateStore(copy) as opened:
        yield opened


# ---------------------------------------------------------------------------- status, account


def test_status_describes_a_stopped_bot_and_its_last_run(
    client: TestClient, store: StateStore
) -> None:
    status = client.get("/api/status").json()

    run = store.runs(1)[0]
    beat = store.last_heartbeat()
    stopped = recorded_until(store, run)
    assert beat is not None and stopped is not None and stopped < NOON
    assert status["running"] is False
    # Paper mode against a loopback exchange: its clock is the exchange's, not the wall's, so
    # the store is judged where that clock stopped (as `fleece status` judges it).
    assert status["mode"] == "paper" and status["simulated_time"] is True
    assert status["now"] == stopped.isoformat().replace("+00:00", "Z")
    assert status["run"]["exit_reason"] == "test finished" and run.stopped_at is not None
    assert status["state"] == "ACTIVE" and status["kill_switch"] is False
    assert status["market_open"] is True and status["next_close"] == "2024-11-26T21:00:00Z"
    assert status["last_heartbeat_age_seconds"] == (stopped - beat.timestamp).total_seconds()
    assert status["symbols"] == list(SYMBOLS)
    assert status["dropped_symbols"] == {}
    assert status["controls_enabled"] is True


def test_the_page_warns_of_stale_bars_at_the_limit_healthz_judges_polls_by(
    store: StateStore, finished_run: FinishedRun
) -> None:
    # Before: the page warned at a fixed 180 s whatever the poll interval.
    config = finished_run.config
    data = config.trading.data.model_copy(update={"poll_interval_seconds": 120.0})
    slower = replace(config, trading=config.trading.model_copy(update={"data": data}))

    status = client_over(store, slower).get("/api/status").json()

    assert status["stale_after_seconds"] == stale_after(120.0, None).total_seconds() == 360.0


def test_the_dashboard_and_fleece_status_judge_a_stopped_store_alike(
    client: TestClient, cli_status: BotStatus
) -> None:
    # Before: the dashboard judged a loopback exchange's store at the wall clock while
    # `fleece status` judged it at the simulated heartbeat: two "now"s, two sets of ages.

    shown = client.get("/api/status").json()
    account = client.get("/api/account").json()

    assert shown["simulated_time"] is cli_status.simulated_time is True
    assert cli_status.today is not None
    assert (
        shown["session_date"]
        == account["session_date"]
        == cli_status.today.session_date.isoformat()
    )
    assert (
        account["pnl_today"] == cli_status.today.pnl
        and account["equity"] == cli_status.today.equity
    )


def test_the_status_bar_words_the_facts_as_fleece_status_does(
    client: TestClient, store: StateStore, cli_status: BotStatus
) -> None:
    # Before: the page worded them in JavaScript: the banner said "stopped Nov 26 11:03:00 ET"
    # where fleece status said "stopped 2024-11-26 11:03:00 ET (simulated)".
    console = Console(record=True, width=250)
    print_status(console, cli_status)
    rows = {
        line.split("│")[1].strip(): line.split("│")[2].strip()
        for line in console.export_text().splitlines()
        if line.count("│") == 3
    }

    shown = client.get("/api/status").json()

    stopped = recorded_until(store, store.runs(1)[0])
    beat = store.last_heartbeat()
    assert stopped is not None and beat is not None
    assert rows["trading state"] == shown["state_text"] == "ACTIVE"
    assert rows["kill switch"] == shown["kill_switch_text"] == "off"
    assert rows["last run"].endswith(" · " + shown["run_text"])
    assert (
        shown["run_text"].startswith("stopped 2024-11-26 ") and "(simulated)" in shown["run_text"]
    )
    assert shown["now_text"] == when(stopped, seconds=True, simulated=True)
    assert (
        shown["heartbeat_text"]
        == f"heartbeat {duration_text((stopped - beat.timestamp).total_seconds())} ago"
    )
    closes_in = (ny("16:00") - stopped).total_seconds()
    assert shown["market_text"] == f"market open · closes in {duration_text(closes_in)}"
    bar_age = shown["last_bar_age_seconds"]
    assert shown["last_bar_text"] == f"last bar {duration_text(bar_age)} ago"
    limit = timedelta(seconds=shown["stale_after_seconds"])
    assert shown["last_bar_stale"] is is_stale(timedelta(seconds=bar_age), limit, True)
    assert shown["dropped_text"] == ""


def test_status_shows_the_symbols_the_last_start_dropped(
    own_store: StateStore, finished_run: FinishedRun
) -> None:
    record_dropped(own_store, {SYMBOLS[0]: "not tradable"}, NOON)

    status = client_over(own_store, finished_run.config).get("/api/status").json()

    assert status["dropped_symbols"] == {SYMBOLS[0]: "not tradable"}
    assert status["dropped_text"] == f"{SYMBOLS[0]} (not tradable)"
    assert status["symbols"] == list(SYMBOLS[1:])


def test_figures_read_as_fleece_status_and_telegram_word_them(
    client: TestClient, cli_status: BotStatus
) -> None:
    # Before: the page worded them in JavaScript: an average cost of "101.25" where fleece
    # status said "101.2500", "$99,801.21" where Telegram said "99,801.21".

    account = client.get("/api/account").json()
    positions = client.get("/api/positions").json()
    fills = client.get("/api/fills").json()

    assert cli_status.today is not None
    assert account["text"]["equity"] == money(cli_status.today.equity)
    assert account["text"]["pnl_today"] == money(cli_status.today.pnl, signed=True)
    assert account["text"]["max_daily_loss_pct"] == percent_text(
        cli_status.today.max_daily_loss_pct
    )
    held = {p.symbol: p for p in cli_status.positions}
    assert {p["symbol"] for p in positions} == set(held) and positions
    for p in positions:
        assert p["text"]["avg_cost"] == price_text(held[p["symbol"]].avg_cost)
        assert p["text"]["last_price"] == price_text(held[p["symbol"]].last_price)
        assert p["text"]["unrealized_pl"] == money(held[p["symbol"]].unrealised, signed=True)
    assert fills and all(f["text"]["price"] == price_text(f["price"]) for f in fills)


def test_account_equity_and_cash_are_the_last_equity_snapshot(
    client: TestClient, store: StateStore
) -> None:
    account = client.get("/api/account").json()

    last = store.equity_curve()[-1]
    day = session_date(last.timestamp)
    assert (account["equity"], account["cash"]) == (last.equity, last.cash)
    assert account["start_equity"] == store.start_equity(day)
    assert account["pnl_today"] == round(last.equity - account["start_equity"], 2)
    assert account["trades_today"] == store.trades_submitted(day) > 0
    assert account["max_trades_per_day"] == 20 and account["max_daily_loss_pct"] == 0.05
    assert account["realised_pnl"] == realised_pnl(store.fills()).realised


def test_positions_are_the_open_fills_valued_at_the_last_stored_close(
    client: TestClient, store: StateStore
) -> None:
    positions = client.get("/api/positions").json()

    ledger = realised_pnl(store.fills())
    assert ledger.open_qty, "the run should end holding something"
    assert {p["symbol"]: p["qty"] for p in positions} == ledger.open_qty
    for p in positions:
        bars = store.bars_between(p["symbol"], ny("09:30"), ny("16:00"))
        cost = ledger.open_cost[p["symbol"]]
        held = ledger.positions[p["symbol"]]
        assert p["last_price"] == bars[-1].close
        assert p["avg_cost"] == round(cost / p["qty"], 4)
        assert p["market_value"] == held.market_value_cents(to_ticks(bars[-1].close)) / 100
        assert p["unrealized_pl"] == held.unrealised_cents(to_ticks(bars[-1].close)) / 100


# ---------------------------------------------------------------------------- orders, fills


def test_fills_are_the_stores_newest_first(client: TestClient, store: StateStore) -> None:
    fills = client.get("/api/fills", params={"limit": 500}).json()

    expected = [(f.symbol, f.side.value, f.qty, f.price, f.client_order_id) for f in store.fills()]
    shown = [(f["symbol"], f["side"], f["qty"], f["price"], f["client_order_id"]) for f in fills]
    assert len(expected) > 4
    assert shown == expected[::-1]


def test_fills_are_limited_to_the_latest(client: TestClient, store: StateStore) -> None:
    fills = client.get("/api/fills", params={"limit": 3}).json()

    assert [f["client_order_id"] for f in fills] == [
        f.client_order_id for f in store.fills()[-3:][::-1]
    ]


def test_orders_are_the_unfinished_intents(client: TestClient, store: StateStore) -> None:
    orders = client.get("/api/orders").json()

    assert [o["client_order_id"] for o in orders] == [
        r.client_order_id for r in store.unfinished_intents()
    ]


def test_refusals_are_counted_by_reason_today_and_in_total(
    client: TestClient, store: StateStore
) -> None:
    refusals = client.get("/api/refusals").json()

    assert refusals["total"] == store.refusal_counts()
    assert refusals["today"] == refusals["total"]  # one session only
    assert refusals["total"].get("max_concurrent_positions", 0) > 0
    assert len(refusals["recent"]) == min(20, sum(refusals["total"].values()))


# ---------------------------------------------------------------------------- charts


def test_equity_of_all_time_is_the_whole_curve_and_today_its_session(
    client: TestClient, store: StateStore
) -> None:
    everything = client.get("/api/equity", params={"range": "all"}).json()
    today = client.get("/api/equity", params={"range": "today"}).json()

    curve = store.equity_curve()
    assert everything["equity"] == [p.equity for p in curve]
    assert today["equity"] == everything["equity"]  # the run lasted one morning


def test_bars_carry_the_strategys_own_smas_at_every_bar(
    client: TestClient, store: StateStore
) -> None:
    series = client.get("/api/bars", params={"symbol": "SPY"}).json()

    calendar = MarketCalendar()
    bars = [
        b
        for b in store.bars_between("SPY", ny("00:00"), ny("23:59"))
        if calendar.session_at(b.timestamp)
    ]
    strategy = SmaCrossover(2, 5, 12)
    carry = Carry()
    session = calendar.session_at(bars[0].timestamp)
    assert session is not None
    expected, closes = [], []
    for minute in session.bar_starts():  # the minute grid, as the bot stepped it
        real = {b.symbol: b for b in bars if b.timestamp == minute}
        for grid_bar in carry.step(minute, real) if real or carry.last_close else []:
            strategy.on_bar(grid_bar, holding=False)
            expected.append(strategy.smas("SPY"))
            closes.append(grid_bar.close)
    indicators = series["indicators"]
    assert list(indicators) == ["SMA fast (2)", "SMA medium (5)", "SMA slow (12)"]
    shown = list(zip(*indicators.values(), strict=True))
    assert series["strategy"] == "sma_crossover"
    assert series["close"] == closes
    assert shown == expected  # exactly: the same integer sums, divided the same way


def test_bars_mark_our_entries_and_exits(client: TestClient, store: StateStore) -> None:
    symbol = store.fills()[0].symbol

    series = client.get("/api/bars", params={"symbol": symbol}).json()

    fills = [f for f in store.fills() if f.symbol == symbol]
    assert [(m["side"], m["price"], m["qty"]) for m in series["markers"]] == [
        (f.side.value, f.price, f.qty) for f in fills
    ]


def test_bars_of_a_symbol_not_traded_are_not_found(client: TestClient) -> None:
    answer = client.get("/api/bars", params={"symbol": "ZZZZ"})

    assert answer.status_code == 404


# ---------------------------------------------------------------------------- control


def test_halt_needs_the_token(own_store: StateStore, finished_run: FinishedRun) -> None:
    client = client_over(own_store, finished_run.config, send_token=False)

    missing = client.post("/api/halt")
    wrong = client.post("/api/halt", headers={"Authorization": "Bearer not-the-token"})

    assert missing.status_code == wrong.status_code == 401
    assert own_store.kill_switch() == (False, "")


def test_halt_with_the_token_sets_the_persisted_kill_switch(
    own_store: StateStore, finished_run: FinishedRun
) -> None:
    client = client_over(own_store, finished_run.config)

    answer = client.post("/api/halt", headers={"Authorization": f"Bearer {TOKEN}"})

    assert answer.status_code == 200
    assert answer.json()["state"] == "HALTED" and answer.json()["state_reason"] == "kill_switch"
    assert own_store.kill_switch() == (True, "halted from the dashboard")


def test_resume_with_the_token_lifts_the_kill_switch(
    own_store: StateStore, finished_run: FinishedRun
) -> None:
    client = client_over(own_store, finished_run.config)
    auth = {"Authorization": f"Bearer {TOKEN}"}
    client.post("/api/halt", headers=auth)

    answer = client.post("/api/resume", headers=auth)

    assert answer.json()["state"] == "ACTIVE"
    assert own_store.kill_switch()[0] is False


def test_flatten_needs_the_token_and_a_running_bot(
    own_store: StateStore, finished_run: FinishedRun
) -> None:
    client = client_over(own_store, finished_run.config, send_token=False)

    missing = client.post("/api/flatten")
    stopped = client.post("/api/flatten", headers={"Authorization": f"Bearer {TOKEN}"})

    assert missing.status_code == 401
    assert stopped.status_code == 409  # a stopped bot's store: nobody to send the orders
    assert own_store.commands() == []


def test_without_a_configured_token_the_dashboard_is_read_only(
    own_store: StateStore, finished_run: FinishedRun
) -> None:
    client = client_over(own_store, finished_run.config, token=None)

    answer = client.post("/api/halt", headers={"Authorization": f"Bearer {TOKEN}"})

    assert answer.status_code == 403
    assert client.get("/api/status").json()["controls_enabled"] is False
    assert own_store.kill_switch()[0] is False


# ---------------------------------------------------------------------------- safety, docs


def test_no_answer_contains_a_key_or_the_token(client: TestClient) -> None:
    paths = [
        "/",
        "/static/dashboard.js",
        "/api/openapi.json",
        "/api/status",
        "/api/account",
        "/api/positions",
        "/api/orders",
        "/api/fills",
        "/api/refusals",
        "/api/equity?range=all",
        "/api/bars?symbol=SPY",
        "/metrics",
        "/healthz",
    ]
    for path in paths:
        body = client.get(path).text
        for secret in (KEY, SECRET, TOKEN):
            assert secret not in body, path


def test_requests_naming_another_host_are_refused(client: TestClient) -> None:
    answer = client.get("/api/status", headers={"Host": "attacker.example"})

    assert answer.status_code == 400


def test_the_page_loads_plotly_from_this_server_only(client: TestClient) -> None:
    page = client.get("/")
    script = client.get("/vendor/plotly.min.js")

    assert '<script src="/vendor/plotly.min.js"' in page.text
    assert "http://" not in page.text and "https://" not in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert script.status_code == 200 and script.content == PLOTLY_JS.read_bytes()


def test_the_openapi_schema_documents_the_json_api(client: TestClient) -> None:
    schema = client.get("/api/openapi.json").json()

    for path in (
        "/api/status",
        "/api/account",
        "/api/positions",
        "/api/orders",
        "/api/fills",
        "/api/equity",
        "/api/refusals",
        "/api/bars",
        "/api/halt",
        "/api/resume",
    ):
        assert path in schema["paths"], path
    assert "Status" in schema["components"]["schemas"]


# ---------------------------------------------------------------------------- metrics, health


def metric_values(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of an exposition, keyed by (name, sorted labels)."""
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_metrics_of_a_stopped_store_match_it(client: TestClient, store: StateStore) -> None:
    values = metric_values(client.get("/metrics").text)

    fills = store.fills()
    assert values[("fleece_bot_running", ())] == 0
    assert values[("fleece_equity_dollars", ())] == store.equity_curve()[-1].equity
    buys = sum(1 for f in fills if f.side.value == "buy")
    assert values[("fleece_fills_total", (("side", "buy"),))] == buys
    assert values[("fleece_fills_total", (("side", "sell"),))] == len(fills) - buys
    for reason, count in store.refusal_counts().items():
        assert values[("fleece_refusals_total", (("reason", reason),))] == count
    assert values[("fleece_trading_state", (("state", "ACTIVE"),))] == 1


def test_healthz_is_503_when_no_bot_runs_here(client: TestClient) -> None:
    answer = client.get("/healthz")

    assert answer.status_code == 503
    assert "stopped bot" in answer.json()["reason"]


# ---------------------------------------------------------------------------- the command


@dataclass
class ServedStore:
    """A ``fleece dashboard`` process over a stopped bot's store (its stderr once stopped)."""

    url: str
    process: subprocess.Popen[str]
    errors: str = ""


@contextmanager
def fleece_dashboard(finished_run: FinishedRun, **env: str) -> Iterator[ServedStore]:
    """Run ``fleece dashboard --port 0`` over the finished run's store until the block ends."""
    environ = {**os.environ, "CONFIG_PATH": str(finished_run.folder / "trading.yaml"), **env}
    command = [sys.executable, "-m", "fleece", "dashboard", "--port", "0"]
    command += ["--db", str(finished_run.db), "--env-file", str(finished_run.folder / "none")]
    process = subprocess.Popen(
        command, env=environ, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    served = ServedStore("", process)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("dashboard listening on http://127.0.0.1:"), line
        served.url = line.split()[3]
        wait_for(
            "the dashboard",
            lambda: httpx.get(f"{served.url}/healthz", timeout=30).status_code in (200, 503),
        )
        yield served
    finally:
        process.terminate()
        _, served.errors = process.communicate(timeout=30)


def test_fleece_dashboard_serves_a_stopped_bots_store(
    finished_run: FinishedRun, store: StateStore
) -> None:
    with fleece_dashboard(finished_run, DASHBOARD_TOKEN=TOKEN) as served:
        account = httpx.get(f"{served.url}/api/account", headers=BEARER, timeout=30).json()

    assert account["equity"] == store.equity_curve()[-1].equity
    assert served.process.returncode == 0, served.errors
    assert TOKEN not in served.errors


def test_fleece_dashboard_masks_every_configured_secret_in_its_log(
    finished_run: FinishedRun,
) -> None:
    # A refused request's path is logged; a path carrying a secret must not write it in clear.
    # Before, `fleece dashboard` masked the Alpaca keys and the token only, not the Telegram
    # token or the notification URLs' secrets that the bot's own log masks.
    telegram = "123456:" + "tElEgRaMsEcReT" * 3
    env = {"DASHBOARD_TOKEN": TOKEN, "TELEGRAM_BOT_TOKEN": telegram}
    with fleece_dashboard(finished_run, **env, TELEGRAM_ALLOWED_CHAT_IDS="42") as served:
        wrong = {"Authorization": "Bearer not-the-token"}
        refused = httpx.get(f"{served.url}/api/{telegram}", headers=wrong, timeout=30)

    assert refused.status_code == 401
    assert "dashboard refused a request: wrong token" in served.errors
    assert telegram not in served.errors and "/api/***" in served.errors


def test_fleece_dashboard_refuses_a_public_address_without_a_token(
    finished_run: FinishedRun,
) -> None:
    env = {k: v for k, v in os.environ.items() if k != "DASHBOARD_TOKEN"}
    env["CONFIG_PATH"] = str(finished_run.folder / "trading.yaml")
    command = [sys.executable, "-m", "fleece", "dashboard", "--host", "0.0.0.0"]
    command += ["--db", str(finished_run.db), "--env-file", str(finished_run.folder / "none")]

    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60, check=False)

    assert done.returncode == 2
    assert "requires DASHBOARD_TOKEN" in done.stderr


def test_account_counts_the_protective_exits(finished_run: FinishedRun, tmp_path: Path) -> None:
    with StateStore(tmp_path / "trades.db") as store:
        for cid, strategy, primary, filled_by in (
            ("protect-oco-0-e1", "protect-oco", "tp1", "sl1"),  # the OCO's stop leg sold
            ("protect-oco-0-e2", "protect-oco", "tp2", "tp2"),  # its take-profit sold
            ("protect-trail-0-e3", "protect-trail", "ts3", "ts3"),
        ):
            store.add_intent(OrderIntent(cid, strategy, "SPY", Side.SELL, 5, NOON, NOON))
            store.set_intent_status(cid, "accepted", broker_order_id=primary, now=NOON)
            store.record_fill(cid, filled_by, "SPY", Side.SELL, 5, 590.0, NOON)

        account = client_over(store, finished_run.config).get("/api/account").json()

    assert (account["stop_outs"], account["take_profits"]) == (2, 1)
