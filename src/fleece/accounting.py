"""The one accounting rule: what a fill costs, what a position is worth, what a sale realised.

Every figure of money in fleece comes from here: the built-in exchange's ledger, the backtest's
equity curve, its loss scan and starting cash, the run summary, the backtest statistics and
their round trips, the dashboard, ``fleece status``, the notifications and the operator's
replies. Pure and I/O-free; money in integer cents, prices in integer ticks (1/10,000 dollar,
:data:`fleece.models.TICKS_PER_DOLLAR`).

**Cash.** A fill of ``qty`` shares at ``ticks`` moves ``qty * ticks / 100`` cents, rounded half
away from zero (:func:`cents_of`): a buy takes it from cash, a sell adds it.

**Valuation.** A position is worth ``qty * mark`` by the same rounding (a short's value is the
negative of its long twin's), and equity is cash plus the signed value of every position, each
rounded, then summed. Which price marks a symbol (the last close, or a newer fill) is the
caller's: this module values at the price it is given.

**Realised P&L: average cost.** A position carries its cost basis: the cash its opening fills
paid (for a short, minus the cash they brought in). A fill that reduces the position takes the
closed shares' share of that basis with it (``basis * closed / held``, rounded half away from
zero) and realises its cash minus that share; the average is unchanged by a reduction, and a
position that goes flat has no basis left, so the next one starts afresh. A fill that would take
a position across zero closes it, then opens the remainder at the fill's price.

Why average cost rather than first in, first out: the broker reports positions that way. Alpaca's
position carries ``avg_entry_price``, ``cost_basis = qty * avg_entry_price`` and ``unrealized_pl``
measured from it, and keeps the average unchanged when a position is reduced. With FIFO, a
partly closed position would show one realised figure in our reports and an unrealised one at
the broker that do not add up. With average cost, and the basis kept as the cash actually paid,
realised plus unrealised P&L is exactly the change in equity, to the cent, for any fills.

The average entry *price* (:attr:`Position.avg_entry`) is the fills' price weighted by shares,
exact as a Decimal, as Alpaca reports it; the basis is in cents, so for prices finer than a cent
it can differ from ``qty * avg_entry`` by the rounding of each opening fill's cash.

**Buying power an order holds.** An order that opens or adds exposure holds ``qty`` times its
price in buying power while it is open, by :func:`cents_of`: a limit (or stop) order its limit
(stop) price; a market order the last price marked up by :data:`MARKET_ORDER_COLLAR` (Alpaca
values a market buy 2.5% to 4% above the price, a market short 3% above the ask: we take the
worst, 4%), or by the exchange's slippage when that is larger (:func:`market_order_ticks`). The
built-in exchange reserves by it and refuses beyond buying power (403); the risk manager sizes
an entry by it (:func:`affordable_qty`), so an entry it approves is one the exchange accepts.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING

from fleece.models import Fill, Side, to_ticks

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

__all__ = [
    "MARKET_ORDER_COLLAR",
    "OPENING_CASH",
    "Book",
    "Booking",
    "PnL",
    "Position",
    "affordable_qty",
    "book",
    "cash_flow_cents",
    "cents_of",
    "cents_of_many",
    "cents_text",
    "closing_side",
    "equity_change",
    "market_order_ticks",
    "opening_cash_problem",
    "realised_pnl",
    "reduces",
    "share_of",
    "signed_qty",
]

OPENING_CASH = 100_000.0
"""A simulated paper account's cash when it opens, in dollars, unless ``--cash`` says otherwise.

Alpaca opens a paper account with $100,000, and so do the built-in exchange (``fleece exchange``,
``fleece run`` in sim mode, ``fleece demo``), ``fleece backtest`` and ``fleece sweep``: the same
account, so the same figure.
"""


def opening_cash_problem(cash: float) -> str | None:
    """Why ``cash`` (dollars) cannot open a simulated account, or None if it can.

    A finite amount above 0: infinity or NaN would pass a bare ``> 0`` test and then break the
    conversion to cents. The caller says where the figure came from (an option, a setting).
    """
    if math.isfinite(cash) and cash > 0:
        return None
    return f"must be a finite amount > 0, got {cash}"


def cents_of(ticks: int, qty: int) -> int:
    """``qty`` shares at ``ticks`` in cents, rounded half away from zero (negative ``qty``:
    the negative of its positive twin)."""
    if qty < 0:
        return -cents_of(ticks, -qty)
    return (ticks * qty + 50) // 100


def cents_of_many(ticks: NDArray[np.int64], qty: NDArray[np.int64]) -> NDArray[np.int64]:
    """:func:`cents_of`, element by element, for numpy arrays of ticks and signed quantities."""
    magnitude = (ticks * abs(qty) + 50) // 100
    result: NDArray[np.int64] = magnitude * ((qty > 0) * 1 - (qty < 0) * 1)
    return result


def cents_text(cents: int) -> str:
    """Whole cents as exact dollars with two decimals and no separators (``-1234`` ->
    ``"-12.34"``): money as Alpaca's API serves it and the backtest's files and tables write it
    (for people, with separators: :func:`fleece.notify.messages.money`)."""
    sign = "-" if cents < 0 else ""
    whole, part = divmod(abs(cents), 100)
    return f"{sign}{whole}.{part:02d}"


def cash_flow_cents(side: Side, ticks: int, qty: int) -> int:
    """The cash a fill of ``qty`` shares at ``ticks`` moves: negative for a buy."""
    cents = cents_of(ticks, qty)
    return -cents if side is Side.BUY else cents


MARKET_ORDER_COLLAR = Decimal("0.04")
"""How far above the last price a market order is valued for buying power (Alpaca: up to 4%)."""

_NO_SLIP = Decimal(0)


def market_order_ticks(ticks: int, slip: Decimal = _NO_SLIP) -> int:
    """The price per share, in ticks, a market order opening exposure at ``ticks`` is valued at.

    ``ticks * (1 + max(collar, slip))``, rounded half up: ``slip`` is the built-in exchange's
    slippage as a fraction (a buy fills that much above the price); Alpaca has none beyond its
    collar, and neither does the bot's estimate. The one rule of the module docstring.
    """
    factor = 1 + max(MARKET_ORDER_COLLAR, slip)
    return int((ticks * factor).to_integral_value(ROUND_HALF_UP))


def affordable_qty(buying_power_cents: int, value_ticks: int) -> int:
    """The most shares whose value at ``value_ticks`` each (:func:`cents_of`) fits the buying
    power: ``cents_of(value_ticks, n) <= buying_power_cents``; 0 for a price of 0 or less."""
    if value_ticks <= 0 or buying_power_cents <= 0:
        return 0
    # (v * n + 50) // 100 <= bp  <=>  v * n <= 100 * bp + 49
    return (100 * buying_power_cents + 49) // value_ticks


def signed_qty(side: Side, qty: int) -> int:
    """``qty`` shares as a change of position: positive for a buy, negative for a sell."""
    return qty if side is Side.BUY else -qty


def closing_side(held: int) -> Side:
    """The side that reduces a position of ``held`` shares: a sell for a long (``held`` > 0),
    a buy for a short."""
    return Side.SELL if held > 0 else Side.BUY


def reduces(held: int, side: Side) -> bool:
    """True when a ``side`` order or fill reduces a position of ``held`` shares (negative for
    a short); nothing reduces a flat position, and anything else opens or adds to one."""
    return held != 0 and side is closing_side(held)


def share_of(amount: int, part: int, whole: int) -> int:
    """``amount * part / whole`` rounded half away from zero (``whole`` > 0)."""
    sign = -1 if amount < 0 else 1
    return sign * ((abs(amount) * part + whole // 2) // whole)


def equity_change(start: float | None, now: float | None) -> float | None:
    """The P&L between two account equities, to the cent (None when either is unknown): the
    day's P&L wherever it is shown (status, dashboard, metrics, Telegram, the daily summary)."""
    if start is None or now is None:
        return None
    return round(now - start, 2)


@dataclass(frozen=True, slots=True)
class Position:
    """One symbol's holding at average cost.

    Attributes:
        qty: shares, negative for a short (0: flat).
        cost_cents: the basis: cash paid for the shares held (negative for a short: the cash
            its sales brought in).
        avg_entry: the average entry price, weighted by shares (0 when flat).
        opened_at: when the position last went from flat to held (None when flat).
    """

    qty: int = 0
    cost_cents: int = 0
    avg_entry: Decimal = Decimal(0)
    opened_at: datetime | None = None

    def market_value_cents(self, mark_ticks: int) -> int:
        """The position at ``mark_ticks`` per share, in cents (negative for a short)."""
        return cents_of(mark_ticks, self.qty)

    def unrealised_cents(self, mark_ticks: int) -> int:
        """Market value at ``mark_ticks`` minus the basis."""
        return self.market_value_cents(mark_ticks) - self.cost_cents


FLAT = Position()


@dataclass(frozen=True, slots=True)
class Booking:
    """What one fill did to a position.

    Attributes:
        after: the position after the fill.
        cash_cents: the cash the whole fill moved (negative for a buy).
        closed_qty: shares of the earlier position the fill closed (0: it only opened or added).
        closed_cost_cents: those shares' share of the basis.
        realised_cents: the cash of the closed shares minus their basis.
        unbooked_qty: shares of a sale beyond what a long-only book held (its cost is
            unknown: a position the book never saw bought), left out.
    """

    after: Position
    cash_cents: int
    closed_qty: int = 0
    closed_cost_cents: int = 0
    realised_cents: int = 0
    unbooked_qty: int = 0

    @property
    def closed(self) -> bool:
        """True when the fill reduced (or closed) a position: it realised P&L."""
        return self.closed_qty > 0


def _opened(position: Position, delta: int, ticks: int, flow: int, at: datetime | None) -> Position:
    """``position`` (flat or on ``delta``'s side) with ``delta`` shares added at ``ticks``."""
    held = abs(position.qty)
    price = Decimal(ticks) / 10_000
    avg = (position.avg_entry * held + price * abs(delta)) / (held + abs(delta))
    return Position(
        qty=position.qty + delta,
        cost_cents=position.cost_cents - flow,
        avg_entry=avg,
        opened_at=position.opened_at if position.qty else at,
    )


def book(
    position: Position,
    side: Side,
    qty: int,
    ticks: int,
    at: datetime | None = None,
    *,
    shorts: bool = True,
) -> Booking:
    """Book a fill of ``qty`` shares at ``ticks`` on ``position`` (see the module docstring).

    Args:
        position: the position before the fill.
        side: buy or sell.
        qty: shares filled (> 0).
        ticks: the fill price in ticks.
        at: when it filled (kept as the position's opening instant).
        shorts: False for a long-only book: a sale beyond the shares held closes what is held
            and leaves the rest unbooked instead of opening a short.
    """
    flow = cash_flow_cents(side, ticks, qty)
    delta = signed_qty(side, qty)
    if not reduces(position.qty, side):
        if delta < 0 and not shorts:
            return Booking(position, flow, unbooked_qty=qty)
        return Booking(_opened(position, delta, ticks, flow, at), flow)
    held = abs(position.qty)
    closed = min(qty, held)
    closed_flow = cash_flow_cents(side, ticks, closed)
    closed_cost = share_of(position.cost_cents, closed, held)
    sign = 1 if delta > 0 else -1
    after = FLAT
    if closed < held:
        after = replace(
            position, qty=position.qty + sign * closed, cost_cents=position.cost_cents - closed_cost
        )
    rest = qty - closed
    if rest and shorts:  # across zero: the remainder opens a position on the other side
        after = _opened(FLAT, sign * rest, ticks, flow - closed_flow, at)
    unbooked = rest if rest and not shorts else 0
    return Booking(after, flow, closed, closed_cost, closed_flow - closed_cost, unbooked)


@dataclass(slots=True)
class Book:
    """Positions by symbol at average cost, and the P&L realised so far, fill by fill.

    Args:
        shorts: whether a sale beyond the shares held opens a short (the exchange's margin
            account) or is left unbooked (the bot's own fills: it never shorts, so such a sale
            is of shares it did not buy, e.g. ``shutdown.close_positions: all``).
    """

    shorts: bool = False
    positions: dict[str, Position] = field(default_factory=dict)
    realised_cents: int = 0

    def position(self, symbol: str) -> Position:
        """``symbol``'s position (flat when none)."""
        return self.positions.get(symbol, FLAT)

    def apply(self, fill: Fill) -> Booking:
        """Book ``fill`` (fills must come in time order)."""
        done = book(
            self.position(fill.symbol),
            fill.side,
            fill.qty,
            to_ticks(fill.price),
            fill.timestamp,
            shorts=self.shorts,
        )
        if done.after.qty:
            self.positions[fill.symbol] = done.after
        else:
            self.positions.pop(fill.symbol, None)
        self.realised_cents += done.realised_cents
        return done


@dataclass(frozen=True, slots=True)
class PnL:
    """Realised P&L of a history of fills, and what is still held at what cost.

    Attributes:
        realised_cents: realised P&L, cents.
        positions: the open positions by symbol.
    """

    realised_cents: int
    positions: dict[str, Position]

    @property
    def realised(self) -> float:
        """Realised P&L in dollars."""
        return self.realised_cents / 100

    @property
    def open_qty(self) -> dict[str, int]:
        """Shares held by symbol."""
        return {s: p.qty for s, p in self.positions.items()}

    @property
    def open_cost(self) -> dict[str, float]:
        """The basis of each open position, dollars."""
        return {s: p.cost_cents / 100 for s, p in self.positions.items()}


def realised_pnl(fills: Iterable[Fill], *, shorts: bool = False) -> PnL:
    """Run ``fills`` (any order: they are sorted by time) through one :class:`Book`."""
    ledger = Book(shorts=shorts)
    for fill in sorted(fills, key=lambda f: f.timestamp):
        ledger.apply(fill)
    return PnL(ledger.realised_cents, dict(ledger.positions))
