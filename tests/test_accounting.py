"""The one accounting rule: cash, valuation and realised P&L by average cost, to the cent."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from fleece.accounting import (
    MARKET_ORDER_COLLAR,
    Book,
    Position,
    affordable_qty,
    book,
    cents_of,
    cents_of_many,
    cents_text,
    closing_side,
    equity_change,
    market_order_ticks,
    realised_pnl,
    reduces,
    signed_qty,
)
from fleece.exchange import schemas
from fleece.models import Fill, Side, to_ticks

T0 = datetime(2024, 11, 25, 15, 0, tzinfo=UTC)


def fill(i: int, side: Side, qty: int, price: float, symbol: str = "AAPL") -> Fill:
    return Fill(f"c{i}", f"b{i}", symbol, side, qty, price, T0 + timedelta(minutes=i))


# ---------------------------------------------------------------------------- cash and value


def test_a_fill_costs_its_shares_times_price_rounded_half_away_from_zero() -> None:
    assert cents_of(to_ticks(10.0050), 1) == 1001  # 10.005 -> 10.01
    assert cents_of(to_ticks(10.0049), 1) == 1000
    assert cents_of(to_ticks(10.0050), -1) == -1001  # a short's value mirrors its long twin


@given(st.lists(st.tuples(st.integers(0, 50_000_000), st.integers(-100_000, 100_000)), min_size=1))
def test_the_vectorised_rule_is_the_same_rule(pairs: list[tuple[int, int]]) -> None:
    ticks = np.array([t for t, _ in pairs], dtype=np.int64)
    qty = np.array([q for _, q in pairs], dtype=np.int64)

    assert cents_of_many(ticks, qty).tolist() == [cents_of(t, q) for t, q in pairs]


def test_a_position_is_worth_its_shares_at_the_mark_and_its_gain_is_over_its_basis() -> None:
    position = book(Position(), Side.BUY, 3, to_ticks(33.3333)).after  # pays 100.00

    assert position.cost_cents == 10_000
    assert position.avg_entry == Decimal("33.3333")
    assert position.market_value_cents(to_ticks(34.0)) == 10_200
    assert position.unrealised_cents(to_ticks(34.0)) == 200


# ---------------------------------------------------------------------------- average cost


def test_a_sale_realises_its_proceeds_minus_its_share_of_the_average_cost() -> None:
    pnl = realised_pnl(
        [
            fill(0, Side.BUY, 10, 100.00),
            fill(1, Side.BUY, 10, 110.00),  # 20 shares cost 2,100.00: 105.00 on average
            fill(2, Side.SELL, 15, 120.00),  # 1,800.00 for shares that cost 1,575.00
        ]
    )

    assert pnl.realised_cents == 22_500
    assert pnl.open_qty == {"AAPL": 5}
    assert pnl.open_cost == {"AAPL": 525.00}  # the average is unchanged by the sale


def test_a_round_trip_realises_exactly_its_price_difference() -> None:
    pnl = realised_pnl([fill(0, Side.BUY, 3, 10.01), fill(1, Side.SELL, 3, 10.04)])

    assert (pnl.realised_cents, pnl.realised) == (9, 0.09)
    assert pnl.open_qty == {}


def test_partial_fills_of_an_entry_average_and_partial_exits_keep_the_average() -> None:
    ledger = Book()
    for f in (
        fill(0, Side.BUY, 2, 10.00),
        fill(1, Side.BUY, 1, 10.03),  # 3 shares cost 30.03: 10.01 on average
        fill(2, Side.SELL, 1, 10.50),  # 10.50 - 10.01
        fill(3, Side.SELL, 1, 9.00),  # 9.00 - 10.01
    ):
        ledger.apply(f)

    assert ledger.realised_cents == 49 - 101
    held = ledger.position("AAPL")
    assert (held.qty, held.cost_cents, held.avg_entry) == (1, 1001, Decimal("10.01"))


def test_a_basis_that_does_not_divide_evenly_is_shared_to_the_cent_and_fully_used_at_flat() -> None:
    fills = [
        fill(0, Side.BUY, 3, 10.00),
        fill(1, Side.BUY, 1, 10.01),  # 40.01 for 4 shares
        fill(2, Side.SELL, 3, 11.00),  # takes 3/4 of 40.01 = 30.0075 -> 30.01 of the basis
        fill(3, Side.SELL, 1, 11.00),  # takes the remaining 10.00
    ]

    pnl = realised_pnl(fills)

    assert pnl.realised_cents == (3300 - 3001) + (1100 - 1000)
    assert pnl.realised_cents == 4400 - 4001  # flat: exactly the cash it returned
    assert pnl.open_qty == {}


def test_a_position_that_goes_flat_starts_its_next_average_afresh() -> None:
    ledger = Book()
    for f in (
        fill(0, Side.BUY, 10, 50.00),
        fill(1, Side.SELL, 10, 60.00),
        fill(2, Side.BUY, 4, 20.00),
    ):
        ledger.apply(f)

    held = ledger.position("AAPL")
    assert (held.qty, held.cost_cents, held.avg_entry) == (4, 8000, Decimal(20))
    assert held.opened_at == T0 + timedelta(minutes=2)
    assert ledger.realised_cents == 10_000


def test_a_short_realises_what_it_sold_for_minus_what_covering_costs() -> None:
    ledger = Book(shorts=True)
    ledger.apply(fill(0, Side.SELL, 10, 10.00))  # the margin account opens a short
    short = ledger.position("AAPL")
    assert (short.qty, short.cost_cents) == (-10, -10_000)
    assert short.unrealised_cents(to_ticks(9.0)) == 1000

    done = ledger.apply(fill(1, Side.BUY, 4, 9.00))

    assert done.realised_cents == 400
    assert ledger.position("AAPL").qty == -6


def test_a_fill_across_zero_closes_the_position_then_opens_the_rest_at_its_price() -> None:
    ledger = Book(shorts=True)
    ledger.apply(fill(0, Side.BUY, 5, 10.00))

    done = ledger.apply(fill(1, Side.SELL, 8, 12.00))

    assert (done.closed_qty, done.realised_cents) == (5, 1000)
    assert ledger.position("AAPL") == Position(-3, -3600, Decimal(12), T0 + timedelta(minutes=1))


def test_a_long_only_book_leaves_out_a_sale_of_shares_it_never_saw_bought() -> None:
    # The bot never shorts: such a sale closes a position opened outside the bot, cost unknown.
    ledger = Book()
    ledger.apply(fill(0, Side.BUY, 5, 10.00))

    done = ledger.apply(fill(1, Side.SELL, 8, 12.00))

    assert (done.closed_qty, done.unbooked_qty, done.realised_cents) == (5, 3, 1000)
    assert ledger.positions == {}


# ---------------------------------------------------------------------------- the identity

prices = st.integers(min_value=1, max_value=5_000_000)  # ticks: $0.0001 to $500
orders = st.lists(
    st.tuples(st.sampled_from([Side.BUY, Side.SELL]), st.integers(1, 400), prices),
    max_size=30,
)


@given(orders=orders, mark=prices)
def test_realised_plus_unrealised_is_the_change_in_equity_to_the_cent(
    orders: list[tuple[Side, int, int]], mark: int
) -> None:
    ledger = Book(shorts=True)  # the margin account: every fill is booked, across zero too
    cash = 0
    for i, (side, qty, ticks) in enumerate(orders):
        cash += ledger.apply(fill(i, side, qty, ticks / 10_000)).cash_cents

    position = ledger.position("AAPL")
    value_change = cash + position.market_value_cents(mark)

    assert ledger.realised_cents + position.unrealised_cents(mark) == value_change


def test_the_days_pnl_is_the_equity_change_to_the_cent_and_unknown_without_both_ends() -> None:
    assert equity_change(100_000.0, 99_699.996) == -300.0
    assert equity_change(0.1, 0.3) == 0.2  # not 0.19999999999999998
    assert equity_change(None, 99_700.0) is None
    assert equity_change(100_000.0, None) is None


# ---------------------------------------------------------------------------- which side closes

held_shares = st.integers(-1_000, 1_000).filter(bool)


def holding(held: int) -> Position:
    """A position of ``held`` shares (negative: short) opened at $100."""
    return book(Position(), Side.BUY if held > 0 else Side.SELL, abs(held), 1_000_000).after


@given(held=held_shares, side=st.sampled_from(Side), qty=st.integers(1, 1_000))
def test_an_order_reduces_a_position_exactly_when_its_fill_would_realise_pnl(
    held: int, side: Side, qty: int
) -> None:
    # The exchange's order checks (shares available, shorting, exit-only OCO) ask reduces();
    # the books realise P&L on the very same fills.
    done = book(holding(held), side, qty, 1_010_000)

    assert done.closed is reduces(held, side)


@given(held=held_shares)
def test_the_closing_side_takes_a_long_or_a_short_flat(held: int) -> None:
    done = book(holding(held), closing_side(held), abs(held), 990_000)

    assert done.after.qty == 0
    assert not reduces(0, Side.BUY) and not reduces(0, Side.SELL)


@given(
    st.lists(
        st.tuples(st.sampled_from(["AAPL", "SPY"]), st.sampled_from(Side), st.integers(1, 500)),
        max_size=30,
    )
)
def test_a_margin_books_position_is_the_sum_of_its_signed_fills(
    trades: list[tuple[str, Side, int]],
) -> None:
    fills = [fill(i, side, qty, 100.0, symbol) for i, (symbol, side, qty) in enumerate(trades)]
    net: dict[str, int] = {}
    for f in fills:
        net[f.symbol] = net.get(f.symbol, 0) + signed_qty(f.side, f.qty)

    held = realised_pnl(fills, shorts=True).open_qty

    assert held == {s: q for s, q in net.items() if q}
    assert signed_qty(Side.BUY, 3) == 3 and signed_qty(Side.SELL, 3) == -3


@given(st.integers(-(10**40), 10**40))
def test_money_is_written_as_exact_dollars_wherever_it_is_written(cents: int) -> None:
    # The exchange's API, the backtest's equity.csv and its report's trade table: one text.
    text = cents_text(cents)

    assert int(text.replace(".", "")) == cents
    assert text.split(".")[1].isdigit() and len(text.split(".")[1]) == 2
    assert schemas.money(cents) == text


# ------------------------------------------------------- buying power an order holds


def test_a_market_order_is_valued_four_percent_above_the_price_rounded_half_up_to_a_tick() -> None:
    assert Decimal("0.04") == MARKET_ORDER_COLLAR
    assert market_order_ticks(to_ticks(100.0)) == to_ticks(104.0)
    assert market_order_ticks(to_ticks(0.0001)) == 1  # 0.000104 -> 0.0001
    assert market_order_ticks(to_ticks(0.0002)) == 2  # 0.000208 -> 0.0002
    assert market_order_ticks(125) == 130  # 0.0130 exactly


def test_an_exchange_slippage_above_the_collar_values_the_order_at_the_slipped_price() -> None:
    assert market_order_ticks(to_ticks(100.0), Decimal("0.01")) == to_ticks(104.0)
    assert market_order_ticks(to_ticks(100.0), Decimal("0.30")) == to_ticks(130.0)


@given(
    st.integers(min_value=1, max_value=10**9),
    st.integers(min_value=1, max_value=10**8),
)
def test_the_affordable_quantity_is_the_most_shares_whose_value_fits_the_buying_power(
    power_cents: int, value_ticks: int
) -> None:
    qty = affordable_qty(power_cents, value_ticks)

    assert cents_of(value_ticks, qty) <= power_cents
    assert cents_of(value_ticks, qty + 1) > power_cents


def test_the_documents_state_the_collar_the_code_uses() -> None:
    repo = Path(__file__).resolve().parents[1]
    collar = f"{MARKET_ORDER_COLLAR:.0%}"  # "4%"

    readme = " ".join((repo / "README.md").read_text().split())
    exchange = " ".join((repo / "docs" / "exchange.md").read_text().split())

    assert f"a market buy holds its shares valued {collar} above the last close" in readme
    assert f"a market order at the last price plus {collar}" in exchange
