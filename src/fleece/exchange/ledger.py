"""The cash account: cash, holdings and their valuation, to the cent.

Cash and every market value are integer cents. A fill costs ``qty * price`` rounded half up to
the cent and a position is worth ``qty * mark`` rounded the same way, so equity equals cash plus
the positions' market values to the cent, at every instant. The mark of a symbol is the close of
its latest closed bar (regular or extended hours), or the latest fill price when that fill is more
recent than the bar.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from fleece.exchange.market import BarStore
from fleece.models import Side, to_ticks


def cents_of(ticks: int, qty: int) -> int:
    """``qty`` shares at ``ticks`` (1/10,000 dollar) in cents, rounded half up."""
    return (ticks * qty + 50) // 100


@dataclass(slots=True)
class _Holding:
    qty: int
    avg_entry: Decimal
    day_basis_cents: int  # intraday P&L is measured from this: last close's value + today's buys


@dataclass(frozen=True, slots=True)
class PositionView:
    """A position valued at one instant."""

    symbol: str
    qty: int
    qty_available: int
    avg_entry_price: Decimal
    cost_basis_cents: int
    market_value_cents: int
    current_price: float
    lastday_price: float
    day_basis_cents: int

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

    @property
    def equity_cents(self) -> int:
        """Cash plus the market value of every position."""
        return self.cash_cents + self.long_market_value_cents


class Ledger:
    """Cash and long positions of a cash account, valued from a :class:`BarStore`.

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
        """Cash now, in cents (may dip below zero if a market buy fills above its estimate)."""
        return self._cash

    def held(self, symbol: str) -> int:
        """Shares of ``symbol`` held (0 when none)."""
        holding = self._holdings.get(symbol)
        return holding.qty if holding else 0

    def symbols(self) -> list[str]:
        """Symbols with an open position, sorted."""
        return sorted(self._holdings)

    def apply_fill(self, symbol: str, side: Side, qty: int, price: float, at: datetime) -> None:
        """Book a fill of ``qty`` shares at ``price``: cash, quantity, average entry."""
        cents = cents_of(to_ticks(price), qty)
        holding = self._holdings.get(symbol)
        if side is Side.BUY:
            self._cash -= cents
            if holding is None:
                holding = self._holdings[symbol] = _Holding(0, Decimal(0), 0)
            total = holding.avg_entry * holding.qty + Decimal(str(price)) * qty
            holding.qty += qty
            holding.avg_entry = total / holding.qty
            holding.day_basis_cents += cents
        else:
            if holding is None or holding.qty < qty:
                raise ValueError(f"cannot sell {qty} {symbol}: only {self.held(symbol)} held")
            self._cash += cents
            # The sold shares take their share of the intraday basis with them.
            released = (holding.day_basis_cents * qty + holding.qty // 2) // holding.qty
            holding.day_basis_cents -= released
            holding.qty -= qty
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
        """The value of every position at ``at``, in cents (each rounded, then summed)."""
        return sum(self.value(s, h.qty, at) for s, h in self._holdings.items())

    def position(self, symbol: str, at: datetime, qty_available: int) -> PositionView | None:
        """The position in ``symbol`` valued at ``at``, or None when there is none."""
        holding = self._holdings.get(symbol)
        if holding is None:
            return None
        avg = holding.avg_entry
        current = self.mark(symbol, at)
        lastday = self.mark(symbol, self._last_close) if self._last_close else None
        return PositionView(
            symbol=symbol,
            qty=holding.qty,
            qty_available=qty_available,
            avg_entry_price=avg,
            cost_basis_cents=int((avg * holding.qty * 100).quantize(Decimal(1), ROUND_HALF_UP)),
            market_value_cents=self.value(symbol, holding.qty, at),
            current_price=current if current is not None else float(avg),
            lastday_price=lastday if lastday is not None else float(avg),
            day_basis_cents=holding.day_basis_cents,
        )

    def buying_power(self, reserved_cents: int) -> int:
        """Cash not held by open buy orders, in cents (a cash account's buying power).

        Needs no marks: an order check asks this without valuing every position.
        """
        return max(0, self._cash - reserved_cents)

    def account(self, at: datetime, reserved_cents: int) -> AccountView:
        """The account at ``at``; ``reserved_cents`` is what open buy orders hold."""
        return AccountView(
            cash_cents=self._cash,
            long_market_value_cents=self.market_value(at),
            buying_power_cents=self.buying_power(reserved_cents),
            last_equity_cents=self._last_equity,
        )
