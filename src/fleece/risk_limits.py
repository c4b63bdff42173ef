"""The configured risk limits, checked once when they are built.

:class:`RiskLimits` is what :class:`~fleece.risk_manager.RiskManager` enforces (built from
``trading.yaml``'s ``risk`` section, or by a backtest); :func:`has_daily_loss_stop` is the one
rule for "1.0 means no daily loss stop", and :func:`daily_loss_floor` the one loss line, both
read by the risk manager, the backtest and the viewers.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, localcontext

NO_DAILY_LOSS_STOP = 1.0
"""``max_daily_loss_pct`` that means no daily loss stop: a limit of losing everything.

Read literally, 100% would stop a session only at zero equity; said in a config it means the
operator wants no stop, and the risk manager, the backtest and its loss scan all read it so.
"""


EXACT_DIGITS = 80
"""Decimal precision of the exact comparisons: products of two floats' shortest decimal forms
are never rounded."""


def has_daily_loss_stop(max_daily_loss_pct: float) -> bool:
    """True unless ``max_daily_loss_pct`` is :data:`NO_DAILY_LOSS_STOP` (the one rule)."""
    return max_daily_loss_pct < NO_DAILY_LOSS_STOP


def exact(value: float) -> Decimal:
    """The decimal a human wrote for ``value`` (0.1 -> 0.1, not 0.1000000000000000055...)."""
    return Decimal(repr(float(value)))


def daily_loss_floor(start: Decimal, max_daily_loss_pct: float) -> Decimal:
    """The equity at or below which the day's loss switches trading to REDUCING, exactly:
    ``start * (1 - max_daily_loss_pct)``, in ``start``'s unit (dollars or cents).

    The one rule for the loss line: the risk manager compares equity with it, the backtest's
    loss scan floors it to cents, and the viewers show ``start`` minus it as the loss limit.
    """
    with localcontext(prec=EXACT_DIGITS):
        return start * (1 - exact(max_daily_loss_pct))


def daily_loss_limit(start: float | None, max_daily_loss_pct: float) -> float | None:
    """The day's loss that switches to REDUCING, in dollars to the cent, as the viewers show it:
    ``start`` less :func:`daily_loss_floor` (None: no start equity, or no daily loss stop)."""
    if start is None or not has_daily_loss_stop(max_daily_loss_pct):
        return None
    return float(round(exact(start) - daily_loss_floor(exact(start), max_daily_loss_pct), 2))


@dataclass(frozen=True, slots=True)
class RiskLimits:
    """The configured limits.

    Attributes:
        max_position_pct: fraction of equity one entry may cost, in (0, 1].
        max_daily_loss_pct: loss from the session's starting equity that switches to REDUCING,
            in (0, 1]; 1.0 (:data:`NO_DAILY_LOSS_STOP`) means no daily loss stop at all.
        max_trades_per_day: entries allowed per session (orders submitted since the open).
        max_concurrent_positions: held positions plus pending entries allowed at once.
        circuit_breaker_failures: consecutive order failures that trip the breaker.
        max_leverage: total exposure (positions plus pending entries) allowed, as a multiple of
            equity, in (0, 4]; 1.0 buys nothing on margin.

    Raises:
        ValueError: when a value is out of range.
    """

    max_position_pct: float
    max_daily_loss_pct: float
    max_trades_per_day: int
    max_concurrent_positions: int
    circuit_breaker_failures: int = 5
    max_leverage: float = 1.0

    @property
    def daily_loss_stop(self) -> bool:
        """False when ``max_daily_loss_pct`` is 1.0: no loss of a day ever switches to REDUCING."""
        return has_daily_loss_stop(self.max_daily_loss_pct)

    def __post_init__(self) -> None:
        if not 0 < self.max_leverage <= 4:
            raise ValueError(f"max_leverage must be in (0, 4], got {self.max_leverage}")
        if not 0 < self.max_position_pct <= 1:
            raise ValueError(f"max_position_pct must be in (0, 1], got {self.max_position_pct}")
        if not 0 < self.max_daily_loss_pct <= NO_DAILY_LOSS_STOP:
            raise ValueError(f"max_daily_loss_pct must be in (0, 1], got {self.max_daily_loss_pct}")
        if self.max_trades_per_day < 0:
            raise ValueError(f"max_trades_per_day must be >= 0, got {self.max_trades_per_day}")
        if self.max_concurrent_positions < 0:
            raise ValueError(
                f"max_concurrent_positions must be >= 0, got {self.max_concurrent_positions}"
            )
        if self.circuit_breaker_failures < 1:
            raise ValueError(
                f"circuit_breaker_failures must be >= 1, got {self.circuit_breaker_failures}"
            )
