"""Specification of the ownership rule: what the bot may close and cancel, and nothing more."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from fleece.models import BrokerOrder, Fill, Side
from fleece.ownership import Close, CloseMode, Portfolio, closing_plan, own_net, owned

T0 = datetime(2024, 11, 26, 15, 0, tzinfo=UTC)


def fill(symbol: str, side: Side, qty: int, minute: int) -> Fill:
    return Fill(
        f"cid-{minute}", f"id-{minute}", symbol, side, qty, 100.0, T0 + timedelta(minutes=minute)
    )


def order(cid: str, symbol: str = "SPY") -> BrokerOrder:
    return BrokerOrder(cid, cid, symbol, Side.BUY, 1, 0, None, "new", T0, T0, None)


def test_own_shares_are_the_bots_buys_minus_its_sells_in_time_order_never_below_zero() -> None:
    fills = [
        fill("SPY", Side.SELL, 4, 5),  # recorded out of order: the buy came first
        fill("SPY", Side.BUY, 10, 1),
        fill("AAPL", Side.BUY, 3, 2),
        fill("AAPL", Side.SELL, 3, 3),
        fill("MSFT", Side.SELL, 2, 4),  # never a short of the bot's own
    ]

    assert own_net(fills) == {"SPY": 6}


@given(
    st.lists(
        st.tuples(st.sampled_from(["SPY", "AAPL"]), st.sampled_from(Side), st.integers(1, 20)),
        max_size=12,
    )
)
def test_the_running_holding_and_the_restart_from_recorded_fills_own_the_same_shares(
    steps: list[tuple[str, Side, int]],
) -> None:
    fills = [fill(symbol, side, qty, minute) for minute, (symbol, side, qty) in enumerate(steps)]
    running = Portfolio()
    for each in fills:
        running.apply_fill(each)

    assert running.qty == own_net(fills)


def test_the_bot_owns_no_more_than_the_account_holds_and_nothing_it_did_not_buy() -> None:
    own = {"SPY": 10, "AAPL": 5}
    broker = {"SPY": 25, "AAPL": 2, "TSLA": 40, "IBM": -3}

    assert owned(own, broker) == {"SPY": 10, "AAPL": 2}


def test_shutdown_in_own_mode_cancels_only_the_bots_orders_and_sells_only_its_shares() -> None:
    orders = [order("sma_crossover-SPY-buy-1"), order("someone-else", "TSLA")]

    plan = closing_plan(
        CloseMode.OWN,
        own={"SPY": 10},
        positions={"SPY": 25, "TSLA": 40},
        open_orders=orders,
        is_ours=lambda cid: cid.startswith("sma_crossover-"),
    )

    assert plan.cancel == ("sma_crossover-SPY-buy-1",)
    assert plan.close == (Close("SPY", Side.SELL, 10),)


def test_all_mode_cancels_every_order_and_closes_every_position_long_or_short() -> None:
    plan = closing_plan(
        CloseMode.ALL,
        own={},
        positions={"SPY": 25, "IBM": -3},
        open_orders=[order("x"), order("y")],
        is_ours=lambda cid: False,
    )

    assert plan.cancel == ("x", "y")
    assert plan.close == (Close("IBM", Side.BUY, 3), Close("SPY", Side.SELL, 25))


def test_none_mode_closes_nothing_and_cancels_only_the_bots_orders_if_asked() -> None:
    orders = [order("mine"), order("theirs")]
    account: dict[str, Any] = {
        "own": {"SPY": 10},
        "positions": {"SPY": 10},
        "open_orders": orders,
        "is_ours": lambda cid: cid == "mine",
    }

    plan = closing_plan(CloseMode.NONE, **account)
    kept = closing_plan(CloseMode.OWN, **account, cancel_orders=False)

    assert (plan.cancel, plan.close) == (("mine",), ())
    assert kept.cancel == ()


def test_what_the_bot_owns_shrinks_when_the_position_shrank_outside_it_unless_in_flight() -> None:
    book = Portfolio({"SPY": 10, "AAPL": 5})

    changed = book.cap({"SPY": 6, "AAPL": 0}, in_flight={"AAPL"})

    assert changed == {"SPY": 6}
    assert book.qty == {"SPY": 6, "AAPL": 5}  # AAPL's own sell may not be recorded yet
