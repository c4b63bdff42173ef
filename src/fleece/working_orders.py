"""The order manager's book of working orders: its unfinished intents, kept in memory.

The decisions ask it at every bar (is an order of ours working on this symbol, a buy, a sell,
a protective one?), so it answers from memory and never queries the store. The order manager
(:class:`~fleece.order_manager.OrderManager`, which is a :class:`WorkingOrders`) loads it from
the store once and updates it with every status change it makes.

Protective orders are in the book but not pending for the decisions (see
:mod:`fleece.order_manager`).
"""

from __future__ import annotations

from dataclasses import dataclass

from fleece.intents import IntentStatus, is_open
from fleece.models import Side


@dataclass(slots=True)
class Working:
    """An unfinished intent as the order manager keeps it in memory."""

    symbol: str
    side: Side
    qty: int
    filled: int
    protective: bool = False  # held at the broker on purpose: not pending for decisions


class WorkingOrders:
    """Unfinished intents by client_order_id, and what the decisions ask of them."""

    def __init__(self) -> None:
        # Unfinished intents by client_order_id, kept in memory so the per-bar path never
        # queries the store; loaded once, then updated with every status change we make.
        self._open: dict[str, Working] = {}

    def _pending(self) -> list[Working]:
        return [w for w in self._open.values() if not w.protective]

    def pending_symbols(self) -> frozenset[str]:
        """Symbols with an unfinished (not dry-run, not protective) intent."""
        return frozenset(w.symbol for w in self._pending())

    def pending_buys(self) -> frozenset[str]:
        """Symbols with an unfinished buy intent (treated as held by the strategy)."""
        return frozenset(w.symbol for w in self._pending() if w.side is Side.BUY)

    def pending_buy_shares(self) -> dict[str, int]:
        """Shares the bot's unfinished buys may still add, per symbol (for the exposure cap)."""
        shares: dict[str, int] = {}
        for w in self._pending():
            if w.side is Side.BUY:
                shares[w.symbol] = shares.get(w.symbol, 0) + max(0, w.qty - w.filled)
        return shares

    def pending_sells(self) -> frozenset[str]:
        """Symbols with an unfinished sell intent (protective orders left out)."""
        return frozenset(w.symbol for w in self._pending() if w.side is Side.SELL)

    def protected_symbols(self) -> frozenset[str]:
        """Symbols with a protective order working at the broker."""
        return frozenset(w.symbol for w in self._open.values() if w.protective)

    @property
    def has_open(self) -> bool:
        """True while any intent awaits the broker (protective ones included)."""
        return bool(self._open)

    @property
    def awaiting(self) -> bool:
        """True while an intent other than a protective one awaits the broker."""
        return bool(self._pending())

    def _track(self, cid: str, status: IntentStatus) -> None:
        if not is_open(status):
            self._open.pop(cid, None)
