"""Protective exits: a stop-loss, a take-profit and a trailing stop for each of the bot's positions.

Off by default. ``risk.stop_loss_pct``, ``risk.take_profit_pct`` and ``risk.trailing_stop_pct``
(fractions of the entry price) switch them on; ``orders.protective`` says who watches them:

- ``broker`` (the default): **held at Alpaca**, so they protect the position while the bot is
  down. The entry stays the day market order it always is; once it has filled, the bot sends one
  good-till-cancelled exit for the position: an OCO order (take-profit limit and stop-loss stop,
  one cancels the other) when both are set, a stop or a limit order when one is, a trailing stop
  (``trail_percent``) for ``trailing_stop_pct``. Why not a bracket: Alpaca takes brackets with
  market entries, but one time in force binds the entry and its legs: ``day`` legs expire at the
  close (a position held overnight, when the bot may well be down, would lose its stop), and a
  ``gtc`` market entry left unfilled would wait into the next session (the bot's entries fill in
  the session they were decided in, or not at all); and a trailing stop cannot be a bracket leg.
  The cost is one poll (a minute) between the entry's fill and its stop; a crash in that minute
  is repaired at the restart (the sweep :meth:`fleece.trader.Trader.protect` runs then too).
  A trailing stop cannot be combined with the other two here (a position holds one stop:
  Alpaca's OCO legs cannot trail).
- ``bot``: **watched by the bot**: at each grid minute of a held symbol it compares the minute's
  low with the stop (and the trailing stop) and its high with the take-profit, and when one is
  hit sends a market exit, which fills at the symbol's next bar's open like every exit. When
  one minute reaches both, the stop wins (the bar does not say which came first).

Levels come from the entry's average price (:attr:`fleece.accounting.Position.avg_entry`, as
Alpaca's ``avg_entry_price``: unchanged when part of the position is sold): stop
``entry x (1 - stop_loss_pct)``, take-profit ``entry x (1 + take_profit_pct)``, rounded half up
to the cent
(:func:`fleece.prices.round_price`); the trailing stop trails the high-water mark by
``trailing_stop_pct`` (Alpaca's ``trail_percent`` is that x 100), from the entry price, by the
exchange's own rule (:func:`fleece.prices.trailing_stop_price`).

Intents: each protective order is an intent with a deterministic client_order_id,
``<kind>-<n>-<entry's client_order_id>`` (kinds ``protect-stop``, ``protect-tp``,
``protect-trail``, ``protect-oco``; ``n`` counts re-arms of the same entry), written before it is
sent. An OCO is one order at Alpaca; its stop leg has no client_order_id of ours and is read
through its primary order. A bot-watched exit is an ordinary market intent whose strategy is the
reason (``stop_loss``, ``take_profit``, ``trailing_stop``). :func:`fill_reason` tells which
fills were stop-outs and take-profits.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Literal

from fleece.accounting import FLAT, Position, book
from fleece.intents import IntentRecord, broker_final
from fleece.models import MAX_CLIENT_ORDER_ID, Bar, BrokerOrder, ExitOrder, Fill, Side, to_ticks
from fleece.prices import average_price, round_price, trailing_stop_price

PROTECT_PREFIX = "protect-"
KIND_STOP = "protect-stop"
KIND_TAKE_PROFIT = "protect-tp"
KIND_TRAIL = "protect-trail"
KIND_OCO = "protect-oco"
Mode = Literal["broker", "bot"]


class ExitReason(StrEnum):
    """Why a protective exit sold a position."""

    STOP_LOSS = "stop_loss"
    TAKE_PROFIT = "take_profit"
    TRAILING_STOP = "trailing_stop"

    @property
    def stop_out(self) -> bool:
        """True for the stops (fixed or trailing), False for a take-profit."""
        return self is not ExitReason.TAKE_PROFIT


_KIND_REASONS = {
    KIND_STOP: ExitReason.STOP_LOSS,
    KIND_TAKE_PROFIT: ExitReason.TAKE_PROFIT,
    KIND_TRAIL: ExitReason.TRAILING_STOP,
}


@dataclass(frozen=True, slots=True)
class Protection:
    """The configured protective exits (fractions of the entry price; None: not set)."""

    stop_loss_pct: float | None = None
    take_profit_pct: float | None = None
    trailing_stop_pct: float | None = None
    mode: Mode = "broker"

    @property
    def on(self) -> bool:
        """True when any exit is set."""
        return any(
            p is not None
            for p in (self.stop_loss_pct, self.take_profit_pct, self.trailing_stop_pct)
        )

    @property
    def held_at_broker(self) -> bool:
        """Protective orders rest at the broker (``orders.protective: broker``)."""
        return self.on and self.mode == "broker"

    @property
    def watched(self) -> bool:
        """The bot watches each minute and sends market exits (``orders.protective: bot``)."""
        return self.on and self.mode == "bot"


OFF = Protection()


def _level(entry: float, fraction: float) -> float:
    return float(round_price(Decimal(str(entry)) * (1 + Decimal(str(fraction)))))


def stop_level(protection: Protection, entry: float) -> float | None:
    """The stop-loss price for a position bought at ``entry`` (None when not set)."""
    pct = protection.stop_loss_pct
    return _level(entry, -pct) if pct is not None else None


def take_profit_level(protection: Protection, entry: float) -> float | None:
    """The take-profit price for a position bought at ``entry`` (None when not set)."""
    pct = protection.take_profit_pct
    return _level(entry, pct) if pct is not None else None


def trail_percent(protection: Protection) -> float | None:
    """``trailing_stop_pct`` as Alpaca's ``trail_percent`` (0.02 is 2)."""
    pct = protection.trailing_stop_pct
    return float(Decimal(str(pct)) * 100) if pct is not None else None


def trailing_stop(protection: Protection, mark: float) -> float | None:
    """The trailing stop below the high-water mark ``mark``, by the exchange's own rule."""
    percent = trail_percent(protection)
    return trailing_stop_price(Side.SELL, mark, None, percent) if percent is not None else None


def exit_order(protection: Protection, entry: float) -> tuple[str, ExitOrder]:
    """The protective order (its intent kind and shape) for a long position bought at ``entry``."""
    stop, take_profit = stop_level(protection, entry), take_profit_level(protection, entry)
    percent = trail_percent(protection)
    if percent is not None:
        return KIND_TRAIL, ExitOrder("trailing_stop", trail_percent=percent)
    if stop is not None and take_profit is not None:
        return KIND_OCO, ExitOrder("limit", "oco", stop_price=stop, limit_price=take_profit)
    if stop is not None:
        return KIND_STOP, ExitOrder("stop", stop_price=stop)
    assert take_profit is not None, "exit_order needs protection switched on"
    return KIND_TAKE_PROFIT, ExitOrder("limit", limit_price=take_profit)


def is_protective(strategy: str) -> bool:
    """True for the intents of orders held at the broker (``protect-...``)."""
    return strategy.startswith(PROTECT_PREFIX)


def fill_reason(
    strategy: str, intent_order_id: str | None, fill_order_id: str
) -> ExitReason | None:
    """Why a fill of an intent of ``strategy`` sold: None for any fill that is no protective exit.

    An OCO's take-profit is its primary order (the intent's broker order), its stop the leg.
    """
    if strategy == KIND_OCO:
        return ExitReason.TAKE_PROFIT if fill_order_id == intent_order_id else ExitReason.STOP_LOSS
    reason = _KIND_REASONS.get(strategy)
    if reason is not None:
        return reason
    try:
        return ExitReason(strategy)  # a bot-watched exit
    except ValueError:
        return None


@dataclass(slots=True)
class Entry:
    """The entry behind one position: its intent, and the shares still held at average cost."""

    client_order_id: str
    #: The bot's shares of the symbol, by the one accounting rule (:mod:`fleece.accounting`).
    position: Position
    mark: float  # the high-water mark of a bot-watched trailing stop

    @property
    def qty(self) -> int:
        """Shares held."""
        return self.position.qty

    @property
    def price(self) -> float:
        """The average entry price, weighted by shares, as Alpaca's ``avg_entry_price``."""
        return float(self.position.avg_entry)

    @property
    def since(self) -> datetime:
        """The first fill of the entry."""
        opened = self.position.opened_at
        assert opened is not None, "an entry holds shares"
        return opened


@dataclass
class Protector:
    """The positions' entries and, for ``bot``, the minute-by-minute watch of their exits."""

    protection: Protection = OFF
    entries: dict[str, Entry] = field(default_factory=dict)

    def on_fill(self, fill: Fill) -> None:
        """Keep each position's entry current with the bot's fills (long only: a sale beyond
        the shares held leaves none, as the bot's ownership reads it). Without protective exits
        no entry is ever asked for, so none is kept (a backtest books thousands of fills)."""
        if not self.protection.on:
            return
        entry = self.entries.get(fill.symbol)
        held = entry.position if entry is not None else FLAT
        done = book(held, fill.side, fill.qty, to_ticks(fill.price), fill.timestamp, shorts=False)
        if done.after.qty <= 0:
            self.entries.pop(fill.symbol, None)
        elif entry is None:
            self.entries[fill.symbol] = Entry(fill.client_order_id, done.after, fill.price)
        else:
            entry.position = done.after

    def seed(self, fills: Iterable[Fill]) -> None:
        """Rebuild the entries from the bot's recorded fills (at start-up)."""
        self.entries.clear()
        for fill in sorted(fills, key=lambda f: f.timestamp):
            self.on_fill(fill)

    def remark(self, symbol: str, minutes: Iterable[Bar]) -> None:
        """Raise a bot-watched trailing stop's mark by the grid minutes it watched already (at a
        restart: the regular bars fed since the entry), so a restart does not lower the stop."""
        entry = self.entries.get(symbol)
        if entry is None:
            return
        for bar in minutes:
            if bar.timestamp >= entry.since and to_ticks(bar.high) > to_ticks(entry.mark):
                entry.mark = bar.high

    def order_for(self, symbol: str) -> tuple[Entry, str, ExitOrder] | None:
        """The protective order a held ``symbol`` needs (None without a known entry)."""
        entry = self.entries.get(symbol)
        if entry is None or entry.qty <= 0:
            return None
        kind, shape = exit_order(self.protection, entry.price)
        return entry, kind, shape

    def watch(self, bar: Bar) -> ExitReason | None:
        """``bot`` mode: the exit ``bar`` (a grid minute of a held symbol) hits, if any.

        The stop first, then the trailing stop (as it stood before this minute), then the
        take-profit; then the minute's high raises the trailing stop's mark.
        """
        entry = self.entries.get(bar.symbol)
        if entry is None or entry.qty <= 0 or not self.protection.watched:
            return None
        low, high = to_ticks(bar.low), to_ticks(bar.high)
        stop = stop_level(self.protection, entry.price)
        trail = trailing_stop(self.protection, entry.mark)
        take_profit = take_profit_level(self.protection, entry.price)
        if to_ticks(bar.high) > to_ticks(entry.mark):
            entry.mark = bar.high
        if stop is not None and low <= to_ticks(stop):
            return ExitReason.STOP_LOSS
        if trail is not None and low <= to_ticks(trail):
            return ExitReason.TRAILING_STOP
        if take_profit is not None and high >= to_ticks(take_profit):
            return ExitReason.TAKE_PROFIT
        return None


def protective_cid(kind: str, entry_cid: str, n: int) -> str:
    """The client_order_id of the ``n``-th protective order of ``kind`` for one entry.

    Deterministic (the same entry and re-arm count give the same id, so a restart finds what it
    sent before), at most 128 characters (a long entry id is shortened by a digest).
    """
    cid = f"{kind}-{n}-{entry_cid}"
    if len(cid) <= MAX_CLIENT_ORDER_ID:
        return cid
    digest = hashlib.sha256(entry_cid.encode()).hexdigest()[:24]
    return f"{kind}-{n}-{digest}"


def as_one(order: BrokerOrder) -> BrokerOrder:
    """An order with legs (an OCO) read as one order: what all of it filled, at what average,
    and whether any of it still works. Other orders come back as they are."""
    if not order.legs:
        return order
    members = (order, *order.legs)
    filled = sum(m.filled_qty for m in members)
    priced = [(m.filled_qty, m.filled_avg_price) for m in members if m.filled_qty]
    executed = [(qty, price) for qty, price in priced if price is not None]
    average = average_price(executed) if executed else None
    working = [m for m in members if not broker_final(m.status)]
    if filled >= order.qty:
        status = "filled"
    elif working:
        status = "partially_filled" if filled else working[0].status
    else:
        status = order.status
    done = [m.filled_at for m in members if m.filled_at is not None]
    return replace(
        order,
        filled_qty=filled,
        filled_avg_price=average,
        status=status,
        filled_at=max(done) if done and filled >= order.qty else None,
        updated_at=max(m.updated_at for m in members),
    )


def filled_by(order: BrokerOrder) -> str:
    """The id of the order (or leg) whose executions a fill of ``order`` reports: an OCO's stop
    leg when it is the one that filled, else the order itself."""
    return next((leg.id for leg in order.legs if leg.filled_qty), order.id)


def fill_reasons(fills: Iterable[Fill], intents: Iterable[IntentRecord]) -> dict[Fill, ExitReason]:
    """The protective exits among ``fills``, with their reason (other fills are left out);
    ``intents`` are a store's or a backtest's records."""
    by_cid = {i.client_order_id: i for i in intents}
    found: dict[Fill, ExitReason] = {}
    for fill in fills:
        intent = by_cid.get(fill.client_order_id)
        if intent is None or fill.side is not Side.SELL:
            continue
        reason = fill_reason(intent.strategy, intent.broker_order_id, fill.broker_order_id)
        if reason is not None:
            found[fill] = reason
    return found


def exits_line(reasons: Iterable[ExitReason]) -> str:
    """Protective exits counted for a person: ``2 stop-outs (stop_loss 1, trailing_stop 1),
    1 take-profit`` (``none`` when there were none)."""
    counted = Counter(reasons)
    stops = {r.value: n for r, n in sorted(counted.items()) if r.stop_out}
    taken = counted[ExitReason.TAKE_PROFIT]
    if not stops and not taken:
        return "none"
    total = sum(stops.values())
    detail = ", ".join(f"{name} {n}" for name, n in stops.items())
    parts = [f"{total} stop-out{'s' * (total != 1)}" + (f" ({detail})" if stops else "")]
    parts.append(f"{taken} take-profit{'s' * (taken != 1)}")
    return ", ".join(parts)
