"""The margin account: cash, long and short positions and their valuation, to the cent.

Cash, cost basis, average entry and market values follow the one accounting rule
(:mod:`fleece.accounting`: integer cents, average cost), so equity equals cash plus the
positions' signed market values to the cent, at every instant, and a position's unrealised P&L
plus what the account realised is the change in equity. The mark of a symbol is the close of
its latest closed bar (regular or extended hours), or the latest fill price when that fill is
more recent than the bar.

Like an Alpaca paper account it is a margin account: with equity of at least $2,000 the
multiplier is 2 (Reg T) and shorting is enabled, below that the multiplier is 1 and shorting is
off. Buying power is ``multiplier * equity - (long value + |short value|)`` less what open orders
hold, never negative: with multiplier 1 and no shorts that is the cash not held by open buys.
Selling shares not held opens a short (the proceeds add to cash, the position's quantity and
value are negative); an order may not take a position across zero (long to short, or back):
Alpaca answers "insufficient qty available" to that, and so does the engine.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from fleece.accounting import FLAT, Position, book, cents_of, share_of, signed_qty
from fleece.exchange.market import BarStore
from fleece.models import Side, to_ticks

#: Equity from which the account is a margin account (multiplier 2, shorting enabled).
MARGIN_MIN_EQUITY_CENTS = 200_000
MARGIN_MULTIPLIER = 2


def multiplier_for(equity_cents: int) -> int:
    """The account's multiplier at ``equity_cents``: 2 from $2,000 of equity, else 1."""
    return MARGIN_MULTIPLIER if equity_cents >= MARGIN_MIN_EQUITY_CENTS else 1


@dataclass(slots=True)
class _Holding:
    position: Position  # quantity (negative for a short), basis and average entry
    # Intraday P&L is measured from this: the last close's value plus today's additions (signed).
    day_basis_cents: int

    @property
    def qty(self) -> int:
        return self.position.qty


@dataclass(frozen=True, slots=True)
class PositionView:
    """A position valued at one instant."""

    symbol: str
    qty: int  # negative for a short position
    qty_available: int
    avg_entry_price: Decimal
    cost_basis_cents: int
    market_value_cents: int
    current_price: float
    lastday_price: float
    day_basis_cents: int

    @property
    def side(self) -> str:
        """``long`` or ``short``."""
        return "short" if self.qty < 0 else "long"

    @property
    def unrealized_pl_cents(self) -> int:
        """Market value minus cost basis."""
        return self.market_value_cents - self.cost_basis_cents

    @property
    def unrealized_intraday_pl_cents(self) -> int:
        """Market value minus the value at the last close (plus today's purchases)."""
        return self.market_value_cents - self.day_basis_cents


@dataclass(frozen=True, slots=True)
class AccountView:
    """The account's figures at one instant, in cents."""

    cash_cents: int
    long_market_value_cents: int
    buying_power_cents: int
    last_equity_cents: int
    short_market_value_cents: int = 0  # zero or negative

    @property
    def equity_cents(self) -> int:
        """Cash plus the signed market value of every position."""
        return self.cash_cents + self.long_market_value_cents + self.short_market_value_cents

    @property
    def gross_exposure_cents(self) -> int:
        """Long value plus the absolute short value."""
        return self.long_market_value_cents - self.short_market_value_cents

    @property
    def multiplier(self) -> int:
        """2 for a margin account (equity of at least $2,000), else 1."""
        return multiplier_for(self.equity_cents)

    @property
    def shorting_enabled(self) -> bool:
        """Shorting needs a margin account."""
        return self.multiplier > 1

    @property
    def initial_margin_cents(self) -> int:
        """What the positions need as margin: their gross value over the multiplier."""
        return -(-self.gross_exposure_cents // self.multiplier)

    @property
    def maintenance_margin_cents(self) -> int:
        """25 % of the long value plus 30 % of the short value (Reg T and FINRA minimums)."""
        return (self.long_market_value_cents * 25 - self.short_market_value_cents * 30) // 100


class Ledger:
    """Cash and positions of a margin account, valued from a :class:`BarStore`.

    Args:
        store: the bars that give marks.
        cash_cents: starting cash (also ``last_equity`` until the first session close).
        last_close: the session close before the start, for each symbol's ``lastday_price``.
    """

    # Declared for the exchange's state file, which saves each attribute by its type.
    _store: BarStore
    _cash: int
    _last_equity: int
    _last_close: datetime | None
    _holdings: dict[str, _Holding]
    _last_fill: dict[str, tuple[datetime, float]]

    def __init__(self, store: BarStore, cash_cents: int, last_close: datetime | None) -> None:
        self._store = store
        self._cash = cash_cents
        self._last_equity = cash_cents
        self._last_close = last_close
        self._holdings: dict[str, _Holding] = {}
        self._last_fill: dict[str, tuple[datetime, float]] = {}

    @property
    def cash_cents(self) -> int:
        """Cash now, in cents (below zero when the account borrows on margin)."""
        return self._cash

    def held(self, symbol: str) -> int:
        """Shares of ``symbol`` held, negative when short (0 when none)."""
        holding = self._holdings.get(symbol)
        return holding.qty if holding else 0

    def symbols(self) -> list[str]:
        """Symbols with an open position, sorted."""
        return sorted(self._holdings)

    def apply_fill(self, symbol: str, side: Side, qty: int, price: float, at: datetime) -> None:
        """Book a fill of ``qty`` shares at ``price``: cash, quantity, basis, average entry.

        By :func:`fleece.accounting.book`: a fill that adds to a position (or opens one, long or
        short) moves the average entry; one that reduces a position keeps it. No fill takes a
        position across zero.

        Raises:
            ValueError: the fill would cross zero (the engine refuses such orders).
        """
        delta = signed_qty(side, qty)
        holding = self._holdings.get(symbol)
        if holding is None:
            holding = self._holdings[symbol] = _Holding(FLAT, 0)
        before = holding.qty
        if before * (before + delta) < 0:
            raise ValueError(f"a {side.value} of {qty} {symbol} would cross zero from {before}")
        done = book(holding.position, side, qty, to_ticks(price), at)
        self._cash += done.cash_cents
        if done.closed:
            # The closed shares take their share of the intraday basis with them.
            holding.day_basis_cents -= share_of(holding.day_basis_cents, qty, abs(before))
        else:
            holding.day_basis_cents -= done.cash_cents
        holding.position = done.after
        if holding.qty == 0:
            del self._holdings[symbol]
        self._last_fill[symbol] = (at, price)

    def roll(self, close: datetime) -> None:
        """A session closed: remember equity and each position's value at ``close``."""
        self._last_close = close
        self._last_equity = self._cash + self.market_value(close)
        for symbol, holding in self._holdings.items():
            holding.day_basis_cents = self.value(symbol, holding.qty, close)

    def mark(self, symbol: str, at: datetime) -> float | None:
        """The price ``symbol`` is valued at, at ``at`` (None when nothing is known yet)."""
        closed = self._store.last_close(symbol, at)
        fill = self._last_fill.get(symbol)
        if fill is not None and fill[0] <= at and (closed is None or fill[0] >= closed[0]):
            return fill[1]
        return closed[1] if closed is not None else None

    def value(self, symbol: str, qty: int, at: datetime) -> int:
        """``qty`` shares of ``symbol`` at its mark at ``at``, in cents."""
        price = self.mark(symbol, at)
        return cents_of(to_ticks(price), qty) if price is not None else 0

    def market_value(self, at: datetime) -> int:
        """The signed value of every position at ``at``, in cents (each rounded, then summed)."""
        return sum(self.value(s, h.qty, at) for s, h in self._holdings.items())

    def market_values(self, at: datetime) -> tuple[int, int]:
        """The long value and the (zero or negative) short value at ``at``, in cents."""
        long = short = 0
        for symbol, holding in self._holdings.items():
            value = self.value(symbol, holding.qty, at)
            if value >= 0:
                long += value
            else:
                short += value
        return long, short

    def position(self, symbol: str, at: datetime, qty_available: int) -> PositionView | None:
        """The position in ``symbol`` valued at ``at``, or None when there is none."""
        holding = self._holdings.get(symbol)
        if holding is None:
            return None
        avg = holding.position.avg_entry
        current = self.mark(symbol, at)
        lastday = self.mark(symbol, self._last_close) if self._last_close else None
        return PositionView(
            symbol=symbol,
            qty=holding.qty,
            qty_available=qty_available,
            avg_entry_price=avg,
            cost_basis_cents=holding.position.cost_cents,
            market_value_cents=self.value(symbol, holding.qty, at),
            current_price=current if current is not None else float(avg),
            lastday_price=lastday if lastday is not None else float(avg),
            day_basis_cents=holding.day_basis_cents,
        )

    def buying_power(self, at: datetime, reserved_cents: int) -> int:
        """``multiplier * equity - gross exposure - reserved_cents``, never below zero."""
        return self.account(at, reserved_cents).buying_power_cents

    def account(self, at: datetime, reserved_cents: int) -> AccountView:
        """The account at ``at``; ``reserved_cents`` is what open orders hold."""
        long, short = self.market_values(at)
        equity = self._cash + long + short
        power = multiplier_for(equity) * equity - (long - short) - reserved_cents
        return AccountView(
            cash_cents=self._cash,
            long_market_value_cents=long,
            buying_power_cents=max(0, power),
            last_equity_cents=self._last_equity,
            short_market_value_cents=short,
        )
