"""What the bot owns: the one rule that says which positions and orders are the bot's.

An Alpaca account may hold more than the bot put there: shares bought by hand, by another tool,
or before the bot was installed, and orders it never sent. The bot closes, sells and cancels only
its own, and every place that does (an exit, the graceful shutdown, ``fleece flatten``) asks this
module:

* **Own shares** of a symbol are what the bot's own fills add up to (its buys minus its sells,
  in time order, never below zero: a sell never makes the bot own a short), and never more than
  the account holds long at that moment. So a position that shrank outside the bot is closed
  only as far as it still exists, and shares the bot did not buy are never sold by it.
* **Own orders** are those whose ``client_order_id`` is one of the bot's intents.

:class:`Portfolio` keeps the bot's own shares as it trades (the trader holds one).

:func:`closing_plan` turns a shutdown or flatten mode into the orders to cancel and the
positions to close:

* ``own`` (the default): cancel the bot's open orders, close the bot's own shares;
* ``all``: cancel every open order, close every position (a long one sold, a short one bought);
* ``none``: close nothing (own orders are still cancelled when cancelling is asked for).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from fleece.accounting import closing_side, signed_qty
from fleece.models import BrokerOrder, Fill, Side


class CloseMode(StrEnum):
    """What a shutdown (or ``fleece flatten``) closes."""

    OWN = "own"
    ALL = "all"
    NONE = "none"


def own_after(held: int, fill: Fill) -> int:
    """Shares of ``fill.symbol`` the bot owns after one of its own fills, from ``held``: a buy
    adds, a sell takes away, never below zero (a sell never makes the bot own a short)."""
    return max(0, held + signed_qty(fill.side, fill.qty))


def own_net(fills: Iterable[Fill]) -> dict[str, int]:
    """Shares the bot's own ``fills`` leave it with per symbol (:func:`own_after`, in time
    order)."""
    held: dict[str, int] = {}
    for fill in sorted(fills, key=lambda f: f.timestamp):
        held[fill.symbol] = own_after(held.get(fill.symbol, 0), fill)
    return {symbol: qty for symbol, qty in held.items() if qty > 0}


def owned_qty(own: int, broker_qty: int) -> int:
    """Shares the bot may close: its own, and no more than the account holds long now."""
    return max(0, min(own, broker_qty))


def owned(own: Mapping[str, int], broker: Mapping[str, int]) -> dict[str, int]:
    """:func:`owned_qty` for every symbol the bot owns shares of (zeros left out)."""
    kept = {symbol: owned_qty(qty, broker.get(symbol, 0)) for symbol, qty in own.items()}
    return {symbol: qty for symbol, qty in kept.items() if qty > 0}


@dataclass
class Portfolio:
    """Shares the bot owns per symbol: its own fills, capped by the broker's positions.

    Own shares as this module's rules count them. Shares on the account that the bot did not
    buy are not here, so the strategy, the risk limits and the exits consider the bot's
    positions only.
    """

    qty: dict[str, int] = field(default_factory=dict)

    def apply_fill(self, fill: Fill) -> None:
        """Move the holding by one of the bot's fills (:func:`fleece.ownership.own_after`)."""
        held = own_after(self.qty.get(fill.symbol, 0), fill)
        if held:
            self.qty[fill.symbol] = held
        else:
            self.qty.pop(fill.symbol, None)

    def replace(self, positions: Mapping[str, int]) -> None:
        """Adopt owned quantities (see :func:`fleece.ownership.owned`)."""
        self.qty = {s: q for s, q in positions.items() if q > 0}

    def cap(self, broker: Mapping[str, int], in_flight: Collection[str]) -> dict[str, int]:
        """Shrink what the bot owns to what the account still holds (sold outside the bot).

        Symbols with an order of the bot's in flight are left alone: their fills may not be
        recorded yet. Returns the symbols changed, with their new quantity.
        """
        changed = {}
        for symbol, own in list(self.qty.items()):
            if symbol in in_flight:
                continue
            now = owned_qty(own, broker.get(symbol, 0))
            if now != own:
                changed[symbol] = now
        for symbol, now in changed.items():
            if now:
                self.qty[symbol] = now
            else:
                self.qty.pop(symbol, None)
        return changed


@dataclass(frozen=True, slots=True)
class Close:
    """One position to close with a market order."""

    symbol: str
    side: Side
    qty: int


@dataclass(frozen=True, slots=True)
class ClosingPlan:
    """What a shutdown or flatten sends: cancels first, then the closing orders."""

    cancel: tuple[str, ...]  # broker order ids
    close: tuple[Close, ...]


def closing_plan(
    mode: CloseMode,
    *,
    own: Mapping[str, int],
    positions: Mapping[str, int],
    open_orders: Sequence[BrokerOrder],
    is_ours: Callable[[str], bool],
    cancel_orders: bool = True,
) -> ClosingPlan:
    """The orders to cancel and the positions to close in ``mode``.

    Args:
        mode: ``own``, ``all`` or ``none``.
        own: the bot's own shares per symbol (see :func:`own_net`).
        positions: the account's positions now, signed (short positions negative).
        open_orders: the account's open orders now.
        is_ours: whether a client_order_id is one of the bot's intents.
        cancel_orders: cancel open orders first (only the bot's unless ``mode`` is ``all``).
    """
    everyone = mode is CloseMode.ALL
    cancel = tuple(
        o.id for o in open_orders if cancel_orders and (everyone or is_ours(o.client_order_id))
    )
    if mode is CloseMode.NONE:
        return ClosingPlan(cancel, ())
    if everyone:
        closes = [
            Close(symbol, closing_side(qty), abs(qty))
            for symbol, qty in sorted(positions.items())
            if qty != 0
        ]
    else:
        closes = [
            Close(symbol, Side.SELL, qty) for symbol, qty in sorted(owned(own, positions).items())
        ]
    return ClosingPlan(cancel, tuple(closes))
