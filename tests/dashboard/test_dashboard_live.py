"""The dashboard served by a running bot: its URL, live figures, metrics that move, /healthz.

The bot runs in paper mode against a stepped exchange on a loopback port; the specs move the
simulated clock minute by minute (and take the data feed down to see /healthz turn 503).
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from dashboard_helpers import (
    BEARER,
    BotThread,
    ServedExchange,
    config_for,
    paper_bot,
    step,
    step_until,
    wait_for,
)
from prometheus_client.parser import text_string_to_metric_families

from fleece.read_model import BotSnapshot, build_snapshot
from fleece.runtime import Bot

MAX_STEPS = 60


class Lines(logging.Handler):
    """Keeps the messages logged while installed."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@dataclass
class Live:
    """The running bot, its exchange, its dashboard URL and what it logged."""

    exchange: ServedExchange
    bot: BotThread
    url: str
    logged: Lines

    def get(self, path: str) -> httpx.Response:
        """GET a dashboard path, with the bot's token."""
        return httpx.get(f"{self.url}{path}", headers=BEARER, timeout=15)


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    """A paper bot on a stepped exchange from 10:30:05 New York, its dashboard on a free port."""
    folder = tmp_path_factory.mktemp("live")
    logged = Lines()
    logging.getLogger("fleece").addHandler(logged)
    previous = logging.getLogger("fleece").level
    logging.getLogger("fleece").setLevel(logging.INFO)
    try:
        with paper_bot(folder, close_positions=False) as (exchange, bot, url):
            yield Live(exchange, bot, url, logged)
    finally:
        logging.getLogger("fleece").removeHandler(logged)
        logging.getLogger("fleece").setLevel(previous)


def metrics(live: Live) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """The bot's /metrics, keyed by (sample name, sorted labels)."""
    text = live.get("/metrics").text
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def trade_until(live: Live, more_fills_than: int) -> None:
    """Step minute by minute until the store holds more fills than given."""
    store = live.bot.bot.store
    assert store is not None
    step_until(
        live.exchange,
        live.bot,
        lambda: len(store.fills()) > more_fills_than,
        "a new fill",
        MAX_STEPS,
    )


def test_the_bot_logs_where_its_dashboard_listens(live: Live) -> None:
    port = int(live.url.rsplit(":", 1)[1])

    assert port > 0
    assert f"dashboard listening on http://127.0.0.1:{port}" in live.logged.messages
    assert live.get("/api/status").json()["running"] is True


def test_metrics_move_as_the_bot_trades(live: Live) -> None:
    store = live.bot.bot.store
    assert store is not None
    before = metrics(live)
    fills_before = len(store.fills())

    trade_until(live, fills_before)
    after = metrics(live)

    bars_ok = ("fleece_broker_requests_total", (("endpoint", "get_stock_bars"), ("status", "ok")))
    polls = ("fleece_poll_latency_seconds_count", (("outcome", "ok"),))
    assert after[bars_ok] > before[bars_ok]
    assert after[polls] > before.get(polls, 0)
    assert after[("fleece_polls_total", ())] > before[("fleece_polls_total", ())]
    fills = sum(after[("fleece_fills_total", (("side", side),))] for side in ("buy", "sell"))
    assert fills == len(store.fills()) > fills_before
    assert after[("fleece_orders", (("status", "filled"),))] >= 1
    assert after[("fleece_equity_dollars", ())] > 0
    headroom = after[("fleece_rate_limit_headroom", ())]
    assert headroom == 200 - after[("fleece_broker_requests_last_minute", ())]
    assert after[("fleece_healthy", ())] == 1


def test_the_api_shows_the_running_traders_figures(live: Live) -> None:
    trader = live.bot.bot.trader
    assert trader is not None and trader.account is not None

    account = live.get("/api/account").json()
    positions = live.get("/api/positions").json()
    status = live.get("/api/status").json()

    assert account["equity"] == trader.account.equity
    assert account["buying_power"] == trader.account.buying_power
    assert {p["symbol"]: p["qty"] for p in positions} == trader.portfolio.qty
    for p in positions:
        assert p["last_price"] == trader.last_price[p["symbol"]]
    assert status["now"].startswith("2024-11-26T")
    assert status["market_open"] is True and status["simulated_time"] is True


def test_healthz_turns_503_when_polling_stops_and_200_when_it_resumes(live: Live) -> None:
    failed_poll = ("fleece_poll_latency_seconds_count", (("outcome", "error"),))
    refused_bars = (
        "fleece_broker_errors_total",
        (("endpoint", "get_stock_bars"), ("status", "503")),
    )
    assert live.get("/healthz").status_code == 200

    live.exchange.fail_bars = True  # the data feed goes down ...
    live.exchange.exchange.advance(5)  # ... and five minutes pass
    wait_for("a failed poll, retries included", lambda: failed_poll in metrics(live))
    outage = live.get("/healthz")
    errors = metrics(live)[refused_bars]
    live.exchange.fail_bars = False
    step(live.exchange, live.bot)
    recovered = live.get("/healthz")

    assert outage.status_code == 503
    assert outage.json()["reason"].startswith("data is stale: last successful poll 5 min ago")
    assert errors >= 1
    assert recovered.status_code == 200 and recovered.json()["reason"] == "ok"


def test_a_sim_mode_bot_serves_its_dashboard_healthy_in_simulated_time(tmp_path: Path) -> None:
    env = {"FLEECE_MODE": "sim", "SIM_SPEED": "600", "SIM_START": "2024-11-26"}
    bot = BotThread(Bot(config_for(tmp_path, env), install_signal_handlers=False))
    url = bot.start()
    try:
        wait_for(
            "a successful poll",
            lambda: bot.bot.poller is not None and bot.bot.poller.last_success is not None,
        )
        health = httpx.get(f"{url}/healthz", timeout=15)
        status = httpx.get(f"{url}/api/status", timeout=15).json()
    finally:
        assert bot.stop() == 0

    assert health.status_code == 200, health.text
    assert status["mode"] == "sim" and status["running"] is True
    assert status["now"].startswith("2024-11-26T")  # the simulated day, not the wall clock


def test_a_busy_port_stops_the_bot_with_a_clear_error(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {"FLEECE_MODE": "sim", "SIM_SPEED": "600", "DASHBOARD_PORT": str(port)}
        bot = Bot(config_for(tmp_path, env), install_signal_handlers=False)

        code = asyncio.run(bot.run())

    assert code == 2
    assert bot.stats.exit_reason.startswith("error: dashboard: DASHBOARD_PORT: cannot listen")


def test_the_published_snapshot_matches_the_one_status_builds_from_the_store(live: Live) -> None:
    bot = live.bot.bot
    assert bot.store is not None and bot.published is not None
    trade_until(live, len(bot.store.fills()))
    published = bot.published.latest

    from_store = build_snapshot(bot.store, bot.config, published.as_of)

    def shown(snap: BotSnapshot) -> tuple[object, ...]:
        return (
            (snap.state, snap.state_reason, snap.kill_switch, snap.breaker_tripped),
            [(h.symbol, h.qty, h.avg_cost) for h in snap.positions],
            [o.client_order_id for o in snap.open_orders],
            (snap.trades_today, snap.realised_pnl, snap.start_equity),
        )

    assert published.running and not from_store.running
    assert shown(published) == shown(from_store)
    assert live.get("/api/account").json()["trades_today"] == published.trades_today
