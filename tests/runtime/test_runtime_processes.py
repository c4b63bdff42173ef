"""Specification of the bot as a real process: SIGKILL and restart, SIGTERM, entry points.

``fleece run`` (and ``python orchestrator.py``) run as child processes in paper mode against a
loopback exchange served by the test, whose clock moves only when the test says so (a poll cycle
at a time), or in sim mode on their own built-in exchange. Nothing is mocked.
"""

from __future__ import annotations

import re
import signal
import sys
from pathlib import Path

from alpaca.trading.enums import OrderSide
from runtime_helpers import (
    EIGHT_SYMBOLS,
    SEED_QUERIES,
    Market,
    Paths,
    exchange_fills,
    integrity,
    ny,
    paper_env,
    query,
    sim_env,
    stepped_market,
    stored_fills,
    synthetic,
    wait_for,
    without_trades,
    write_trading_yaml,
)
from runtime_processes import (
    REPO,
    RUNNING,
    Process,
    fleece_command,
    log_text,
    start_fleece_run,
    step_bot_process,
    wait_for_log,
)

from fleece.exchange.orders import OrderRequest, SimOrder

# ---------------------------------------------------------------- SIGKILL, then restart


def orders_at(market: Market) -> int:
    """Orders the exchange has accepted so far."""
    return int(market.exchange.state()["orders_submitted"])


def step_until_orders(market: Market, count: int, minutes: int = 120) -> None:
    """Step the bot process's market minute by minute until the exchange holds ``count`` orders."""
    for _ in range(minutes):
        if orders_at(market) >= count:
            return
        step_bot_process(market)
    raise AssertionError(f"fewer than {count} orders within {minutes} market minutes")


def test_sigkill_mid_session_then_restart_never_sends_an_order_twice_nor_loses_a_fill(
    paths: Paths, market: Market, bots: list[Process]
) -> None:
    # The market moves only when the test steps it, a poll cycle at a time: whatever the load,
    # the bots trade the same minutes, and the session cannot close before they have traded.
    env = paper_env(paths, market.url)
    first = start_fleece_run(paths, env, bots, "first")
    step_until_orders(market, 4)
    # Killed in the middle of a cycle: its bars request was served, its decisions, orders and
    # writes are under way.
    bars = market.requests("GET /v2/stocks/bars")
    market.advance(1)
    wait_for(lambda: market.requests("GET /v2/stocks/bars") > bars, "the first bot's poll")
    first.signal(signal.SIGKILL)
    assert first.wait(timeout=10) == -signal.SIGKILL
    sent_by_the_first = orders_at(market)

    second = start_fleece_run(paths, env, bots, "second")
    step_until_orders(market, sent_by_the_first + 4)
    second.signal(signal.SIGTERM)
    code = second.wait(timeout=30)

    orders = market.orders()
    intents = query(paths.db, "SELECT client_order_id, status FROM order_intents")
    reached = {cid for cid, status in intents if status not in ("failed", "rejected")}
    assert code == 0
    assert set(market.submissions().values()) == {1}
    assert {o.client_order_id for o in orders} == reached
    assert len(orders) == len(reached)
    assert stored_fills(paths.db) == exchange_fills(orders)
    assert integrity(paths.db) == "ok"


def test_sigkill_as_an_order_reaches_the_exchange_then_restart_records_its_fill_once(
    paths: Paths, market: Market, bots: list[Process]
) -> None:
    env = paper_env(paths, market.url)
    first = start_fleece_run(paths, env, bots, "first")
    intake = market.exchange.submit
    arrived: list[str] = []

    def kill_the_bot_then_accept(request: OrderRequest) -> SimOrder:
        # The bot dies with its order in flight: the exchange takes it, nobody reads the answer.
        if not arrived:
            first.signal(signal.SIGKILL)
            first.wait(timeout=10)
            arrived.append(request.client_order_id or "")
        return intake(request)

    market.exchange.submit = kill_the_bot_then_accept
    market.advance(1)
    wait_for(lambda: bool(arrived), "an order from the first bot")
    market.exchange.submit = intake
    (cid,) = arrived
    left_behind = query(
        paths.db, "SELECT status FROM order_intents WHERE client_order_id = ?", (cid,)
    )

    second = start_fleece_run(paths, env, bots, "second")
    step_bot_process(market, 3)
    second.signal(signal.SIGTERM)
    code = second.wait(timeout=30)

    orders = market.orders()
    events = query(
        paths.db, "SELECT kind FROM reconciliation_events WHERE client_order_id = ?", (cid,)
    )
    assert [r[0] for r in left_behind] == ["submitted"]
    assert code == 0
    assert set(market.submissions().values()) == {1}
    assert [len([t for t in stored_fills(paths.db) if t[0] == cid])] == [1]
    assert stored_fills(paths.db) == exchange_fills(orders)
    assert [r[0] for r in events] == ["fill_recovered"]
    assert integrity(paths.db) == "ok"


# ---------------------------------------------------------------- SIGTERM


def test_sigterm_exits_0_within_30s_after_cancelling_its_orders_and_closing_its_positions(
    paths: Paths, market: Market, bots: list[Process]
) -> None:
    bot = start_fleece_run(paths, paper_env(paths, market.url), bots, "bot")
    for _ in range(60):
        if market.positions():
            break
        step_bot_process(market)
    assert market.positions(), "the bot bought something within an hour"
    elsewhere = next(s for s in EIGHT_SYMBOLS if s not in market.positions())
    resting = market.limit_order_by_someone_else(elsewhere, OrderSide.BUY, limit_price=1)

    bot.signal(signal.SIGTERM)
    code = bot.wait(timeout=30)

    orders = market.orders()
    assert code == 0
    assert market.positions() == {}
    assert [o.status.value for o in orders if o.id == str(resting.id)] == ["new"]  # not its own
    assert [o.id for o in orders if o.status.is_open] == [str(resting.id)]
    assert any(o.client_order_id.startswith("shutdown-") for o in orders)
    bots_orders = [o for o in orders if o.id != str(resting.id)]
    assert stored_fills(paths.db) == exchange_fills(bots_orders)
    assert integrity(paths.db) == "ok"
    assert "shutdown complete" in log_text(paths.log_file)


def test_a_second_sigterm_during_shutdown_exits_at_once_and_leaves_the_store_intact(
    paths: Paths, bots: list[Process]
) -> None:
    # SPY trades at 10:00, then not again before 11:00: a sell sent at 10:01 stays open, so the
    # shutdown waits for its fill (the market stands still) and the second signal lands there.
    # The SPY position is bought outside the bot: close_positions 'all' closes it too.
    write_trading_yaml(paths.config, EIGHT_SYMBOLS, shutdown={"close_positions": "all"})
    bars = without_trades(synthetic(EIGHT_SYMBOLS), "SPY", "10:01", "11:00")
    with stepped_market(bars, ny("10:00")) as market:
        market.market_order_by_someone_else("SPY", OrderSide.BUY, 10)
        bot = start_fleece_run(paths, paper_env(paths, market.url), bots, "bot")
        step_bot_process(market)
        bot.signal(signal.SIGTERM)
        wait_for_log(paths.log_file, r"shutdown closing positions orders=", bot)

        bot.signal(signal.SIGTERM)
        code = bot.wait(timeout=10)
        spy_sells = [o for o in market.orders() if o.symbol == "SPY" and o.side.value == "sell"]

    unfinished = query(paths.db, SEED_QUERIES[2])
    assert code == 130
    assert "second signal SIGTERM: exiting immediately" in log_text(paths.log_file)
    assert integrity(paths.db) == "ok"
    assert [(o.status.value, o.qty) for o in spy_sells] == [("new", 10)]
    assert [(r["client_order_id"], r["status"]) for r in unfinished] == [
        (spy_sells[0].client_order_id, "accepted")
    ]


# ---------------------------------------------------------------- the two entry points


def _startup_lines(log: str, root: Path) -> list[str]:
    lines = []
    for line in log.splitlines():
        _, _, rest = line.partition(" ")  # date
        _, _, rest = rest.partition(" ")  # time
        rest = re.sub(r"http://127\.0\.0\.1:\d+", "http://127.0.0.1:PORT", rest)
        lines.append(rest.replace(str(root), "ROOT"))
        if RUNNING in line:
            return lines
    raise AssertionError("no start-up in:\n" + log)


def test_python_orchestrator_py_and_fleece_run_start_the_same_bot(
    tmp_path: Path, bots: list[Process]
) -> None:
    runs = {}
    for name, argv in (
        ("orchestrator", [sys.executable, str(REPO / "orchestrator.py")]),
        ("fleece", fleece_command("run")),
    ):
        paths = Paths(tmp_path / name)
        paths.root.mkdir()
        write_trading_yaml(paths.config, EIGHT_SYMBOLS[:3])
        # Speed 1: the simulated market hardly moves while the two start side by side.
        env = sim_env(paths, SIM_SPEED="1")
        bots.append(Process.start(argv, env, paths.root, name))
        runs[name] = paths
    for process, paths in zip(bots, runs.values(), strict=True):
        wait_for_log(paths.log_file, RUNNING, process)
        process.signal(signal.SIGTERM)
    codes = [process.wait(timeout=30) for process in bots]

    orchestrator, fleece = (_startup_lines(log_text(p.log_file), p.root) for p in runs.values())
    on_stderr = [
        _startup_lines(process.stderr(), p.root)
        for process, p in zip(bots, runs.values(), strict=True)
    ]
    assert codes == [0, 0]
    assert orchestrator == fleece
    assert on_stderr == [fleece, fleece]
    assert [line.split(" ", 2)[1] for line in fleece][:1] == ["fleece.runtime"]
    assert "bot running mode=sim symbols=3" in fleece[-1]
