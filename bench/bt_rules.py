"""The rules of the cross-check written the backtrader way: the bot's poll, risk and housekeeping
(:class:`GridRules`), and the two strategies on top of it.

:class:`GridRules` codes the risk rules (sizing at 10% of equity, 20 orders a day, 10 positions,
the 5% daily loss latch, buying power net of open buys, open orders cancelled after 15 minutes,
an exit signal cancelling the bot's own buy still waiting for a real bar) in the order
alpaca-fleece's risk manager, trader and housekeeping apply them, with exact arithmetic where
alpaca-fleece is exact; a strategy only says, at each grid minute, whether it would enter if
flat and exit if holding (:meth:`GridRules.wants`):

* :class:`SmaCrossoverRules`: backtrader's ``SumN`` over the closes in ticks (sums of integers
  are exact in float64; averages compared cross-multiplied), enter when fast crosses above
  medium while medium > slow, exit when fast crosses below;
* :class:`DonchianRules`: backtrader's ``Highest``/``Lowest`` over the highs and lows in ticks,
  enter when the close is strictly above the highest high of the previous ``entry`` minutes,
  exit when it is strictly below the lowest low of the previous ``exit`` minutes, from the
  minute ``max(entry, exit)`` minutes precede (donchian_breakout's documented rule).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from fractions import Fraction

import backtrader as bt
import numpy as np
from common import (
    CASH,
    DONCHIAN_ENTRY,
    DONCHIAN_EXIT,
    FAST,
    MAX_CONCURRENT_POSITIONS,
    MAX_DAILY_LOSS_PCT,
    MAX_POSITION_PCT,
    MAX_TRADES_PER_DAY,
    MEDIUM,
    SLOW,
    STALE_ORDER_MINUTES,
    TICKS,
    Trade,
)

from fleece.calendar import NEW_YORK

MINUTE = 60
# Housekeeping cancels an order still open at a poll more than this long after the one that
# sent it (after that poll's fills).
STALE_S = STALE_ORDER_MINUTES * MINUTE
PCT = Fraction(repr(MAX_POSITION_PCT))


def cents_of(ticks: int, qty: int) -> int:
    """``qty`` at ``ticks`` in cents, half up (the exchange's cash rule)."""
    return (ticks * qty + 50) // 100


@dataclass
class Poll:
    """The account as the bot reads it at a poll: after the fills at the open of the bar just
    started (the orders that waited for a real bar and found one), before any new order."""

    cash_cents: int
    held: dict[object, int]
    marks: dict[object, int]  # ticks: the fill price where a fill is newer than the last close
    open_orders: dict[object, bt.Order]
    open_buys_cents: int

    def equity_cents(self) -> int:
        total = self.cash_cents
        for data, qty in self.held.items():
            if qty > 0:
                total += cents_of(self.marks.get(data, round(data.ticks[-1])), qty)
        return total

    def buying_power(self) -> float:
        return max(0, self.cash_cents - self.open_buys_cents) / 100


class GridRules(bt.Strategy):
    """The bot's poll, risk rules and housekeeping on the minute grid; subclasses decide.

    The bot polls just after each minute closes: by then the next bar has opened and any order
    that waited for it has filled at its open; the bot reads those fills, then decides on the
    minute that closed, and what it sends fills at that same open when the bar is real. In
    backtrader terms (cheat-on-open): ``next_open`` of bar T is the poll that decides on bar
    T-1 (indicators are not yet advanced to T there, data lines are read at ``[-1]``), counting
    the orders the broker is about to fill at T's open (:meth:`poll`); the broker then fills
    them and the new orders at T's open; ``next`` of bar T checks that it did and runs the
    housekeeping (stale orders, the session close's expiry).
    """

    params = (("last_bars", frozenset()),)

    def __init__(self) -> None:
        self.order_of = sorted(self.datas, key=lambda d: d._name)
        self.pending: dict[object, bt.Order] = {}
        self.sent_at: dict[object, int] = {}  # the poll (epoch s) that sent the open order
        self.reserved_cents: dict[object, int] = {}  # what an open buy holds of the cash
        self.filling: dict[object, bt.Order] = {}  # orders the last poll counted as filled
        self.held = {d: 0 for d in self.datas}
        self.cash_cents = round(CASH * 100)
        self.last_equity_cents = self.cash_cents
        self.close_equity_cents = self.cash_cents
        self.day: date | None = None
        self.trades_today = 0
        self.latched: date | None = None
        self.fills: list[Trade] = []

    # ---- facts -----------------------------------------------------------------------------
    def notify_order(self, order: bt.Order) -> None:
        if order.status != order.Completed:
            return  # submitted, accepted; cancelled (expired, stale) was forgotten on the spot
        data = order.data
        qty = abs(int(order.executed.size))
        # backtrader averages the execution price in float; prices are whole ticks.
        ticks = round(order.executed.price * TICKS)
        when = bt.num2date(order.executed.dt).replace(tzinfo=UTC)
        if order.isbuy():
            self.cash_cents -= cents_of(ticks, qty)
            self.held[data] += qty
        else:
            self.cash_cents += cents_of(ticks, qty)
            self.held[data] -= qty
        mine = self.pending.get(data)
        if mine is not None and mine.ref == order.ref:
            self.forget(data)  # a new order filled at once
        side = "buy" if order.isbuy() else "sell"
        stamp = when.isoformat().replace("+00:00", "Z")
        self.fills.append(Trade(stamp, data._name, side, qty, ticks / TICKS))

    def forget(self, data: bt.DataBase) -> bt.Order:
        """``data``'s order is no longer open; return it."""
        self.sent_at.pop(data, None)
        self.reserved_cents.pop(data, None)
        return self.pending.pop(data)

    def poll(self) -> Poll:
        """The account at this poll: open orders whose symbol has a real bar now fill at its
        open (the broker books them right after this call; :meth:`next` checks it did)."""
        cash, held, marks = self.cash_cents, dict(self.held), {}
        self.filling = {}
        for data in [d for d in self.pending if d.volume[0] > 0]:
            order = self.forget(data)
            self.filling[data] = order
            ticks, qty = round(data.open[0] * TICKS), abs(int(order.size))
            cash += -cents_of(ticks, qty) if order.isbuy() else cents_of(ticks, qty)
            held[data] += qty if order.isbuy() else -qty
            marks[data] = ticks
        return Poll(cash, held, marks, dict(self.pending), sum(self.reserved_cents.values()))

    # ---- the poll: decide on the minute that closed -----------------------------------------
    def prenext_open(self) -> None:
        # Symbols join the grid at their first regular bar: decide for each once it is on it.
        self.next_open()

    def next_open(self) -> None:
        ready = [d for d in self.order_of if len(d) >= 2]  # on the grid at the closed minute
        account = self.poll()
        if not ready:
            return
        minute = int(ready[0].datetime.datetime(-1).replace(tzinfo=UTC).timestamp())
        day = datetime.fromtimestamp(minute, UTC).astimezone(NEW_YORK).date()
        if day != self.day:
            self.day, self.trades_today = day, 0
            self.last_equity_cents = self.close_equity_cents
        equity = account.equity_cents()
        self.close_equity_cents = equity
        line = math.floor(Decimal(self.last_equity_cents) * (1 - Decimal(repr(MAX_DAILY_LOSS_PCT))))
        if self.latched != day and equity <= line:
            self.latched = day
        reserved = 0.0
        for d in ready:
            reserved = self.decide(d, minute, account, equity, reserved)

    def wants(self, d: bt.DataBase) -> tuple[bool, bool] | None:
        """At the closed minute of ``d``: (would enter if flat, would exit if holding), or None
        before the strategy may signal. Called once per symbol and minute on the grid."""
        raise NotImplementedError

    def decide(
        self, d: bt.DataBase, minute: int, account: Poll, equity: int, reserved: float
    ) -> float:
        wanted = self.wants(d)
        if wanted is None:
            return reserved
        up, down = wanted
        held = account.held[d]
        pending = account.open_orders.get(d)
        holding = held > 0 or (pending is not None and pending.isbuy())
        if not (up and not holding) and not (down and holding):
            return reserved
        if minute in self.p.last_bars:
            return reserved  # the session's last minute: the market is closed when it is judged
        if holding and pending is not None and pending.isbuy():
            # An exit cancels the bot's own working buy first (Alpaca refuses a sell against an
            # open buy as a potential wash trade); nothing is held, so nothing is sold. The
            # cash it held comes back at the next poll, when the account is read again.
            self.cancel(self.forget(d))
            del account.open_orders[d]
            return reserved
        if pending is not None:
            return reserved
        if holding:  # an exit: the whole position
            if held > 0:
                self.send(d, self.sell(data=d, size=held))
            return reserved
        if self.latched == self.day or self.trades_today >= MAX_TRADES_PER_DAY:
            return reserved
        occupied = {x for x, q in account.held.items() if q} | set(account.open_orders)
        occupied |= set(self.pending)
        if len(occupied) >= MAX_CONCURRENT_POSITIONS:
            return reserved
        close_ticks = round(d.ticks[-1])
        qty = math.floor(Fraction(equity, 100) * PCT / Fraction(close_ticks, TICKS))
        if qty <= 0:
            return reserved
        power = max(0.0, account.buying_power() - reserved)
        if Fraction(qty * close_ticks, TICKS) > Fraction(repr(power)):
            return reserved
        self.send(d, self.buy(data=d, size=qty))
        # The exchange holds the order's estimate at the symbol's mark.
        self.reserved_cents[d] = cents_of(account.marks.get(d, close_ticks), qty)
        return reserved + qty * (close_ticks / TICKS)

    def send(self, d: bt.DataBase, order: bt.Order) -> None:
        self.pending[d] = order
        self.sent_at[d] = int(d.datetime.datetime(0).replace(tzinfo=UTC).timestamp())
        self.trades_today += 1

    # ---- after the open's fills: housekeeping -------------------------------------------------
    def prenext(self) -> None:
        self.next()

    def next(self) -> None:
        for d, order in self.filling.items():
            if order.status != order.Completed:
                raise RuntimeError(f"{d._name}: the broker did not fill {order.ref} at the open")
        self.filling = {}
        stamp = int(self.datetime.datetime(0).replace(tzinfo=UTC).timestamp())
        # Housekeeping cancels an order left open longer than the stale limit.
        for d in [d for d, sent in self.sent_at.items() if stamp - sent > STALE_S]:
            self.cancel(self.forget(d))
        if stamp in self.p.last_bars:
            # The session closes: day orders that found no real bar expire.
            for d in list(self.pending):
                self.cancel(self.forget(d))


class SmaCrossoverRules(GridRules):
    """Enter on fast crossing above medium while medium > slow; exit on fast crossing below."""

    def __init__(self) -> None:
        super().__init__()
        self.sum_fast = {d: bt.ind.SumN(d.ticks, period=FAST) for d in self.datas}
        self.sum_medium = {d: bt.ind.SumN(d.ticks, period=MEDIUM) for d in self.datas}
        self.sum_slow = {d: bt.ind.SumN(d.ticks, period=SLOW) for d in self.datas}
        self.previous: dict[object, int | None] = {d: None for d in self.datas}

    def wants(self, d: bt.DataBase) -> tuple[bool, bool] | None:
        n = len(d) - 1  # grid bars up to the closed minute
        if n < MEDIUM:
            return None
        # Indicators are not advanced to the new bar yet: [0] is the closed minute.
        sf, sm, ss = self.sum_fast[d][0], self.sum_medium[d][0], self.sum_slow[d][0]
        now = int(np.sign(sf * MEDIUM - sm * FAST))
        before, self.previous[d] = self.previous[d], now
        if n < SLOW or before is None:
            return None
        return before <= 0 < now and sm * SLOW - ss * MEDIUM > 0, before >= 0 > now


class DonchianRules(GridRules):
    """Enter on a close above the previous ``entry`` minutes' highest high; exit on a close below
    the previous ``exit`` minutes' lowest low."""

    def __init__(self) -> None:
        super().__init__()
        self.highest = {d: bt.ind.Highest(d.high_ticks, period=DONCHIAN_ENTRY) for d in self.datas}
        self.lowest = {d: bt.ind.Lowest(d.low_ticks, period=DONCHIAN_EXIT) for d in self.datas}
        self.need = max(DONCHIAN_ENTRY, DONCHIAN_EXIT)

    def wants(self, d: bt.DataBase) -> tuple[bool, bool] | None:
        t = len(d) - 2  # the closed minute's index among the symbol's grid minutes, from 0
        if t < self.need:
            return None
        # Indicators are not advanced to the new bar yet: [0] is the closed minute t, so [-1]
        # spans the minutes before it; the data lines are: [-1] is minute t.
        close = round(d.ticks[-1])
        return close > self.highest[d][-1], close < self.lowest[d][-1]
