"""Alpaca's price rules the bot and the built-in exchange share (one rule in one place).

Prices are compared exactly elsewhere, in integer ticks (:func:`fleece.models.to_ticks`); these
functions say what a price a stop or a trailing stop sits at is.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from fleece.models import TICKS_PER_DOLLAR, Side

_CENT = Decimal("0.01")
TICK = Decimal(1) / TICKS_PER_DOLLAR
"""The finest price step, 1/10,000 dollar (:data:`fleece.models.TICKS_PER_DOLLAR`)."""


def round_price(value: Decimal) -> Decimal:
    """``value`` on Alpaca's price grid: whole cents from $1.00, 1/10,000 dollar below (half up)."""
    return value.quantize(_CENT if value >= 1 else TICK, rounding=ROUND_HALF_UP)


def trailing_stop_price(
    side: Side, hwm: float, trail_price: float | None, trail_percent: float | None
) -> float:
    """The stop of a trailing stop whose high-water mark is ``hwm``.

    A sell's stop is ``hwm - trail_price`` or ``hwm x (1 - trail_percent / 100)``, a buy's
    (its mark the lowest price) ``+``; rounded by :func:`round_price`.
    """
    mark = Decimal(str(hwm))
    if trail_price is not None:
        offset = Decimal(str(trail_price))
        stop = mark - offset if side is Side.SELL else mark + offset
    else:
        pct = Decimal(str(trail_percent)) / 100
        stop = mark * (1 - pct) if side is Side.SELL else mark * (1 + pct)
    return float(round_price(stop))
