"""Closing out: cancel open orders and close positions through the normal order path.

One routine for the graceful shutdown (:func:`fleece.runtime_shutdown.shut_down`) and for
``fleece flatten`` (:func:`flatten`, and its Telegram and dashboard twins), so both close by the
same rules: what is the bot's is :mod:`fleece.ownership`'s answer (``shutdown.close_positions``:
``own`` by default; flatten always closes the bot's own), and closing orders are intents with
deterministic client_order_ids (``<tag>-<symbol>-sell-<minute>``), written before they are sent,
whose fills land in ``trades``.

Rules: HALTED (kill switch, ``fleece halt``, circuit breaker) sends no order at all, closing ones
included (what happens to the positions is the operator's call); with the market closed nothing is
sent either (a market order would wait for the next session).

Protective orders held at the broker (:mod:`fleece.protection`): the positions a close-out leaves
open keep theirs (protection that outlives the bot is the point; ``keep_protective=False``
cancels them with the rest), said in one log line; a position it closes has its protective
order cancelled first (Alpaca holds the shares for it, and would refuse the closing order).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from fleece.errors import BrokerError
from fleece.intents import IntentRecord
from fleece.models import BrokerOrder, Position, TradingState
from fleece.notify.messages import state_text
from fleece.ownership import CloseMode, closing_plan
from fleece.protection import is_protective
from fleece.trader import Trader

log = logging.getLogger(__name__)


class IntentLookup(Protocol):
    """Whether a client_order_id is one of the bot's intents (the store)."""

    def get_intent(self, cid: str) -> IntentRecord | None: ...


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


class CloseBroker(Protocol):
    """The part of :class:`~fleece.broker.Broker` a close-out uses."""

    async def orders(
        self, status: str = "open", after: datetime | None = None
    ) -> list[BrokerOrder]: ...

    async def cancel_order(self, order_id: str) -> None: ...

    async def positions(self) -> dict[str, Position]: ...


async def close_out(
    trader: Trader,
    broker: CloseBroker,
    store: IntentLookup,
    market_open: bool,
    *,
    mode: CloseMode,
    cancel_orders: bool,
    tag: str,
    refresh: bool = True,
    keep_protective: bool = True,
) -> CloseOutcome:
    """Cancel and close what ``mode`` says (:func:`fleece.ownership.closing_plan`).

    1. Cancel the open orders the plan names (the bot's own; every one with ``all``), the
       protective orders of positions left open excepted (``keep_protective``).
    2. Read the orders' answers (``refresh``; left out when the store cannot record them), so
       fills up to now are recorded and what the bot owns is current.
    3. Close the positions the plan names with market orders, through intents, each one's
       protective order cancelled first; not while HALTED, not while the market is closed. A
       position the bot does not own is left as it is, said in one log line.
    """

    def is_ours(cid: str) -> bool:
        return store.get_intent(cid) is not None

    def protective(order: BrokerOrder) -> bool:
        record = store.get_intent(order.client_order_id)
        return record is not None and is_protective(record.strategy)

    state, why = trader.update_state(trader.clock.now())
    closing_now = mode is not CloseMode.NONE and market_open and state is not TradingState.HALTED
    keep = keep_protective and not closing_now
    cancelled = 0
    if cancel_orders or keep:
        working = await broker.orders("open")
        keeping = [o for o in working if keep and protective(o)]
        if keeping:
            log.info(
                "%s keeps %d protective orders at the broker for the positions left open (%s): "
                "they protect them while the bot is down",
                tag,
                len(keeping),
                ", ".join(sorted({o.symbol for o in keeping})),
            )
        working = [o for o in working if o not in keeping]
        plan = closing_plan(
            mode, own={}, positions={}, open_orders=working, is_ours=is_ours, cancel_orders=True
        )
        for order_id in plan.cancel if cancel_orders else ():
            try:
                await broker.cancel_order(order_id)
            except BrokerError as exc:  # already final: nothing to cancel
                log.info("%s cancel order=%s: %s", tag, order_id, exc)
        if cancel_orders:
            cancelled = len(plan.cancel)
            others = len(working) - cancelled
            left = f" (left {others} the bot did not send)" if others else ""
            log.info("%s cancelled open orders count=%d%s", tag, cancelled, left)
    if refresh:
        await trader.orders.refresh()
    if mode is CloseMode.NONE:
        return CloseOutcome(cancelled, 0, 0, "")
    if closing_now:
        for symbol in sorted(trader.orders.protected_symbols()):
            await trader.orders.cancels.cancel_protection(symbol)  # its fill, if first, is recorded
    held = {symbol: p.qty for symbol, p in (await broker.positions()).items() if p.qty}
    plan = closing_plan(
        mode, own=trader.portfolio.qty, positions=held, open_orders=[], is_ours=is_ours
    )
    closing = tuple((c.symbol, c.qty) for c in plan.close)
    kept = {symbol: qty for symbol, qty in held.items() if symbol not in dict(closing)}
    if kept and mode is CloseMode.OWN:
        shown = " ".join(f"{symbol}={qty}" for symbol, qty in sorted(kept.items()))
        log.info("%s leaves positions the bot did not open as they are: %s", tag, shown)
    if closing and state is TradingState.HALTED:
        halted = f"trading {state_text(state, why)}"
        log.warning("%s: %d positions kept open, no closing orders sent", halted, len(closing))
        return CloseOutcome(cancelled, len(closing), 0, halted)
    if closing and not market_open:
        log.warning(
            "market closed: %d positions kept open (a market order would wait for the "
            "next session)",
            len(closing),
        )
        return CloseOutcome(cancelled, len(closing), 0, "market closed")
    sent = await trader.orders.submit_closes(plan.close, tag) if closing else 0
    if closing:
        log.info("%s closing positions orders=%d mode=%s", tag, sent, mode.value)
    return CloseOutcome(cancelled, len(closing), sent, "", closing)


async def flatten(
    trader: Trader, broker: CloseBroker, store: IntentLookup, market_open: bool
) -> CloseOutcome:
    """Close the bot's positions now (``fleece flatten``): the shutdown's close-out."""
    return await close_out(
        trader,
        broker,
        store,
        market_open,
        mode=CloseMode.OWN,  # flatten closes the bot's own positions, whatever shutdown does
        cancel_orders=True,
        tag="flatten",
    )
