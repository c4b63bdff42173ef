"""Specification of protective exits in a backtest: the bot's kernel over the exchange's engine.

With ``orders.protective: broker`` each entry, once filled, gets one good-till-cancelled order at
the (simulated) exchange, which fills by the exchange's own stop and limit rules; the strategy's
own exit cancels it first, so no order is ever refused as a wash trade. With ``bot`` the bot
watches each minute and sends market exits. Sparse synthetic minutes, quick SMA windows.
"""

from __future__ import annotations

import itertools
import json
from collections import Counter
from functools import cache
from pathlib import Path

from backtest_helpers import config, sparse, synthetic

from fleece.backtest.outputs import write_outputs
from fleece.backtest.runner import BacktestResult, run_backtest
from fleece.models import Side
from fleece.protection import (
    KIND_OCO,
    ExitReason,
    Protection,
    fill_reason,
    is_protective,
    stop_level,
    take_profit_level,
)
from fleece.strategy.registry import resolve

QUICK = resolve("sma_crossover", {"fast": 5, "medium": 20, "slow": 40})
SYMBOLS = ("SPY", "AAPL", "TSLA", "NVDA")


@cache
def run(protection: Protection) -> BacktestResult:
    market = sparse(synthetic(SYMBOLS, days=3, seed=4))
    return run_backtest(market, config(strategy=QUICK, protection=protection))


def reasons(result: BacktestResult) -> Counter[ExitReason | None]:
    intents = {i.client_order_id: i for i in result.intents}
    return Counter(
        fill_reason(
            intents[f.client_order_id].strategy,
            intents[f.client_order_id].broker_order_id,
            f.broker_order_id,
        )
        for f in result.fills
        if f.side is Side.SELL
    )


BROKER = Protection(stop_loss_pct=0.002, take_profit_pct=0.003)
WATCHED = Protection(stop_loss_pct=0.002, take_profit_pct=0.003, mode="bot")


def test_every_filled_entry_gets_one_oco_exit_at_the_exchange() -> None:
    result = run(BROKER)
    entries = [i for i in result.intents if i.side is Side.BUY and i.filled_qty]
    protective = [i for i in result.intents if is_protective(i.strategy)]

    assert len(entries) >= 10
    for entry in entries:
        mine = [p for p in protective if p.client_order_id.endswith(entry.client_order_id)]
        assert [p.strategy for p in mine] == [KIND_OCO], entry.client_order_id
        assert mine[0].qty == entry.filled_qty
        assert mine[0].created_at > entry.created_at


def test_stop_outs_and_take_profits_fill_by_the_exchanges_rules() -> None:
    result = run(BROKER)
    intents = {i.client_order_id: i for i in result.intents}
    entry_price = {i.client_order_id: i.filled_avg_price for i in result.intents}

    counted = reasons(result)
    assert counted[ExitReason.STOP_LOSS] >= 3
    assert counted[ExitReason.TAKE_PROFIT] >= 3
    for fill in result.fills:
        intent = intents[fill.client_order_id]
        reason = fill_reason(intent.strategy, intent.broker_order_id, fill.broker_order_id)
        if reason is None:
            continue
        entry = entry_price[intent.client_order_id.split("-", 3)[3]]
        assert entry is not None
        if reason is ExitReason.STOP_LOSS:  # at the stop, or lower when the bar gapped through
            assert fill.price <= stop_level(BROKER, entry)  # type: ignore[operator]
        else:  # a limit: at the take-profit or better
            assert fill.price >= take_profit_level(BROKER, entry)  # type: ignore[operator]


def test_the_strategys_own_exit_cancels_the_protection_first_so_nothing_is_refused() -> None:
    result = run(BROKER)
    statuses = Counter(i.status.value for i in result.intents)
    exits = [i for i in result.intents if i.strategy == "sma_crossover" and i.side is Side.SELL]

    assert statuses["rejected"] == statuses["failed"] == 0
    assert [i for i in result.intents if i.last_error] == []
    assert len(exits) >= 5
    assert all(i.status.value == "filled" for i in exits)


def test_at_most_one_protective_order_works_per_position_at_any_time() -> None:
    result = run(BROKER)
    final = ("filled", "canceled", "expired")
    protective = sorted(
        (i for i in result.intents if is_protective(i.strategy)), key=lambda i: i.created_at
    )

    for symbol in SYMBOLS:
        mine = [i for i in protective if i.symbol == symbol]
        for earlier, later in itertools.pairwise(mine):
            assert earlier.status.value in final
            assert earlier.updated_at <= later.created_at


def test_bot_watched_exits_are_market_orders_named_for_their_reason() -> None:
    result = run(WATCHED)
    intents = {i.client_order_id: i for i in result.intents}
    counted = reasons(result)
    named = ("stop_loss", "take_profit")
    watched = [f for f in result.fills if intents[f.client_order_id].strategy in named]

    assert counted[ExitReason.STOP_LOSS] >= 3
    assert counted[ExitReason.TAKE_PROFIT] >= 1
    assert not any(is_protective(i.strategy) for i in result.intents)  # nothing rests at the broker
    for fill in watched:  # decided at a minute's close, filled at a later bar's open
        intent = intents[fill.client_order_id]
        assert fill.timestamp > intent.signal_timestamp


def test_without_levels_the_run_is_the_seeds() -> None:
    plain = run(Protection())
    watched_off = run(Protection(mode="bot"))

    assert [f for f in plain.fills] == [f for f in watched_off.fills]
    assert {i.strategy for i in plain.intents} == {"sma_crossover"}


def test_the_report_marks_stop_outs_and_take_profits_and_the_stats_count_them(
    tmp_path: Path,
) -> None:
    result = run(BROKER)
    counted = reasons(result)

    write_outputs(result, tmp_path)
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    stats = json.loads((tmp_path / "stats.json").read_text(encoding="utf-8"))

    assert '"name":"stop-outs"' in page and '"name":"take-profits"' in page
    assert page.count("<td>stop-loss</td>") == counted[ExitReason.STOP_LOSS]
    assert page.count("<td>take-profit</td>") == counted[ExitReason.TAKE_PROFIT]
    assert 'id="protection"' in page and "held at the exchange" in page
    assert stats["run"]["protective_exits"] == {
        "stop_loss": counted[ExitReason.STOP_LOSS],
        "take_profit": counted[ExitReason.TAKE_PROFIT],
    }
    assert stats["run"]["protection"]["stop_loss_pct"] == BROKER.stop_loss_pct
