"""Immutable domain objects shared by the feed, strategy, risk, orders, broker and store.

Timestamps are always timezone-aware UTC. Prices are floats as Alpaca serves them (at most
4 decimals); :func:`to_ticks` turns them into exact integers of 1/10,000 dollar for comparisons.
Share quantities are integers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import ClassVar, Final, Literal, get_args

TICKS_PER_DOLLAR = 10_000


def to_ticks(price: float) -> int:
    """Return ``price`` as an exact integer number of 1/10,000 dollar."""
    return round(price * TICKS_PER_DOLLAR)


def require_utc(ts: datetime, what: str = "timestamp") -> datetime:
    """Return ``ts`` unchanged if it is timezone-aware, else raise ``ValueError``."""
    if ts.tzinfo is None or ts.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware (UTC), got naive {ts.isoformat()}")
    return ts


class Side(StrEnum):
    """Order side, spelled as Alpaca spells it."""

    BUY = "buy"
    SELL = "sell"


class TradingState(StrEnum):
    """What the risk manager lets through: everything, exits only, or nothing."""

    ACTIVE = "ACTIVE"
    REDUCING = "REDUCING"
    HALTED = "HALTED"


@dataclass(frozen=True, slots=True)
class Bar:
    """One 1-minute OHLCV bar; ``timestamp`` is the bar's start, UTC-aware.

    ``carried`` marks a bar of the minute grid for a minute without a trade: the last close
    repeated (:mod:`fleece.minute_grid`); such a bar was never served by a broker.
    """

    symbol: str
    timestamp: datetime
    open: float
    high: float
    low: float
    close: float
    volume: int
    trade_count: int | None = None
    vwap: float | None = None
    carried: bool = False


@dataclass(frozen=True, slots=True)
class Signal:
    """A strategy decision taken at the close of ``bar_timestamp``'s bar."""

    strategy: str
    symbol: str
    side: Side
    bar_timestamp: datetime
    price: float
    reason: str


@dataclass(frozen=True, slots=True)
class OrderIntent:
    """What we want to send; written to the store before it is submitted."""

    client_order_id: str
    strategy: str
    symbol: str
    side: Side
    qty: int
    signal_timestamp: datetime
    created_at: datetime
    dry_run: bool = False


#: Entry orders' time in force, the only one ``orders.time_in_force`` accepts: ``day`` (an entry
#: not filled by the close expires; it would be stale by the next session anyway).
EntryTimeInForce = Literal["day"]
ENTRY_TIME_IN_FORCE: Final[EntryTimeInForce] = "day"
#: How long an entry may wait unfilled before housekeeping cancels it, by default
#: (``orders.stale_order_minutes``; the backtest's ``BacktestConfig`` too).
STALE_ORDER_MINUTES: Final = 15


@dataclass(frozen=True, slots=True)
class ExitOrder:
    """A protective order's shape besides symbol, side and quantity (what the broker is sent).

    ``type`` is ``stop``, ``limit`` or ``trailing_stop``; ``order_class`` ``oco`` makes a limit
    order (the take-profit at ``limit_price``) with a stop-loss leg at ``stop_price``. Always
    good-till-cancelled (:attr:`TIME_IN_FORCE`): protection outlives the session and the bot.
    """

    #: What every broker (Alpaca's, the backtest's) is sent: ``gtc``, never a field to set
    #: (entries: :data:`ENTRY_TIME_IN_FORCE`).
    TIME_IN_FORCE: ClassVar[str] = "gtc"

    type: str
    order_class: str = "simple"
    stop_price: float | None = None
    limit_price: float | None = None
    trail_percent: float | None = None

    def order_body(
        self, client_order_id: str, symbol: str, side: Side, qty: int
    ) -> dict[str, object]:
        """The ``POST /v2/orders`` body that places this order at Alpaca: the one mapping.

        An OCO's ``limit_price`` is its take-profit leg (``take_profit.limit_price``) and its
        ``stop_price`` the stop-loss leg (``stop_loss.stop_price``); a simple order carries its
        own prices; the class is named only when it is not ``simple``; the time in force is
        :attr:`TIME_IN_FORCE`. alpaca-py's request is built from it
        (:func:`fleece.broker_requests.exit_request`), and the backtest submits it through the
        built-in exchange's own reading of a body (:mod:`fleece.backtest.sim_broker`).
        """
        body: dict[str, object] = {
            "symbol": symbol,
            "qty": qty,
            "side": side.value,
            "type": self.type,
            "time_in_force": self.TIME_IN_FORCE,
            "client_order_id": client_order_id,
        }
        if self.order_class == "oco":
            body["order_class"] = self.order_class
            body["take_profit"] = {"limit_price": self.limit_price}
            body["stop_loss"] = {"stop_price": self.stop_price}
            return body
        prices = (
            ("limit_price", self.limit_price),
            ("stop_price", self.stop_price),
            ("trail_percent", self.trail_percent),
        )
        body.update((name, value) for name, value in prices if value is not None)
        return body


@dataclass(frozen=True, slots=True)
class Refusal:
    """A signal the risk manager refused, with the reason (one of a small vocabulary)."""

    symbol: str
    side: Side
    reason: str
    detail: str
    timestamp: datetime


@dataclass(frozen=True, slots=True)
class Fill:
    """One execution reported by the broker."""

    client_order_id: str
    broker_order_id: str
    symbol: str
    side: Side
    qty: int
    price: float
    timestamp: datetime


@dataclass(frozen=True, slots=True)
class Position:
    """A held position as the broker reports it."""

    symbol: str
    qty: int
    avg_entry_price: float
    market_value: float
    unrealized_pl: float


@dataclass(frozen=True, slots=True)
class AccountSnapshot:
    """The account figures the risk manager needs (market values: long positive, short <= 0)."""

    equity: float
    cash: float
    buying_power: float
    last_equity: float
    long_market_value: float = 0.0
    short_market_value: float = 0.0

    @property
    def gross_exposure(self) -> float:
        """What the account's positions are worth, long plus absolute short."""
        return self.long_market_value + abs(self.short_market_value)


#: Alpaca's longest ``client_order_id``: the bot keeps within it; the built-in exchange refuses
#: longer ones.
MAX_CLIENT_ORDER_ID = 128
#: Alpaca's error code for an order it cannot accept as written (422).
CODE_INVALID_ORDER = 40010001
#: Alpaca's refusal (422, :data:`CODE_INVALID_ORDER`) of a ``client_order_id`` it has seen before,
#: even on an order long cancelled: the built-in exchange answers it, and the order manager reads
#: it as "an earlier attempt did arrive" (:func:`fleece.order_terms.duplicate_id`).
DUPLICATE_CLIENT_ORDER_ID = "client_order_id must be unique"
#: The most orders one ``GET /v2/orders`` answers (its ``limit``, 50 by default): the bot asks for
#: this many, the built-in exchange and the backtest's broker answer no more.
MAX_ORDERS_LISTED = 500
#: Alpaca's rate limit: requests an account may make a minute, per API (trading, market data).
#: The built-in exchange's default (``fleece exchange --rate-limit``), the dashboard's headroom
#: and the bound on ``risk.max_trades_per_day``.
REQUESTS_PER_MINUTE = 200
#: Alpaca's real-time stock-bar feeds, one per tape: ``iex`` (one venue; the free plan) and
#: ``sip`` (the consolidated tape). What ``data.feed`` may name, what ``fleece data download
#: --feed`` fetches, and the tapes the built-in exchange models (its data API also serves
#: ``delayed_sip``: the sip tape 15 minutes late).
Feed = Literal["iex", "sip"]
FEEDS: tuple[Feed, ...] = get_args(Feed)

# Alpaca's order statuses, and which are final, are read by fleece.intents (one table).


@dataclass(frozen=True, slots=True)
class BrokerOrder:
    """An order as the broker reports it (a fact, not an intent)."""

    id: str
    client_order_id: str
    symbol: str
    side: Side
    qty: int
    filled_qty: int
    filled_avg_price: float | None
    status: str
    created_at: datetime
    updated_at: datetime
    filled_at: datetime | None
    #: A bracket's or OCO's legs (an OCO's stop-loss), as the broker nests them; () for others.
    legs: tuple[BrokerOrder, ...] = ()


@dataclass(frozen=True, slots=True)
class MarketClock:
    """The broker's clock: whether the market is open, and the next open and close."""

    timestamp: datetime
    is_open: bool
    next_open: datetime
    next_close: datetime


@dataclass(frozen=True, slots=True)
class CalendarDay:
    """One trading day of the broker's calendar (UTC instants)."""

    day: date
    open: datetime
    close: datetime
