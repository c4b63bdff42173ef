"""The read model: one snapshot of the bot's state, the same figures whoever shows them.

``fleece status``, the dashboard and the Telegram replies all read a
:class:`~fleece.read_model.BotSnapshot`; the running bot builds it from its live objects plus
its store, another process from the store alone. A real SQLite store, no bot process.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from fleece.clock import ManualClock
from fleece.config import AppConfig
from fleece.control.replies import daily_text, positions_text, status_text
from fleece.dashboard import DashboardView
from fleece.models import Bar, OrderIntent, Side, TradingState
from fleece.notify.reports import daily_summary
from fleece.read_model import (
    Activity,
    BotSnapshot,
    LiveFacts,
    build_snapshot,
    kill_switch_state,
    stopped_now,
)
from fleece.state_store import StateStore
from fleece.status import collect_status
from viewer_scenes import DAY, NOW, config_in, fill


@dataclass
class Scene:
    """A stopped bot's store: a position, an open order, today's figures, the kill switch."""

    config: AppConfig
    store: StateStore
    folder: Path


@pytest.fixture
def scene(tmp_path: Path) -> Iterator[Scene]:
    config = config_in(tmp_path)
    with StateStore(Path(config.settings.database_path)) as store:
        store.set_start_equity(DAY, 100_000.0)
        fill(store, "AAPL", Side.BUY, 10, 100.0, NOW - timedelta(minutes=30))
        fill(store, "AAPL", Side.BUY, 10, 110.0, NOW - timedelta(minutes=20))
        store.add_bars([Bar("AAPL", NOW - timedelta(minutes=1), 112, 112, 112, 112.0, 100)])
        opened = NOW - timedelta(minutes=2)
        store.add_intent(OrderIntent("t-MSFT-open", "test", "MSFT", Side.BUY, 5, opened, opened))
        for _ in range(3):
            store.increment_trades_submitted(DAY)
        store.add_equity_snapshot(NOW - timedelta(minutes=1), 99_700.0, 97_600.0, 2_100.0, 1, 1)
        store.set_kill_switch(True, "operator", NOW - timedelta(minutes=5))
        yield Scene(config, store, tmp_path)


def _live_facts_of(scene: Scene, snap: BotSnapshot) -> LiveFacts:
    """What a running bot would hold in memory in the state the store describes."""
    return LiveFacts(
        state=snap.state,
        state_reason=snap.state_reason,
        breaker_tripped=snap.breaker_tripped,
        breaker_failures=snap.breaker_failures,
        equity=snap.equity,
        cash=snap.cash,
        buying_power=None,
        last_equity=snap.start_equity,
        holdings={h.symbol: h.qty for h in snap.positions},
        last_prices={h.symbol: h.last_price for h in snap.positions if h.last_price is not None},
        last_bar_at=snap.last_bar_at,
        last_poll_at=None,
        symbols=snap.symbols,
        simulated_time=False,
        activity=Activity(),
    )


def _figures(snap: BotSnapshot) -> dict[str, object]:
    """What every viewer shows (leaving out what only a running bot knows: poll times,
    counters, the time of a price)."""
    return {
        "state": (snap.state, snap.state_reason),
        "kill switch": (snap.kill_switch, snap.kill_switch_reason),
        "breaker": (snap.breaker_tripped, snap.breaker_failures),
        "equity": (snap.equity, snap.cash, snap.start_equity, snap.pnl_today, snap.loss_limit),
        "realised": snap.realised_pnl,
        "positions": [
            (h.symbol, h.qty, h.avg_cost, h.last_price, h.market_value, h.unrealised)
            for h in snap.positions
        ],
        "orders": [(o.client_order_id, o.symbol, o.qty, o.status) for o in snap.open_orders],
        "today": (snap.trades_today, snap.max_trades_per_day, dict(snap.refusals_today)),
    }


def test_a_stopped_bot_s_snapshot_holds_its_stored_state(scene: Scene) -> None:
    snap = build_snapshot(scene.store, scene.config, NOW)

    assert (snap.state, snap.state_reason) == (TradingState.HALTED, "kill_switch")
    assert (snap.equity, snap.start_equity, snap.pnl_today) == (99_700.0, 100_000.0, -300.0)
    assert [(h.symbol, h.qty, h.avg_cost, h.last_price) for h in snap.positions] == [
        ("AAPL", 20, 105.0, 112.0)
    ]
    assert [o.client_order_id for o in snap.open_orders] == ["t-MSFT-open"]
    assert (snap.trades_today, snap.running) == (3, False)


def test_the_running_bot_s_snapshot_equals_the_one_built_from_its_store(scene: Scene) -> None:
    from_store = build_snapshot(scene.store, scene.config, NOW)

    live = build_snapshot(scene.store, scene.config, NOW, _live_facts_of(scene, from_store))

    assert live.running and not from_store.running
    assert _figures(live) == _figures(from_store)


def test_status_and_the_dashboard_show_the_same_figures(scene: Scene) -> None:
    view = DashboardView(scene.store, scene.config, clock=ManualClock(NOW))

    status = collect_status(scene.config, pid_file=scene.folder / "none.pid", now=NOW)
    shown, account, positions = view.status(), view.account(), view.positions()

    assert status.trading_state == shown.state.value == "HALTED"
    assert status.state_reason == shown.state_reason == "kill_switch"
    assert status.kill_switch == shown.kill_switch is True
    assert status.today is not None
    assert status.today.equity == account.equity == 99_700.0
    assert status.today.start_equity == account.start_equity == 100_000.0
    assert status.today.pnl == account.pnl_today == -300.0
    assert status.today.trades_submitted == account.trades_today == 3
    assert [
        (p.symbol, p.qty, p.avg_cost, p.last_price, p.unrealised) for p in status.positions
    ] == [(p.symbol, p.qty, p.avg_cost, p.last_price, p.unrealized_pl) for p in positions]
    assert [o.client_order_id for o in status.open_orders] == [
        o.client_order_id for o in view.orders()
    ]


def test_the_telegram_replies_word_the_same_snapshot(scene: Scene) -> None:
    snap = build_snapshot(scene.store, scene.config, NOW)

    status, positions = status_text(snap), positions_text(snap)

    assert "state HALTED (kill_switch)" in status
    assert "kill switch on (operator)" in status
    assert "positions 1 · open orders 1 · trades today 3/20" in status
    assert positions.startswith("AAPL 20 @ avg 105.0000 · last 112.0000")


# ---- a day whose start equity was not recorded (the account not read at the open) ----------
@pytest.fixture
def unrecorded_start(tmp_path: Path) -> Iterator[Scene]:
    config = config_in(tmp_path)
    with StateStore(Path(config.settings.database_path)) as store:
        store.add_equity_snapshot(NOW - timedelta(minutes=30), 100_050.0, 100_050.0, 0.0, 0, 0)
        store.add_equity_snapshot(NOW - timedelta(minutes=1), 99_700.0, 97_600.0, 2_100.0, 1, 0)
        yield Scene(config, store, tmp_path)


def test_without_a_recorded_start_the_running_bot_counts_from_the_brokers_last_equity(
    unrecorded_start: Scene,
) -> None:
    scene = unrecorded_start
    stored = build_snapshot(scene.store, scene.config, NOW)
    facts = replace(_live_facts_of(scene, stored), last_equity=100_000.0)

    snap = build_snapshot(scene.store, scene.config, NOW, facts)
    after_close = daily_summary(
        scene.store, DAY, equity=snap.equity, positions=1, last_equity=facts.last_equity
    )

    assert (snap.start_equity, snap.pnl_today) == (100_000.0, -300.0)
    assert after_close.pnl == snap.pnl_today  # the summary the bot sends after the close
    assert "P&L -300.00 · equity 99,700.00" in daily_text(snap, scene.store)  # /daily


def test_without_a_recorded_start_a_stopped_bot_counts_from_the_days_first_equity(
    unrecorded_start: Scene,
) -> None:
    snap = build_snapshot(unrecorded_start.store, unrecorded_start.config, NOW)

    summary = daily_summary(unrecorded_start.store, DAY, equity=None, positions=1)

    assert (snap.start_equity, snap.pnl_today) == (100_050.0, -350.0)
    assert summary.pnl == snap.pnl_today


def test_the_average_cost_shown_is_the_brokers_average_entry_price(tmp_path: Path) -> None:
    # 3 shares at $100.0001 cost $300.00 to the cent; Alpaca's avg_entry_price is 100.0001.
    config = config_in(tmp_path)
    with StateStore(Path(config.settings.database_path)) as store:
        fill(store, "IBM", Side.BUY, 3, 100.0001, NOW - timedelta(minutes=10))

        snap = build_snapshot(store, config, NOW)

    assert [(h.symbol, h.qty, h.avg_cost) for h in snap.positions] == [("IBM", 3, 100.0001)]


def test_a_stopped_paper_bot_is_judged_at_the_wall_clock(scene: Scene) -> None:
    wall = NOW + timedelta(days=3)

    assert stopped_now(scene.store, scene.config, wall) == (wall, False)


def test_a_stopped_sim_bot_is_judged_where_its_simulated_clock_stopped(tmp_path: Path) -> None:
    # The newest thing recorded is an equity snapshot after the last heartbeat (the shutdown's).
    config = config_in(tmp_path, mode="sim")
    with StateStore(Path(config.settings.database_path)) as store:
        run = store.start_run(NOW - timedelta(hours=1), 1, "sim")
        store.add_heartbeat(NOW, 100_000.0, 0, 0, TradingState.ACTIVE)
        store.add_equity_snapshot(NOW + timedelta(seconds=30), 100_010.0, 100_010.0, 0.0, 0, 0)
        store.end_run(run, NOW + timedelta(seconds=20), "done")

        wall = datetime(2030, 1, 1, tzinfo=UTC)
        judged = stopped_now(store, config, wall)
        view = DashboardView(store, config, clock=ManualClock(wall))
        shown = (view.now(), view.simulated_time())
        status = collect_status(config, pid_file=tmp_path / "none.pid", now=wall)

    assert judged == shown == (NOW + timedelta(seconds=30), True)
    assert status.simulated_time and status.today is not None
    assert (status.today.session_date, status.today.equity) == (DAY, 100_010.0)


def test_the_kill_switch_is_on_when_either_switch_is_and_names_each_one_set() -> None:
    env = "KILL_SWITCH=true in the environment"
    assert kill_switch_state(False, (False, "resumed")) == (False, "")
    assert kill_switch_state(True, (False, "resumed")) == (True, env)
    assert kill_switch_state(False, (True, "maintenance")) == (True, "maintenance")
    assert kill_switch_state(True, (True, "maintenance")) == (True, f"{env}; maintenance")
