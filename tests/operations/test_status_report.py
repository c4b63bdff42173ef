"""``fleece status``: what the store and the process table say, with the bot running or not."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from ops_helpers import VENV_PYTHON
from rich.console import Console
from typer.testing import CliRunner

from fleece.bot_process import is_bot_argv, process_argv
from fleece.cli_ops import print_status
from fleece.config import AppConfig
from fleece.models import OrderIntent, Refusal, Side, TradingState
from fleece.state_store import IntentStatus
from fleece.status import (
    BotStatus,
    collect_status,
    default_max_age,
    health_problems,
)
from viewer_scenes import DAY, NOW, bar, config_in, fill, store_of


def status_of(config: AppConfig, tmp_path: Path, now: datetime = NOW) -> BotStatus:
    return collect_status(config, pid_file=tmp_path / "data" / "alpaca_bot.pid", now=now)


@pytest.fixture
def fake_bot(tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A process whose command line is the bot's (python .../orchestrator.py)."""
    script = tmp_path / "orchestrator.py"
    script.write_text("import time\ntime.sleep(60)\n")
    proc = subprocess.Popen([str(VENV_PYTHON), str(script)])
    # Until the child has exec'd, /proc shows the parent's command line (pytest's).
    deadline = time.monotonic() + 30
    while "orchestrator.py" not in " ".join(process_argv(proc.pid) or []):
        assert time.monotonic() < deadline, "the fake bot never started"
        time.sleep(0.01)
    yield proc
    proc.kill()
    proc.wait()


# --------------------------------------------------------------------------- the store's view


def test_positions_are_rebuilt_from_fills_at_average_cost_and_valued_at_the_last_bar(
    tmp_path: Path,
) -> None:
    config = config_in(tmp_path)
    with store_of(config) as store:
        fill(store, "AAPL", Side.BUY, 10, 100.0, NOW - timedelta(minutes=30))
        fill(store, "AAPL", Side.BUY, 10, 110.0, NOW - timedelta(minutes=20))
        fill(store, "AAPL", Side.SELL, 5, 120.0, NOW - timedelta(minutes=10))
        bar(store, "AAPL", 90.0, NOW - timedelta(minutes=5))
        bar(store, "AAPL", 112.0, NOW - timedelta(minutes=1))

    (position,) = status_of(config, tmp_path).positions

    assert (position.symbol, position.qty, position.avg_cost) == ("AAPL", 15, 105.0)
    assert position.last_price == 112.0
    assert position.last_price_at == NOW - timedelta(minutes=1)
    assert position.unrealised == 105.0  # 15 x 112 - 15 x 105


def test_the_positions_table_shows_prices_to_the_tick_as_telegram_and_notifications_do(
    tmp_path: Path,
) -> None:
    # Before: the table cut the last price to the cent (101.23) while /positions showed 101.2345.
    config = config_in(tmp_path)
    with store_of(config) as store:
        fill(store, "AAPL", Side.BUY, 10, 100.5, NOW - timedelta(minutes=30))
        bar(store, "AAPL", 101.2345, NOW - timedelta(minutes=1))
    console = Console(record=True, width=200)

    print_status(console, status_of(config, tmp_path))

    row = next(line for line in console.export_text().splitlines() if "AAPL" in line)
    assert "100.5000" in row and "101.2345" in row


def test_a_position_without_stored_bars_has_an_unknown_unrealised_pnl(tmp_path: Path) -> None:
    config = config_in(tmp_path)
    with store_of(config) as store:
        fill(store, "MSFT", Side.BUY, 3, 400.0, NOW - timedelta(minutes=3))

    (position,) = status_of(config, tmp_path).positions

    assert position.last_price is None and position.unrealised is None


def test_a_closed_position_is_not_listed(tmp_path: Path) -> None:
    config = config_in(tmp_path)
    with store_of(config) as store:
        fill(store, "MSFT", Side.BUY, 3, 400.0, NOW - timedelta(minutes=3))
        fill(store, "MSFT", Side.SELL, 3, 401.0, NOW - timedelta(minutes=2))

    assert status_of(config, tmp_path).positions == ()


def test_open_orders_are_the_intents_the_broker_may_still_act_on(tmp_path: Path) -> None:
    config = config_in(tmp_path)
    at = NOW - timedelta(minutes=2)
    with store_of(config) as store:
        store.add_intent(OrderIntent("open-1", "test", "AAPL", Side.BUY, 5, at, at))
        store.set_intent_status("open-1", IntentStatus.ACCEPTED, broker_order_id="b1", now=at)
        store.add_intent(OrderIntent("done-1", "test", "MSFT", Side.BUY, 5, at, at))
        store.set_intent_status("done-1", IntentStatus.CANCELED, now=at)

    (order,) = status_of(config, tmp_path).open_orders

    assert (order.client_order_id, order.symbol, order.side) == ("open-1", "AAPL", "buy")
    assert (order.qty, order.filled_qty, order.status) == (5, 0, "accepted")


def test_todays_pnl_and_trade_count_are_shown_against_the_limits(tmp_path: Path) -> None:
    config = config_in(tmp_path)
    with store_of(config) as store:
        store.set_start_equity(DAY, 100_000.0)
        for _ in range(3):
            store.increment_trades_submitted(DAY)
        store.add_heartbeat(NOW - timedelta(seconds=30), 99_500.0, 1, 0, TradingState.ACTIVE)
        yesterday = NOW - timedelta(days=1)
        store.add_refusal(Refusal("AAPL", Side.BUY, "max_positions", "", yesterday))
        for _ in range(2):
            store.add_refusal(Refusal("AAPL", Side.BUY, "max_positions", "", NOW))

    today = status_of(config, tmp_path).today

    assert today is not None and today.session_date == DAY
    assert (today.start_equity, today.equity, today.pnl) == (100_000.0, 99_500.0, -500.0)
    assert (today.loss_limit, today.max_daily_loss_pct) == (5_000.0, 0.05)
    assert (today.trades_submitted, today.max_trades_per_day) == (3, 20)
    assert today.refusals == {"max_positions": 2}


def test_a_daily_loss_pct_of_one_shows_no_loss_limit(tmp_path: Path) -> None:
    config = config_in(tmp_path, max_daily_loss_pct="1.0")
    with store_of(config) as store:
        store.set_start_equity(DAY, 100_000.0)

    status = status_of(config, tmp_path)
    console = Console(record=True, width=200)
    print_status(console, status)

    assert status.today is not None and status.today.loss_limit is None
    assert "loss limit none" in console.export_text()


def test_the_loss_limit_percent_reads_as_the_dashboard_shows_it(tmp_path: Path) -> None:
    # Before: "(2%)" for a 2.5% limit (rounded to a whole percent, half to even).
    config = config_in(tmp_path, max_daily_loss_pct="0.025")
    with store_of(config) as store:
        store.set_start_equity(DAY, 100_000.0)
    console = Console(record=True, width=200)

    print_status(console, status_of(config, tmp_path))

    assert "loss limit -2,500.00 (2.50%)" in console.export_text()


def test_trading_state_kill_switch_and_breaker_are_read_from_the_store(tmp_path: Path) -> None:
    config = config_in(tmp_path)
    with store_of(config) as store:
        store.set_trading_state(TradingState.HALTED, "kill_switch", NOW)
        store.set_kill_switch(True, "operator", NOW)
        store.set_breaker(True, 5, NOW)

    status = status_of(config, tmp_path)

    assert (status.trading_state, status.state_reason) == ("HALTED", "kill_switch")
    assert (status.kill_switch, status.kill_switch_reason) == (True, "operator")
    assert (status.breaker_tripped, status.breaker_failures, status.breaker_limit) == (True, 5, 5)


def test_the_environments_kill_switch_shows_on_before_the_bot_ever_ran(tmp_path: Path) -> None:
    config = config_in(tmp_path, kill_switch=True)
    console = Console(record=True, width=200)

    print_status(console, status_of(config, tmp_path))

    rows = {
        line.split("│")[1].strip(): line.split("│")[2].strip()
        for line in console.export_text().splitlines()
        if line.count("│") == 3
    }
    assert rows["kill switch"] == "on (KILL_SWITCH=true in the environment)"
    assert rows["trading state"] == "HALTED (kill_switch)"  # what the bot starts in


def test_both_kill_switches_are_named_once_each(tmp_path: Path) -> None:
    # Lifting either one leaves the other holding the bot: the operator needs to see both.
    config = config_in(tmp_path, kill_switch=True)
    with store_of(config) as store:
        store.set_kill_switch(True, "maintenance", NOW)
    console = Console(record=True, width=200)

    print_status(console, status_of(config, tmp_path))

    text = console.export_text()
    assert "on (KILL_SWITCH=true in the environment; maintenance)" in text
    assert text.count("KILL_SWITCH=true") == 1


def test_the_heartbeat_age_is_measured_on_the_wall_clock_in_paper_mode(tmp_path: Path) -> None:
    config = config_in(tmp_path)
    with store_of(config) as store:
        store.add_heartbeat(NOW - timedelta(seconds=42), 100_000.0, 0, 0, TradingState.ACTIVE)

    beat = status_of(config, tmp_path).heartbeat

    assert beat is not None and beat.age_seconds == 42.0 and beat.state == "ACTIVE"


def test_a_heartbeat_stamped_ahead_of_the_wall_clock_reads_as_just_now(tmp_path: Path) -> None:
    # Before: -2.0 s here, while the dashboard and /metrics said 0 for the same heartbeat.
    config = config_in(tmp_path)
    with store_of(config) as store:
        store.add_heartbeat(NOW + timedelta(seconds=2), 100_000.0, 0, 0, TradingState.ACTIVE)

    beat = status_of(config, tmp_path).heartbeat

    assert beat is not None and beat.age_seconds == 0.0


def test_in_sim_mode_store_times_are_simulated_and_today_follows_the_heartbeat(
    tmp_path: Path,
) -> None:
    config = config_in(tmp_path, mode="sim")
    simulated = datetime(2024, 1, 2, 16, 0, tzinfo=UTC)
    with store_of(config) as store:
        store.start_run(simulated - timedelta(hours=1), 1, "sim")
        store.add_heartbeat(simulated, 100_000.0, 0, 0, TradingState.ACTIVE)

    status = status_of(config, tmp_path)

    assert status.simulated_time and status.mode == "sim"
    assert status.heartbeat is not None and status.heartbeat.age_seconds is None
    assert status.today is not None and status.today.session_date == date(2024, 1, 2)
    assert status.market.at_heartbeat is True


def test_a_paper_run_on_a_loopback_exchange_marks_both_its_start_and_stop_simulated(
    tmp_path: Path,
) -> None:
    # Before: the stop was marked "(simulated)" and the start of the same run was not.
    config = config_in(tmp_path)
    local = replace(
        config,
        settings=config.settings.model_copy(update={"alpaca_base_url": "http://127.0.0.1:8765"}),
    )
    with store_of(config) as store:
        run = store.start_run(NOW - timedelta(hours=1), 1, "paper")
        store.end_run(run, NOW, "done")
    console = Console(record=True, width=240)

    print_status(console, status_of(local, tmp_path))

    row = next(line for line in console.export_text().splitlines() if "last run" in line)
    assert row.count("(simulated)") == 2


def test_status_never_creates_a_missing_database(tmp_path: Path) -> None:
    config = config_in(tmp_path)

    status = status_of(config, tmp_path)

    assert not status.database_exists and status.notes
    assert not Path(config.settings.database_path).exists()


def test_the_market_is_read_from_the_nyse_calendar_at_the_wall_clock(tmp_path: Path) -> None:
    config = config_in(tmp_path)
    saturday = datetime(2024, 11, 30, 15, 0, tzinfo=UTC)

    open_now = status_of(config, tmp_path).market
    weekend = status_of(config, tmp_path, now=saturday).market

    assert open_now.open is True
    assert open_now.next_close == datetime(2024, 11, 26, 21, 0, tzinfo=UTC)
    assert weekend.open is False
    assert weekend.next_open == datetime(2024, 12, 2, 14, 30, tzinfo=UTC)


# --------------------------------------------------------------------------- the process


def test_without_pid_file_or_unfinished_run_the_bot_is_not_running(tmp_path: Path) -> None:
    config = config_in(tmp_path)

    process = status_of(config, tmp_path).process

    assert not process.running and process.pid is None and process.stale_pid is None


def test_a_pid_file_naming_a_dead_process_is_reported_stale_and_left_alone(
    tmp_path: Path,
) -> None:
    config = config_in(tmp_path)
    gone = subprocess.Popen(["true"])
    gone.wait()
    pid_file = tmp_path / "data" / "alpaca_bot.pid"
    pid_file.parent.mkdir(parents=True)
    pid_file.write_text(f"{gone.pid}\n")

    process = status_of(config, tmp_path).process

    assert not process.running and process.stale_pid == gone.pid
    assert pid_file.exists()  # status only reads; bot.sh and daemon.py clean up


def test_the_bot_is_found_from_the_pid_file(
    tmp_path: Path, fake_bot: subprocess.Popen[bytes]
) -> None:
    config = config_in(tmp_path)
    pid_file = tmp_path / "data" / "alpaca_bot.pid"
    pid_file.parent.mkdir(parents=True)
    pid_file.write_text(f"{fake_bot.pid}\n")

    process = status_of(config, tmp_path).process

    assert process.running and process.pid == fake_bot.pid and process.source == "pid file"


def test_without_a_pid_file_the_bot_is_found_from_the_stores_unfinished_run(
    tmp_path: Path, fake_bot: subprocess.Popen[bytes]
) -> None:
    # Docker, systemd and `fleece run` write no PID file; the run records the PID.
    config = config_in(tmp_path)
    with store_of(config) as store:
        store.start_run(NOW, fake_bot.pid, "paper")

    process = status_of(config, tmp_path).process

    assert process.running and process.pid == fake_bot.pid and process.source == "store"


def test_a_finished_run_is_not_a_running_bot(
    tmp_path: Path, fake_bot: subprocess.Popen[bytes]
) -> None:
    config = config_in(tmp_path)
    with store_of(config) as store:
        run = store.start_run(NOW, fake_bot.pid, "paper")
        store.end_run(run, NOW, "stopped")

    assert not status_of(config, tmp_path).process.running


@pytest.mark.parametrize(
    ("argv", "is_bot"),
    [
        (["/srv/bot/.venv/bin/python", "/srv/bot/orchestrator.py"], True),
        (["python3", "orchestrator.py", "--env-file", ".env"], True),
        (["/srv/bot/.venv/bin/fleece", "run"], True),
        (["/usr/bin/python3", "-m", "fleece", "run"], True),
        (["vim", "orchestrator.py"], False),
        (["/srv/bot/.venv/bin/fleece", "status"], False),
        (["sleep", "60"], False),
        ([], False),
    ],
)
def test_which_command_lines_are_the_bot(argv: list[str], is_bot: bool) -> None:
    assert is_bot_argv(argv) is is_bot


# --------------------------------------------------------------------------- health


def running_status(tmp_path: Path, fake_bot: subprocess.Popen[bytes], beat_age: float) -> BotStatus:
    config = config_in(tmp_path)
    with store_of(config) as store:
        store.start_run(NOW - timedelta(hours=1), fake_bot.pid, "paper")
        store.add_heartbeat(NOW - timedelta(seconds=beat_age), 1.0, 0, 0, TradingState.HALTED)
    return status_of(config, tmp_path)


def test_a_running_bot_with_a_recent_heartbeat_is_healthy_even_when_halted(
    tmp_path: Path, fake_bot: subprocess.Popen[bytes]
) -> None:
    status = running_status(tmp_path, fake_bot, beat_age=30)

    assert health_problems(status, default_max_age(status)) == []


def test_a_stale_heartbeat_is_unhealthy(tmp_path: Path, fake_bot: subprocess.Popen[bytes]) -> None:
    status = running_status(tmp_path, fake_bot, beat_age=600)

    (problem,) = health_problems(status, default_max_age(status))

    assert problem == "last heartbeat 10 min ago (limit 3 min)"


def test_a_bot_that_is_not_running_is_unhealthy(tmp_path: Path) -> None:
    status = status_of(config_in(tmp_path), tmp_path)

    assert health_problems(status, 180) == ["the bot is not running"]


def test_in_sim_mode_health_uses_how_long_ago_the_store_was_written(
    tmp_path: Path, fake_bot: subprocess.Popen[bytes]
) -> None:
    config = config_in(tmp_path, mode="sim")
    simulated = datetime(2024, 1, 2, 16, 0, tzinfo=UTC)
    with store_of(config) as store:
        store.start_run(simulated, fake_bot.pid, "sim")
        store.add_heartbeat(simulated, 1.0, 0, 0, TradingState.ACTIVE)
    db = Path(config.settings.database_path)
    now = datetime.now(UTC)
    for path in (db, db.with_name(db.name + "-wal")):
        if path.exists():
            os.utime(path, (now.timestamp() - 1000, now.timestamp() - 1000))

    status = status_of(config, tmp_path, now=now)

    assert status.store_written_age_seconds == pytest.approx(1000, abs=1)
    assert health_problems(status, 180) == [
        "store last written 16 min 40 s ago (limit 3 min; simulated time)"
    ]
    assert health_problems(status, 2000) == []


# --------------------------------------------------------------------------- the command


@pytest.fixture
def bot_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    config = config_in(tmp_path)
    with store_of(config) as store:
        fill(store, "AAPL", Side.BUY, 10, 100.0, NOW - timedelta(minutes=3))
        bar(store, "AAPL", 101.5, NOW - timedelta(minutes=1))
    (tmp_path / ".env").write_text(
        f"FLEECE_MODE=paper\nDATABASE_PATH={config.settings.database_path}\n"
        f"CONFIG_PATH={tmp_path / 'trading.yaml'}\n"
    )
    monkeypatch.chdir(tmp_path)
    for name in ("FLEECE_MODE", "DATABASE_PATH", "CONFIG_PATH", "KILL_SWITCH", "BOT_PID_FILE"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


def invoke(*args: str) -> tuple[int, str]:
    from fleece.cli import app

    result = CliRunner().invoke(app, ["status", *args])
    return result.exit_code, result.output


def test_status_prints_the_bot_state_positions_and_orders(bot_dir: Path) -> None:
    code, output = invoke()

    assert code == 0
    assert "not running" in output
    assert "AAPL" in output and "+15.00" in output  # 10 x (101.50 - 100.00)
    assert "open orders: none" in output


def test_status_json_is_the_whole_status_with_the_health_verdict(bot_dir: Path) -> None:
    code, output = invoke("--json")

    data = json.loads(output)
    assert code == 0
    assert data["process"]["running"] is False
    assert data["positions"][0]["symbol"] == "AAPL" and data["positions"][0]["unrealised"] == 15.0
    assert data["health"] == {
        "healthy": False,
        "problems": ["the bot is not running"],
        "max_age_seconds": 180.0,
    }
    assert data["positions"][0]["last_price_at"].endswith("Z")


def test_status_check_exits_1_when_the_bot_is_not_running(bot_dir: Path) -> None:
    code, output = invoke("--check")

    assert code == 1
    assert output.strip() == "unhealthy: the bot is not running"
