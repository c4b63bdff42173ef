"""How one order meets one bar: the exchange's price rules, as pure functions.

The engine (:mod:`fleece.exchange.engine`) judges every working order twice per regular-session
bar of its symbol, at the bar's open (the instant the bar starts) and at its close (its range,
high and low, is known then), and acts on the :class:`Verdict`. The backtest runs the same engine,
so these rules are the contract a backtest and a run on the exchange share:

- **Market**: fills at the open, plus the engine's slippage (:func:`slipped`: a buy pays
  ``bps / 10,000`` more, a sell receives that much less, rounded half up to 1/10,000 dollar).
- **Limit**: fills at the open if the open is at or through the limit; otherwise, if the bar
  traded through the limit (buy: low <= limit; sell: high >= limit), at the limit. No slippage.
- **Stop** (a sell stop protects a long position, a buy stop a short one): it triggers when the
  price reaches the stop (sell: at or below it; buy: at or above it). If the open is already
  through the stop (the bar gaps through it) it fills at the open; otherwise, if the bar's low
  (sell) or high (buy) reaches the stop, it fills at the stop. A triggered stop is a market
  order: the engine's slippage applies, and what a partial fill leaves fills at the next bar's
  open.
- **Stop-limit**: triggers like a stop, then is a limit order at its limit price. Triggered at
  the open, the limit rule applies to that open and then to the bar's range; triggered within the
  bar (at the stop), it fills at the stop when the stop is at or through the limit (a sell whose
  limit is at or below its stop), and otherwise rests as a limit order from the next bar.
- **Trailing stop**: a stop whose price follows the high-water mark ``hwm`` (a sell: the highest
  price seen since submission; a buy: the lowest), ``hwm - trail_price`` or
  ``hwm x (1 - trail_percent / 100)`` for a sell (``+`` for a buy), rounded half up to the cent
  (to 1/10,000 below $1). The mark starts at the symbol's last price when the order is placed
  (its first bar's open when there is none). Bar by bar: at the open, a gap through the current
  stop fills at the open, otherwise the open moves the mark; at the close, a low (sell) or high
  (buy) through the stop as it stood after the open fills at the stop, otherwise the bar's high
  (low) moves the mark for the next bar. Within one bar the stop is judged before the bar's own
  extreme moves it: a bar cannot both raise a trailing stop and trigger it.
- Only regular-session bars are judged, so no stop triggers and no trailing mark moves outside
  regular hours (Alpaca's trailing stops do not trigger then either).

Prices are compared exactly, in integer ticks of 1/10,000 dollar.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from fleece.exchange.orders import OrderType, SimOrder
from fleece.models import Bar, Side, to_ticks
from fleece.prices import TICK, trailing_stop_price

CLOSE = "close"  # judge the order again at this bar's close
NEXT = "next"  # wait for the symbol's next regular bar


def slippage(bps: float) -> Decimal:
    """The fraction of a price that ``bps`` basis points of slippage stand for."""
    return Decimal(str(bps)) / 10_000


def slipped(price: float, side: Side, slip: Decimal) -> Decimal:
    """The price a market fill at ``price`` pays: a buy ``slip`` (a fraction) more, a sell less.

    Rounded half up to 1/10,000 dollar. The engine fills market orders and triggered stops at
    it; the backtest prices the positions it holds at the start by it too.
    """
    factor = 1 + slip if side is Side.BUY else 1 - slip
    return (Decimal(str(price)) * factor).quantize(TICK, rounding=ROUND_HALF_UP)


@dataclass(frozen=True, slots=True)
class Verdict:
    """What happens to an order at one moment of one bar.

    Attributes:
        order: the order with its stop state (``triggered_at``, ``stop_price``, ``hwm``) as it
            stands after this moment.
        price: when not None, the order fills now at this price.
        market: the fill is a market fill (a market order or a triggered stop: slippage applies).
        then: when the order did not fill: :data:`CLOSE` or :data:`NEXT`.
    """

    order: SimOrder
    price: float | None = None
    market: bool = False
    then: str = ""


def through(side: Side, stop: float, price: float) -> bool:
    """True when ``price`` reaches a ``side`` stop at ``stop`` (sell: at or below it)."""
    if side is Side.SELL:
        return to_ticks(price) <= to_ticks(stop)
    return to_ticks(price) >= to_ticks(stop)


def crosses(side: Side, limit: float, low: float, high: float) -> bool:
    """True when prices between ``low`` and ``high`` reach a ``side`` limit order's price."""
    if side is Side.BUY:
        return to_ticks(low) <= to_ticks(limit)
    return to_ticks(high) >= to_ticks(limit)


def with_mark(order: SimOrder, hwm: float) -> SimOrder:
    """``order`` (a trailing stop) with its mark at ``hwm`` and the stop that follows from it."""
    stop = trailing_stop_price(order.side, hwm, order.trail_price, order.trail_percent)
    return replace(order, hwm=hwm, stop_price=stop)


def _better(side: Side, mark: float, price: float) -> float:
    """The mark after ``price``: higher for a sell's high-water mark, lower for a buy's."""
    if side is Side.SELL:
        return price if to_ticks(price) > to_ticks(mark) else mark
    return price if to_ticks(price) < to_ticks(mark) else mark


def _limit_like(order: SimOrder) -> bool:
    return order.type is OrderType.LIMIT or (
        order.type is OrderType.STOP_LIMIT and order.triggered_at is not None
    )


def _market_like(order: SimOrder) -> bool:
    return order.type is OrderType.MARKET or (
        order.type in (OrderType.STOP, OrderType.TRAILING_STOP) and order.triggered_at is not None
    )


def at_open(order: SimOrder, bar: Bar, now: datetime) -> Verdict:
    """``order`` at the open of ``bar`` (``now`` is when a trigger is recorded)."""
    if _market_like(order):
        return Verdict(order, bar.open, market=True)
    if order.type is OrderType.TRAILING_STOP:
        if order.hwm is None:
            order = with_mark(order, bar.open)
        assert order.stop_price is not None
        if through(order.side, order.stop_price, bar.open):
            return Verdict(replace(order, triggered_at=now), bar.open, market=True)
        return Verdict(
            with_mark(order, _better(order.side, order.hwm or bar.open, bar.open)), then=CLOSE
        )
    if order.type.is_stop and order.triggered_at is None:
        assert order.stop_price is not None
        if not through(order.side, order.stop_price, bar.open):
            return Verdict(order, then=CLOSE)
        order = replace(order, triggered_at=now)
        if order.type is OrderType.STOP:
            return Verdict(order, bar.open, market=True)
    assert _limit_like(order) and order.limit_price is not None
    if crosses(order.side, order.limit_price, bar.open, bar.open):
        return Verdict(order, bar.open)
    return Verdict(order, then=CLOSE)


def at_close(order: SimOrder, bar: Bar, now: datetime) -> Verdict:
    """``order`` at the close of ``bar``, judged on the bar's range."""
    if _limit_like(order):
        assert order.limit_price is not None
        if crosses(order.side, order.limit_price, bar.low, bar.high):
            return Verdict(order, order.limit_price)
        return Verdict(order, then=NEXT)
    assert order.type.is_stop and order.stop_price is not None
    extreme = bar.low if order.side is Side.SELL else bar.high
    stop = order.stop_price
    if not through(order.side, stop, extreme):
        if order.type is OrderType.TRAILING_STOP:
            best = bar.high if order.side is Side.SELL else bar.low
            order = with_mark(order, _better(order.side, order.hwm or best, best))
        return Verdict(order, then=NEXT)
    order = replace(order, triggered_at=now)
    if order.type is not OrderType.STOP_LIMIT:
        return Verdict(order, stop, market=True)
    assert order.limit_price is not None
    # Triggered at the stop: a limit at or beyond the stop is marketable there.
    if crosses(order.side, order.limit_price, stop, stop):
        return Verdict(order, stop)
    return Verdict(order, then=NEXT)
