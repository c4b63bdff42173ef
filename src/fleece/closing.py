"""Closing out: cancel open orders and close positions through the normal order path.

One routine for the graceful shutdown (:meth:`fleece.runtime.Bot._wind_down`) and for
``fleece flatten`` (and its Telegram and dashboard twins), so both close exactly the same
positions by the same rules: closing orders are intents with deterministic client_order_ids
(``<tag>-<symbol>-sell-<minute>``), written before they are sent, whose fills land in ``trades``.

Rules: HALTED (kill switch, ``fleece halt``, circuit breaker) sends no order at all, closing ones
included (what happens to the positions is the operator's call); with the market closed nothing is
sent either (a market order would wait for the next session).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from fleece.broker import Broker
from fleece.clock import Clock
from fleece.models import TradingState
from fleece.trader import Trader

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class CloseOutcome:
    """What one close-out did.

    Attributes:
        cancelled: open orders asked to cancel.
        positions: positions found at the broker.
        sent: closing orders sent.
        kept: why positions were kept open ("" when none were).
        closing: (symbol, qty) of every position a closing order was sent for.
    """

    cancelled: int
    positions: int
    sent: int
    kept: str
    closing: tuple[tuple[str, int], ...] = ()

    def line(self) -> str:
        """One line for a person (the CLI, Telegram, the dashboard)."""
        if self.kept:
            return f"{self.kept}: {self.positions} positions kept open, no closing order sent"
        if not self.positions:
            return f"no open positions (open orders cancelled: {self.cancelled})"
        shown = ", ".join(f"{symbol} {qty}" for symbol, qty in self.closing)
        return (
            f"{self.sent} closing orders sent for {self.positions} positions ({shown}); "
            f"open orders cancelled: {self.cancelled}"
        )


async def close_out(
    trader: Trader,
    broker: Broker,
    clock: Clock,
    market_open: bool,
    *,
    cancel_orders: bool,
    close_positions: bool,
    tag: str,
    refresh: bool = True,
) -> CloseOutcome:
    """Cancel open orders and/or close positions at market; returns what was done.

    ``refresh`` reads the orders' state first (left out when the store cannot record it).
    """
    cancelled = 0
    if cancel_orders:
        cancelled = await broker.cancel_all_orders()
        log.info("%s cancelled open orders count=%d", tag, cancelled)
    if refresh:
        await trader.orders.refresh()
    if not close_positions:
        return CloseOutcome(cancelled, 0, 0, "")
    positions = await broker.positions()
    state, why = trader.update_state(clock.now())
    if positions and state is TradingState.HALTED:
        log.warning(
            "trading HALTED (%s): %d positions kept open, no closing orders sent",
            why,
            len(positions),
        )
        return CloseOutcome(cancelled, len(positions), 0, f"trading HALTED ({why})")
    if positions and not market_open:
        log.warning(
            "market closed: %d positions kept open (a market order would wait for the "
            "next session)",
            len(positions),
        )
        return CloseOutcome(cancelled, len(positions), 0, "market closed")
    closing = tuple((p.symbol, p.qty) for p in positions.values())
    sent = await trader.orders.submit_exits(closing, tag) if closing else 0
    if closing:
        log.info("%s closing positions orders=%d", tag, sent)
    return CloseOutcome(cancelled, len(positions), sent, "", closing)
