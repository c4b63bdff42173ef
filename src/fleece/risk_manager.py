"""The risk manager: every signal passes through it and leaves approved or refused, with a reason.

Pure and synchronous: the runtime builds a :class:`RiskContext` snapshot (account, positions,
pending intents, counters, safety flags) and asks :meth:`RiskManager.evaluate`. Nothing here
reads a clock, the store or the broker, so live, dry-run and backtest decide identically.

Trading states (see :meth:`RiskManager.trading_state`):

* ``HALTED`` — kill switch, tripped circuit breaker, or a store that cannot be written: nothing
  passes, exits included.
* ``REDUCING`` — the daily loss limit is hit (or was hit earlier this session: latched):
  exits only.
* ``ACTIVE`` — everything the limits allow.

Checks run in this order; the first that fails is the refusal's reason:

1. ``store_failure`` / ``kill_switch`` / ``circuit_breaker`` — HALTED refuses everything.
2. ``market_closed``.
3. ``last_bar_of_session`` — a signal on the session's last regular bar is not acted on.
4. ``order_pending`` — an unfinished order intent already exists for the symbol.
5. Exits (SELL): ``no_position`` if nothing is held; otherwise approved for the whole position.
6. Entries (BUY), in order: ``daily_loss_limit`` (REDUCING), ``max_trades_per_day``,
   ``already_in_position``, ``max_concurrent_positions`` (held + pending entries),
   ``invalid_price``, ``position_size_zero``, ``max_leverage``, ``insufficient_buying_power``
   (not one share fits). An entry is sized down to what buying power holds, valued as the
   exchange values a market buy (:mod:`fleece.accounting`: a few per cent above the last
   price), so the exchange never refuses an approved entry for buying power.

Exits are never blocked by the trade count or the position limits: getting out must always be
possible unless the bot is HALTED.

Long only, whatever the account allows: an exit sells what the bot owns (``positions``, which
the trader takes from the broker's position at the moment of the order, see
:mod:`fleece.ownership`), never more, and there is no short entry. Total exposure is capped at
``equity * max_leverage`` (1.0 by default: no borrowing), whatever a margin account's buying
power says (an Alpaca paper account lends twice its equity).

The limits themselves are :class:`~fleece.risk_limits.RiskLimits`; the breaker that counts
failed orders is :class:`~fleece.circuit_breaker.CircuitBreaker`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import localcontext

from fleece.accounting import affordable_qty, market_order_ticks
from fleece.models import (
    TICKS_PER_DOLLAR,
    Refusal,
    Side,
    Signal,
    TradingState,
    require_utc,
    to_ticks,
)
from fleece.risk_limits import EXACT_DIGITS, RiskLimits, daily_loss_floor, exact

KILL_SWITCH = "kill_switch"
STORE_FAILURE = "store_failure"
CIRCUIT_BREAKER = "circuit_breaker"
MARKET_CLOSED = "market_closed"
LAST_BAR_OF_SESSION = "last_bar_of_session"
ORDER_PENDING = "order_pending"
NO_POSITION = "no_position"
DAILY_LOSS_LIMIT = "daily_loss_limit"
MAX_TRADES_PER_DAY = "max_trades_per_day"
ALREADY_IN_POSITION = "already_in_position"
MAX_CONCURRENT_POSITIONS = "max_concurrent_positions"
INVALID_PRICE = "invalid_price"
POSITION_SIZE_ZERO = "position_size_zero"
MAX_LEVERAGE = "max_leverage"
INSUFFICIENT_BUYING_POWER = "insufficient_buying_power"

REFUSAL_REASONS: frozenset[str] = frozenset(
    {
        KILL_SWITCH,
        STORE_FAILURE,
        CIRCUIT_BREAKER,
        MARKET_CLOSED,
        LAST_BAR_OF_SESSION,
        ORDER_PENDING,
        NO_POSITION,
        DAILY_LOSS_LIMIT,
        MAX_TRADES_PER_DAY,
        ALREADY_IN_POSITION,
        MAX_CONCURRENT_POSITIONS,
        INVALID_PRICE,
        POSITION_SIZE_ZERO,
        MAX_LEVERAGE,
        INSUFFICIENT_BUYING_POWER,
    }
)


def halt_reason(*, store_failed: bool, kill_switch: bool, breaker_tripped: bool) -> str:
    """Why trading is HALTED, or ``""`` when it is not: the one rule, in precedence order.

    A store that cannot be written comes first (no intent could be written ahead of its
    order), then the operator's kill switch, then the tripped circuit breaker. The risk
    manager's state and every step the trader takes around it (an exit's cancels, the
    protective sweep) ask this, so none of them acts while the others call the bot HALTED.
    """
    if store_failed:
        return STORE_FAILURE
    if kill_switch:
        return KILL_SWITCH
    if breaker_tripped:
        return CIRCUIT_BREAKER
    return ""


def _require_finite(value: float, what: str) -> None:
    if not math.isfinite(value):
        raise ValueError(f"{what} must be a finite number, got {value!r}")


@dataclass(frozen=True, slots=True)
class RiskContext:
    """Everything a decision depends on, snapshotted by the runtime just before it.

    Attributes:
        now: decision time, UTC-aware (stamped on refusals).
        market_open: whether the regular session is open.
        signal_on_last_bar: the signal's bar is the session's last regular bar.
        equity: current account equity.
        last_equity: equity at the session's start (Alpaca's ``last_equity``).
        buying_power: current buying power.
        positions: symbol -> shares held (0 or absent: not held).
        pending_symbols: symbols with an unfinished order intent (buy or sell).
        trades_today: orders submitted since the session's open.
        kill_switch: the operator's kill switch is on.
        breaker_tripped: the circuit breaker has tripped.
        reducing_latched: the daily loss limit was already hit this session; it stays REDUCING
            even if equity recovers.
        dry_run: orders are not sent. The rules ignore it on purpose: a dry run must approve
            and refuse exactly what a real run would.
        store_failed: the store cannot be written (full disk, I/O error): no intent could be
            written ahead of its order, so nothing may be sent (see :mod:`fleece.disk_guard`).
        exposure: the value of the account's positions (long plus absolute short) and of the
            bot's pending entries, in dollars.
    """

    now: datetime
    market_open: bool
    signal_on_last_bar: bool
    equity: float
    last_equity: float
    buying_power: float
    positions: Mapping[str, int]
    pending_symbols: frozenset[str]
    trades_today: int
    kill_switch: bool
    breaker_tripped: bool
    reducing_latched: bool
    dry_run: bool
    store_failed: bool = False
    exposure: float = 0.0

    def __post_init__(self) -> None:
        require_utc(self.now, "now")
        _require_finite(self.exposure, "exposure")
        _require_finite(self.equity, "equity")
        _require_finite(self.last_equity, "last_equity")
        _require_finite(self.buying_power, "buying_power")
        if self.trades_today < 0:
            raise ValueError(f"trades_today must be >= 0, got {self.trades_today}")

    def held(self, symbol: str) -> int:
        """Shares held in ``symbol`` (0 when none)."""
        return self.positions.get(symbol, 0)


@dataclass(frozen=True, slots=True)
class Approval:
    """A signal the risk manager let through, sized in whole shares."""

    symbol: str
    side: Side
    qty: int


def position_size(equity: float, fraction: float, price: float) -> int:
    """Return ``floor(equity * fraction / price)`` whole shares, computed exactly.

    Each float is taken at its shortest decimal form, so 100000 * 0.10 / 100.00 is exactly 100
    (float arithmetic can land on 99.99999999999999 and floor to 99).

    Args:
        equity: account equity in dollars.
        fraction: fraction of equity to commit, e.g. 0.10.
        price: price per share, > 0.

    Returns:
        The share count, never negative.
    """
    if not price > 0:
        raise ValueError(f"price must be > 0, got {price!r}")
    with localcontext(prec=EXACT_DIGITS):
        budget = exact(equity) * exact(fraction)
        if budget <= 0:
            return 0
        return int(budget // exact(price))


class RiskManager:
    """Turns signals into approvals or refusals under :class:`RiskLimits`.

    Args:
        limits: the configured limits.
    """

    def __init__(self, limits: RiskLimits) -> None:
        self.limits = limits
        # Equity moves far less often than signals arrive (a backtest asks millions of times),
        # and the exact Decimal comparison is the costliest check: keep the last answer.
        self._loss_memo: tuple[float, float, bool] | None = None

    def trading_state(self, ctx: RiskContext) -> tuple[TradingState, str]:
        """Return the trading state the context implies, and the reason for it.

        Args:
            ctx: the decision snapshot.

        Returns:
            ``(HALTED, "store_failure" | "kill_switch" | "circuit_breaker")``,
            ``(REDUCING, "daily_loss_limit")``
            when ``equity <= last_equity * (1 - max_daily_loss_pct)`` or already latched, else
            ``(ACTIVE, "")``.
        """
        halted = halt_reason(
            store_failed=ctx.store_failed,
            kill_switch=ctx.kill_switch,
            breaker_tripped=ctx.breaker_tripped,
        )
        if halted:
            return TradingState.HALTED, halted
        if ctx.reducing_latched or self.daily_loss_hit(ctx.equity, ctx.last_equity):
            return TradingState.REDUCING, DAILY_LOSS_LIMIT
        return TradingState.ACTIVE, ""

    def daily_loss_hit(self, equity: float, last_equity: float) -> bool:
        """True when ``equity`` is at or below the daily loss floor, compared exactly.

        Without a positive starting equity (e.g. no account read yet, all zeros) there is no
        baseline to lose a percentage of, so the limit is not considered hit; entries are then
        refused by sizing anyway (zero equity buys nothing).
        With ``max_daily_loss_pct`` at 1.0 there is no limit: it is never hit.

        Args:
            equity: current equity.
            last_equity: equity at the session's start.
        """
        if last_equity <= 0 or not self.limits.daily_loss_stop:
            return False
        memo = self._loss_memo
        if memo is not None and memo[0] == equity and memo[1] == last_equity:
            return memo[2]
        hit = exact(equity) <= daily_loss_floor(exact(last_equity), self.limits.max_daily_loss_pct)
        self._loss_memo = (equity, last_equity, hit)
        return hit

    def evaluate(self, signal: Signal, ctx: RiskContext, last_price: float) -> Approval | Refusal:
        """Approve or refuse ``signal``; the module docstring lists the checks in order.

        Args:
            signal: the strategy's signal.
            ctx: the decision snapshot.
            last_price: the latest price of ``signal.symbol``, used to size entries.

        Returns:
            An :class:`Approval` with the share count, or a :class:`~fleece.models.Refusal`
            whose ``reason`` is in :data:`REFUSAL_REASONS`.
        """
        state, state_reason = self.trading_state(ctx)
        if state is TradingState.HALTED:
            return self._refuse(signal, ctx, state_reason, "trading is HALTED")
        if not ctx.market_open:
            return self._refuse(signal, ctx, MARKET_CLOSED, "the regular session is closed")
        if ctx.signal_on_last_bar:
            return self._refuse(
                signal, ctx, LAST_BAR_OF_SESSION, "signal on the session's last regular bar"
            )
        if signal.symbol in ctx.pending_symbols:
            return self._refuse(
                signal, ctx, ORDER_PENDING, f"an order for {signal.symbol} is unfinished"
            )
        if signal.side is Side.SELL:
            return self._evaluate_exit(signal, ctx)
        if state is TradingState.REDUCING:
            return self._refuse(signal, ctx, state_reason, self._loss_detail(ctx))
        return self._evaluate_entry(signal, ctx, last_price)

    def _evaluate_exit(self, signal: Signal, ctx: RiskContext) -> Approval | Refusal:
        held = ctx.held(signal.symbol)
        if held <= 0:
            return self._refuse(signal, ctx, NO_POSITION, f"no {signal.symbol} position to sell")
        return Approval(signal.symbol, Side.SELL, held)

    def _evaluate_entry(
        self, signal: Signal, ctx: RiskContext, last_price: float
    ) -> Approval | Refusal:
        limits = self.limits
        if ctx.trades_today >= limits.max_trades_per_day:
            detail = f"{ctx.trades_today} trades today, limit {limits.max_trades_per_day}"
            return self._refuse(signal, ctx, MAX_TRADES_PER_DAY, detail)
        if ctx.held(signal.symbol) != 0:
            detail = f"already holding {ctx.held(signal.symbol)} {signal.symbol}"
            return self._refuse(signal, ctx, ALREADY_IN_POSITION, detail)
        # A pending symbol that is not held is an entry in flight: it will occupy a slot.
        occupied = {s for s, qty in ctx.positions.items() if qty != 0} | ctx.pending_symbols
        if len(occupied) >= limits.max_concurrent_positions:
            detail = (
                f"{len(occupied)} positions held or pending, "
                f"limit {limits.max_concurrent_positions}"
            )
            return self._refuse(signal, ctx, MAX_CONCURRENT_POSITIONS, detail)
        if not (math.isfinite(last_price) and last_price > 0):
            return self._refuse(signal, ctx, INVALID_PRICE, f"last price {last_price!r}")
        qty = position_size(ctx.equity, limits.max_position_pct, last_price)
        if qty <= 0:
            detail = (
                f"equity {ctx.equity:.2f} x {limits.max_position_pct} buys no share at {last_price}"
            )
            return self._refuse(signal, ctx, POSITION_SIZE_ZERO, detail)
        with localcontext(prec=EXACT_DIGITS):
            cost = qty * exact(last_price)
            cap = exact(ctx.equity) * exact(limits.max_leverage)
            over = exact(ctx.exposure) + cost > cap
        if over:
            detail = (
                f"exposure {ctx.exposure:.2f} + {qty} x {last_price} exceeds equity "
                f"{ctx.equity:.2f} x max_leverage {limits.max_leverage}"
            )
            return self._refuse(signal, ctx, MAX_LEVERAGE, detail)
        # Valued as the exchange values a market buy (above the price), or it would refuse it.
        value = market_order_ticks(to_ticks(last_price))
        affordable = affordable_qty(round(ctx.buying_power * 100), value)
        if affordable <= 0:
            detail = (
                f"buying power {ctx.buying_power:.2f} buys no share "
                f"at {value / TICKS_PER_DOLLAR} (last {last_price})"
            )
            return self._refuse(signal, ctx, INSUFFICIENT_BUYING_POWER, detail)
        return Approval(signal.symbol, Side.BUY, min(qty, affordable))

    def _loss_detail(self, ctx: RiskContext) -> str:
        return (
            f"equity {ctx.equity:.2f} vs session start {ctx.last_equity:.2f}, "
            f"limit {self.limits.max_daily_loss_pct:.2%}; exits only"
        )

    @staticmethod
    def _refuse(signal: Signal, ctx: RiskContext, reason: str, detail: str) -> Refusal:
        return Refusal(
            symbol=signal.symbol, side=signal.side, reason=reason, detail=detail, timestamp=ctx.now
        )
