"""The graceful shutdown's work with the broker: cancel, close, wait for the fills.

What is cancelled and closed is :func:`fleece.ownership.closing_plan`'s answer for
``shutdown.close_positions`` (``own`` by default: the bot's own orders and shares only; ``all``:
everything on the account; ``none``: no position) and ``shutdown.cancel_open_orders``:

1. cancel the open orders the plan names (the bot's, or every one with ``all``);
2. read the broker's answers, so that fills up to now are recorded and what the bot owns is
   current;
3. close the positions the plan names with market orders, through intents (their fills land in
   ``trades``); not while the market is closed (a market order would wait for the next session)
   and not while HALTED (no order at all, closing ones included: the operator's call);
4. wait for the closing fills and the cancels to be confirmed, within the grace period the
   runtime allows.

A position or order the bot does not own is left as it is and said so in one log line.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Protocol

from fleece.errors import BrokerError
from fleece.models import BrokerOrder, Position, TradingState
from fleece.ownership import CloseMode, closing_plan
from fleece.state_store import StateStore
from fleece.trader import Trader

log = logging.getLogger(__name__)


class ShutdownBroker(Protocol):
    """The part of :class:`~fleece.broker.Broker` the shutdown uses."""

    async def orders(
        self, status: str = "open", after: datetime | None = None
    ) -> list[BrokerOrder]: ...

    async def cancel_order(self, order_id: str) -> None: ...

    async def positions(self) -> dict[str, Position]: ...


async def wind_down(
    *,
    broker: ShutdownBroker,
    trader: Trader,
    store: StateStore,
    mode: CloseMode,
    cancel_orders: bool,
    market_open: bool,
    nap: Callable[[], Awaitable[None]],
) -> None:
    """Cancel and close what ``mode`` says, then wait for the fills (see the module docstring)."""

    def is_ours(cid: str) -> bool:
        return store.get_intent(cid) is not None

    if cancel_orders:
        working = await broker.orders("open")
        plan = closing_plan(
            mode, own={}, positions={}, open_orders=working, is_ours=is_ours, cancel_orders=True
        )
        for order_id in plan.cancel:
            try:
                await broker.cancel_order(order_id)
            except BrokerError as exc:  # already final: nothing to cancel
                log.info("shutdown cancel order=%s: %s", order_id, exc)
        others = len(working) - len(plan.cancel)
        log.info(
            "shutdown cancelled open orders count=%d%s",
            len(plan.cancel),
            f" (left {others} the bot did not send)" if others else "",
        )
    await trader.orders.refresh()
    if mode is not CloseMode.NONE:
        await _close(broker, trader, mode, market_open, is_ours)
    # Wait for the closing fills (and cancel confirmations) so they land in the store before we
    # exit; orders left working on purpose, or that cannot fill while the market is closed, are
    # not worth the grace period.
    worth_waiting = market_open and (cancel_orders or mode is not CloseMode.NONE)
    while worth_waiting and store.unfinished_intents():
        await trader.orders.refresh()
        if not store.unfinished_intents():
            break
        await nap()


async def _close(
    broker: ShutdownBroker,
    trader: Trader,
    mode: CloseMode,
    market_open: bool,
    is_ours: Callable[[str], bool],
) -> None:
    held = {symbol: p.qty for symbol, p in (await broker.positions()).items() if p.qty}
    plan = closing_plan(
        mode, own=trader.portfolio.qty, positions=held, open_orders=[], is_ours=is_ours
    )
    closing = {c.symbol for c in plan.close}
    kept = {symbol: qty for symbol, qty in held.items() if symbol not in closing}
    if kept and mode is CloseMode.OWN:
        shown = " ".join(f"{symbol}={qty}" for symbol, qty in sorted(kept.items()))
        log.info("shutdown leaves positions the bot did not open as they are: %s", shown)
    state, why = trader.update_state(trader.clock.now())
    if plan.close and state is TradingState.HALTED:
        log.warning(
            "trading HALTED (%s): %d positions kept open, no closing orders sent",
            why,
            len(plan.close),
        )
    elif plan.close and not market_open:
        log.warning(
            "market closed: %d positions kept open (a market order would wait for the next "
            "session)",
            len(plan.close),
        )
    elif plan.close:
        sent = await trader.orders.submit_closes(plan.close, "shutdown")
        log.info("shutdown closing positions orders=%d mode=%s", sent, mode.value)
