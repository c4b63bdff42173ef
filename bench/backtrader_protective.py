"""backtrader with protective exits: the benchmark's strategy plus a stop-loss and a take-profit
per position, held as backtrader's own OCO pair of a Stop and a Limit order.

The rules, as alpaca-fleece documents them (README "Protective exits", docs/exchange.md "Fill
rules"), coded again here:

* Once an entry has filled, the bot's next poll (the same poll, when the entry filled at the open
  of the bar that poll's minute started) sends one good-till-cancelled exit for the position: a
  sell stop at ``entry x (1 - stop_loss_pct)`` and a sell limit at ``entry x (1 +
  take_profit_pct)``, one cancelling the other, rounded half up to the cent (``entry``: the
  entry's average fill price). It works from the bar that poll's minute started on.
* A bar is judged at its open, then on its range. At the open: an open at or below the stop fills
  the stop at the open; at or above the take-profit, the take-profit at the open. On the range:
  the stop first (a low at or below it fills at the stop), then the take-profit (a high at or
  above it fills at the limit). Carried minutes (volume 0) fill nothing.
* The strategy's own exit cancels the pair first; the poll knows what filled at the open of the
  bar just started (a gap through a level) before it decides.
* A fill on a bar's range is known when the bar has closed: it is stamped with the bar's end
  (backtrader stamps every execution with the bar's start), one at the open with its start.
* Protective orders are not pending orders: they neither block a decision nor count as trades
  of the day, nor are they cancelled as stale or at the session's close.

backtrader judges a Stop before a Limit submitted after it, each at the open then on the range
(``_try_exec_stop`` / ``_try_exec_limit``): the rule above, but for one case, a bar that opens
through the take-profit and then falls through the stop, where backtrader takes the stop; no bar
of the data sets does (a take-profit and a stop a few tenths of a per cent apart), and the
cross-check would show one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

import backtrader as bt
import numpy as np
import pandas as pd
from backtrader_run import MINUTE, Poll, SmaCrossoverRules, TickBars, cents_of, real_bars_only
from common import CASH, TICKS, Trade, in_order

_CENT = Decimal("0.01")


def level(entry_ticks: int, fraction: float) -> float:
    """``entry x (1 + fraction)`` rounded half up to the cent, as a price."""
    price = Decimal(entry_ticks) / TICKS * (1 + Decimal(repr(fraction)))
    return float(price.quantize(_CENT, rounding=ROUND_HALF_UP))


@dataclass(frozen=True)
class Exit:
    """A protective fill: when, which symbol, and which leg (``stop_loss``/``take_profit``)."""

    timestamp: str
    symbol: str
    reason: str


class ProtectedRules(SmaCrossoverRules):
    """:class:`SmaCrossoverRules` with each position's stop-loss and take-profit pair."""

    params = (("stop_loss_pct", 0.0), ("take_profit_pct", 0.0))

    def __init__(self) -> None:
        super().__init__()
        self.guards: dict[bt.DataBase, tuple[bt.Order, bt.Order]] = {}
        self.entries: dict[bt.DataBase, tuple[int, int]] = {}  # (shares, cost in ticks)
        self.exits: list[Exit] = []

    def notify_order(self, order: bt.Order) -> None:
        data = order.data
        if order.status == order.Completed and order.isbuy():  # the entry's shares and cost
            before = self.entries.get(data, (0, 0)) if self.held[data] > 0 else (0, 0)
            qty = abs(int(order.executed.size))
            cost = round(order.executed.price * TICKS) * qty
            self.entries[data] = (before[0] + qty, before[1] + cost)
        super().notify_order(order)
        pair = self.guards.get(data)
        if pair is None or order.ref not in (pair[0].ref, pair[1].ref):
            return
        if order.status == order.Completed:
            reason = "stop_loss" if order.ref == pair[0].ref else "take_profit"
            fill = self.fills[-1]
            if round(order.executed.price * TICKS) != round(data.open[0] * TICKS):
                # Filled on the bar's range: known when the bar closes, a minute after its start.
                when = datetime.fromisoformat(fill.timestamp) + timedelta(seconds=MINUTE)
                fill = replace(fill, timestamp=when.isoformat().replace("+00:00", "Z"))
                self.fills[-1] = fill
            self.exits.append(Exit(fill.timestamp, data._name, reason))
        if not order.alive():
            del self.guards[data]
            if self.held[data] <= 0:
                self.entries.pop(data, None)

    def poll(self) -> Poll:
        account = super().poll()
        for data, (stop, limit) in list(self.guards.items()):
            if data.volume[0] <= 0:
                continue
            opened = round(data.open[0] * TICKS)
            if opened >= round(limit.created.price * TICKS):
                gap = limit
            elif opened <= round(stop.created.price * TICKS):
                gap = stop
            else:
                continue
            # Filled at this open: the poll knows it, as the bot's refresh does.
            qty = abs(int(gap.size))
            account.cash_cents += cents_of(opened, qty)
            account.held[data] -= qty
            account.marks[data] = opened
        self.protect(account)
        return account

    def protect(self, account: Poll) -> None:
        """The sweep: every held position without a pair, and no order of its own working,
        gets one."""
        for data in self.order_of:
            qty = account.held.get(data, 0)
            if qty <= 0 or data in self.guards or data in account.open_orders:
                continue
            shares, cost = self.entries.get(data, (0, 0)) if self.held[data] > 0 else (0, 0)
            order = self.filling.get(data)
            if order is not None and order.isbuy():  # it fills at this open
                qty_now = abs(int(order.size))
                shares, cost = shares + qty_now, cost + round(data.open[0] * TICKS) * qty_now
            entry = round(cost / shares)
            stop = self.sell(
                data=data,
                size=qty,
                exectype=bt.Order.Stop,
                price=level(entry, -self.p.stop_loss_pct),
            )
            limit = self.sell(
                data=data,
                size=qty,
                exectype=bt.Order.Limit,
                price=level(entry, self.p.take_profit_pct),
                oco=stop,
            )
            self.guards[data] = (stop, limit)

    def send(self, d: bt.DataBase, order: bt.Order) -> None:
        if order.issell() and d in self.guards:
            self.cancel(self.guards[d][0])  # its OCO sibling goes with it
        super().send(d, order)


def run_protected(
    frames: dict[str, pd.DataFrame],
    bounds: np.ndarray,
    stop_loss_pct: float,
    take_profit_pct: float,
) -> tuple[list[Trade], list[Exit]]:
    """Replay the grid frames with protective exits; the fills and the protective exits."""
    cerebro = bt.Cerebro(stdstats=False, cheat_on_open=True)
    cerebro.broker.setcash(CASH)
    cerebro.broker.set_filler(real_bars_only)
    cerebro.broker.set_checksubmit(False)
    for symbol, df in sorted(frames.items()):
        cerebro.adddata(TickBars(dataname=df), name=symbol)
    last_bars = frozenset(int(close) - MINUTE for close in bounds[:, 1].tolist())
    cerebro.addstrategy(
        ProtectedRules,
        last_bars=last_bars,
        stop_loss_pct=stop_loss_pct,
        take_profit_pct=take_profit_pct,
    )
    strategy = cerebro.run()[0]
    exits = sorted(strategy.exits, key=lambda e: (e.timestamp, e.symbol))
    return in_order(strategy.fills), exits


def exit_times(exits: Sequence[Exit]) -> list[tuple[str, str, str]]:
    """``(timestamp, symbol, reason)`` of every protective exit, in order."""
    return [(e.timestamp, e.symbol, e.reason) for e in exits]
