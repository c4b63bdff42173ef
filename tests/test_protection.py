"""Specification of the protective-exit rules (fleece.protection): pure logic, no broker.

Levels from the entry price, the order a position gets at the broker, the minute check of the
bot-watched mode, which fills were stop-outs, and the client_order_ids of protective intents.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from fleece.accounting import realised_pnl
from fleece.models import Bar, BrokerOrder, ExitOrder, Fill, Side
from fleece.protection import (
    KIND_OCO,
    KIND_STOP,
    KIND_TAKE_PROFIT,
    KIND_TRAIL,
    ExitReason,
    Protection,
    Protector,
    as_one,
    exit_order,
    fill_reason,
    filled_by,
    is_protective,
    protective_cid,
    stop_level,
    take_profit_level,
)

T0 = datetime(2024, 11, 26, 15, 0, tzinfo=UTC)


def fill(side: Side, qty: int, price: float, cid: str = "entry-1", minute: int = 0) -> Fill:
    return Fill(cid, f"id-{cid}", "SPY", side, qty, price, T0 + timedelta(minutes=minute))


def bar(low: float, high: float, minute: int = 1) -> Bar:
    return Bar("SPY", T0 + timedelta(minutes=minute), low, high, low, high, 100)


def order(status: str, filled: int = 0, price: float | None = None, **kw: object) -> BrokerOrder:
    base = {
        "id": "tp",
        "client_order_id": "protect-oco-0-x",
        "symbol": "SPY",
        "side": Side.SELL,
        "qty": 10,
        "filled_qty": filled,
        "filled_avg_price": price,
        "status": status,
        "created_at": T0,
        "updated_at": T0,
        "filled_at": T0 if status == "filled" else None,
    }
    return BrokerOrder(**(base | kw))  # type: ignore[arg-type]


# ---------------------------------------------------------------- levels and orders


def test_levels_are_fractions_of_the_entry_price_rounded_half_up_to_the_cent() -> None:
    protection = Protection(stop_loss_pct=0.02, take_profit_pct=0.03)

    assert stop_level(protection, 100.0) == 98.0
    assert take_profit_level(protection, 100.0) == 103.0
    assert stop_level(protection, 229.28) == 224.69  # 224.6944
    assert take_profit_level(protection, 131.8) == 135.75  # 135.754


@pytest.mark.parametrize(
    ("protection", "kind", "shape"),
    [
        (
            Protection(stop_loss_pct=0.02, take_profit_pct=0.03),
            KIND_OCO,
            ExitOrder("limit", "oco", stop_price=98.0, limit_price=103.0),
        ),
        (Protection(stop_loss_pct=0.02), KIND_STOP, ExitOrder("stop", stop_price=98.0)),
        (Protection(take_profit_pct=0.03), KIND_TAKE_PROFIT, ExitOrder("limit", limit_price=103.0)),
        (
            Protection(trailing_stop_pct=0.015),
            KIND_TRAIL,
            ExitOrder("trailing_stop", trail_percent=1.5),
        ),
    ],
    ids=["both: one OCO", "stop only", "take-profit only", "trailing"],
)
def test_a_position_gets_one_good_till_cancelled_order_for_its_exits(
    protection: Protection, kind: str, shape: ExitOrder
) -> None:
    assert exit_order(protection, 100.0) == (kind, shape)


def test_protection_is_off_unless_a_level_is_set() -> None:
    assert not Protection().on
    assert not Protection(mode="bot").watched
    assert Protection(stop_loss_pct=0.01).held_at_broker
    assert Protection(stop_loss_pct=0.01, mode="bot").watched


# ---------------------------------------------------------------- bot-watched minutes


def watching(**levels: float) -> Protector:
    protector = Protector(Protection(mode="bot", **levels))
    protector.on_fill(fill(Side.BUY, 10, 100.0))
    return protector


def test_a_minute_whose_low_reaches_the_stop_calls_for_a_stop_loss_exit() -> None:
    protector = watching(stop_loss_pct=0.02, take_profit_pct=0.03)

    assert protector.watch(bar(98.5, 100.5)) is None
    assert protector.watch(bar(97.99, 99.0, 2)) is ExitReason.STOP_LOSS


def test_a_minute_that_reaches_both_levels_is_a_stop_loss() -> None:
    protector = watching(stop_loss_pct=0.02, take_profit_pct=0.03)

    assert protector.watch(bar(97.0, 104.0)) is ExitReason.STOP_LOSS


def test_a_minute_whose_high_reaches_the_take_profit_calls_for_a_take_profit_exit() -> None:
    protector = watching(stop_loss_pct=0.02, take_profit_pct=0.03)

    assert protector.watch(bar(99.0, 103.0)) is ExitReason.TAKE_PROFIT


def test_the_trailing_stop_rises_with_each_minutes_high_after_that_minute() -> None:
    protector = watching(trailing_stop_pct=0.01)

    first = protector.watch(bar(99.2, 102.0))  # judged on 99.00; raises the mark to 102
    second = protector.watch(bar(100.97, 101.5, 2))  # 102 x 0.99 = 100.98

    assert first is None
    assert second is ExitReason.TRAILING_STOP


def test_the_entry_follows_the_bots_fills_and_is_gone_with_the_position() -> None:
    protector = Protector(Protection(stop_loss_pct=0.02))
    protector.on_fill(fill(Side.BUY, 4, 100.0))
    protector.on_fill(fill(Side.BUY, 6, 101.0))
    half = protector.order_for("SPY")
    protector.on_fill(fill(Side.SELL, 10, 99.0, "exit-1"))

    assert half is not None
    entry, _, shape = half
    assert (entry.client_order_id, entry.qty, entry.price) == ("entry-1", 10, 100.6)
    assert shape.stop_price == 98.59  # 100.6 x 0.98 = 98.588
    assert protector.order_for("SPY") is None


def test_the_levels_come_from_the_average_entry_price_as_the_accounting_keeps_it() -> None:
    protector = Protector(Protection(take_profit_pct=0.03))
    fills = [
        fill(Side.BUY, 3, 25.0693),
        fill(Side.BUY, 2, 25.0539, minute=1),
        fill(Side.SELL, 1, 25.0, "exit-1", minute=2),
    ]
    for each in fills:
        protector.on_fill(each)
    held = realised_pnl(fills).positions["SPY"]

    planned = protector.order_for("SPY")

    assert planned is not None
    entry, _, shape = planned
    # The entry is Alpaca's avg_entry_price (25.06314, unchanged by the sale), so the
    # take-profit is 25.06314 x 1.03 = 25.8150342 -> 25.82. The protector used to keep its own
    # average, rounded to the tick (25.0631) and floored at each sale, and asked 25.81.
    assert entry.qty == held.qty == 4
    assert entry.price == float(held.avg_entry) == 25.06314
    assert shape.limit_price == take_profit_level(protector.protection, 25.06314) == 25.82


# ---------------------------------------------------------------- intents and fills


def test_protective_client_order_ids_are_deterministic_bounded_and_told_apart() -> None:
    entry = "sma_crossover-SPY-buy-20241126T150000Z"
    long_entry = "x" * 128

    assert protective_cid(KIND_OCO, entry, 0) == f"protect-oco-0-{entry}"
    assert protective_cid(KIND_OCO, entry, 1) != protective_cid(KIND_OCO, entry, 0)
    assert len(protective_cid(KIND_TRAIL, long_entry, 3)) <= 128
    assert protective_cid(KIND_TRAIL, long_entry, 3) == protective_cid(KIND_TRAIL, long_entry, 3)
    assert is_protective(KIND_STOP) and not is_protective("stop_loss")


def test_an_oco_whose_stop_leg_filled_reads_as_one_filled_order_booked_to_the_leg() -> None:
    leg = order("filled", 10, 98.0, id="sl", client_order_id="generated")
    oco = order("canceled", legs=(leg,))

    whole = as_one(oco)

    assert (whole.status, whole.filled_qty, whole.filled_avg_price) == ("filled", 10, 98.0)
    assert filled_by(oco) == "sl"
    assert fill_reason(KIND_OCO, "tp", filled_by(oco)) is ExitReason.STOP_LOSS
    assert fill_reason(KIND_OCO, "tp", "tp") is ExitReason.TAKE_PROFIT


def test_an_oco_still_working_reads_as_working() -> None:
    oco = order("new", legs=(order("new", id="sl"),))

    assert as_one(oco).status == "new"


@pytest.mark.parametrize(
    ("strategy", "reason"),
    [
        (KIND_STOP, ExitReason.STOP_LOSS),
        (KIND_TAKE_PROFIT, ExitReason.TAKE_PROFIT),
        (KIND_TRAIL, ExitReason.TRAILING_STOP),
        ("stop_loss", ExitReason.STOP_LOSS),  # the bot-watched exit
        ("sma_crossover", None),
        ("shutdown", None),
    ],
)
def test_fills_tell_their_exit_reason_by_their_intent(
    strategy: str, reason: ExitReason | None
) -> None:
    assert fill_reason(strategy, "a", "a") is reason


def test_a_restart_restores_the_trailing_marks_from_the_minutes_watched_since_the_entry() -> None:
    protector = Protector(Protection(trailing_stop_pct=0.01, mode="bot"))
    protector.seed([fill(Side.BUY, 10, 100.0, minute=5)])

    protector.remark("SPY", [bar(99.0, 110.0, minute=4), bar(100.5, 102.0, minute=6)])

    assert protector.watch(bar(101.5, 101.6, minute=7)) is None  # 102 x 0.99 = 100.98
    assert protector.watch(bar(100.9, 101.2, minute=8)) is ExitReason.TRAILING_STOP
