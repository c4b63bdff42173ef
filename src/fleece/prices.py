"""Alpaca's price rules the bot and the built-in exchange share (one rule in one place).

Prices are compared exactly elsewhere, in integer ticks (:func:`fleece.models.to_ticks`); these
functions say what a price a stop or a trailing stop sits at is.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING

from fleece.models import TICKS_PER_DOLLAR, Side

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

_CENT = Decimal("0.01")
TICK = Decimal(1) / TICKS_PER_DOLLAR
"""The finest price step, 1/10,000 dollar (:data:`fleece.models.TICKS_PER_DOLLAR`)."""
_PENNY_FROM = Decimal(1)  # prices from $1.00 up move in whole cents
_CENT_PLACES, _TICK_PLACES = (-int(step.as_tuple().exponent) for step in (_CENT, TICK))


def price_step(value: Decimal) -> Decimal:
    """Alpaca's price increment at ``value``: a whole cent from $1.00 up, 1/10,000 dollar below."""
    return _CENT if value >= _PENNY_FROM else TICK


def round_price(value: Decimal) -> Decimal:
    """``value`` on Alpaca's price grid (:func:`price_step`), rounded half up."""
    return value.quantize(price_step(value), rounding=ROUND_HALF_UP)


def on_price_grid(value: Decimal) -> bool:
    """True when ``value`` is a multiple of its :func:`price_step` (Alpaca refuses an order
    price that is not: "sub-penny increment does not fulfill minimum pricing criteria")."""
    return value == value.quantize(price_step(value))


def average_price(executions: Iterable[tuple[int, float]]) -> float:
    """The average price of ``(qty, price)`` executions, weighted by shares, rounded half to even
    to the :data:`TICK`: an order's ``filled_avg_price`` as the exchange reports it, and as the
    bot reads an OCO's two orders as one.

    Raises:
        ZeroDivisionError: no shares were executed.
    """
    paid, shares = Decimal(0), 0
    for qty, price in executions:
        paid += Decimal(str(price)) * qty
        shares += qty
    return float((paid / shares).quantize(TICK, rounding=ROUND_HALF_EVEN))


def round_prices(values: NDArray[np.float64]) -> NDArray[np.float64]:
    """Float prices each rounded to its :func:`price_step` (numpy's rounding of binary floats:
    a price half-way between two steps may go either way), for generated bars."""
    import numpy as np  # here: the bot's price rules need no numpy

    rounded: NDArray[np.float64] = np.where(
        values >= float(_PENNY_FROM), np.round(values, _CENT_PLACES), np.round(values, _TICK_PLACES)
    )
    return rounded


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
