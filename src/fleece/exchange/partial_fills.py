"""Partial fills as Alpaca's paper accounts make them: about one fill in ten splits, at random.

``fleece exchange --partial-fills 0.1`` splits that fraction of fills: the order fills part of
what it still needs at the bar it meets (between 10 % and 90 %, at least one share), and the rest
on the next bar that order may fill on (a day order whose session ends first expires partly
filled). The draw is a pure function of the seed, the order's id and how much of it has filled,
so the same seed, data and requests give the same splits in every run.
"""

from __future__ import annotations

from dataclasses import dataclass

from fleece.draws import uniform
from fleece.exchange.orders import SimOrder


def _uniform(*parts: object) -> float:
    return uniform(":".join(str(p) for p in parts))


@dataclass(frozen=True, slots=True)
class PaperPartialFills:
    """Splits ``fraction`` of the fills (0 splits none, 1 every fill of two shares or more).

    Raises:
        ValueError: ``fraction`` is not between 0 and 1.
    """

    fraction: float
    seed: int = 0

    def __post_init__(self) -> None:
        if not 0.0 <= self.fraction <= 1.0:
            raise ValueError(f"partial-fill fraction must be between 0 and 1, got {self.fraction}")

    def fill_qty(self, order: SimOrder) -> int:
        """Shares of ``order`` to fill now: all it still needs, or a part of it."""
        remaining = order.qty - order.filled_qty
        if remaining < 2 or self.fraction <= 0:
            return remaining
        if _uniform("split", self.seed, order.id, order.filled_qty) >= self.fraction:
            return remaining
        share = 0.1 + 0.8 * _uniform("share", self.seed, order.id, order.filled_qty)
        return min(remaining - 1, max(1, int(remaining * share)))
