"""Benchmark process for backtrader: the same strategy and risk rules, written the backtrader way,
on the same minute grid.

The minute grid, as alpaca-fleece documents it (src/fleece/minute_grid.py, the README's strategy
section), built here independently with numpy and pandas (:func:`on_grid`), so that the
cross-check tests the rule and not one shared function:

* Every regular-session minute is one step of every window; extended-hours bars never enter
  the grid.
* A symbol joins the grid at its first regular bar ever and stays on it from then on, across
  sessions and nights.
* A minute in which a symbol has no bar repeats that symbol's last regular close (a *carried*
  bar: open = high = low = close = that close, volume 0): nothing traded, so the price did not
  change.
* Signals are judged at every grid minute, with or without a bar, by the same exact crossover
  rule. A signal on the session's last minute is not acted on.
* A market order (day) fills at the open of the symbol's next real bar in the session (never on
  a carried minute), or expires at the session's close.

Indicators are backtrader's own (``SumN`` over each grid bar's close in ticks, so that, as in
alpaca-fleece, equal averages compare equal: sums of integers are exact in float64 and the
averages are compared cross-multiplied). Orders are backtrader market orders with no commission;
a volume filler (:func:`real_bars_only`) gives an order nothing on a carried bar (volume 0), so
it waits in backtrader's pending queue for the next real bar, and the strategy cancels what is
still pending at the session's last minute (backtrader never expires market orders, whatever
their ``valid``). The risk rules (sizing at 10% of equity, 20 orders a day, 10 positions, the 5%
daily loss latch, buying power net of open buys, open orders cancelled after 15 minutes) are
coded in the strategy in the order alpaca-fleece's risk manager and housekeeping apply them,
with exact arithmetic where alpaca-fleece is exact. Cerebro runs in its default mode
(``runonce``, indicators precomputed).
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction

from common import (
    CASH,
    FAST,
    MAX_CONCURRENT_POSITIONS,
    MAX_DAILY_LOSS_PCT,
    MAX_POSITION_PCT,
    MAX_TRADES_PER_DAY,
    MEDIUM,
    SLOW,
    STALE_ORDER_MINUTES,
    TICKS,
    Columns,
    EngineResult,
    Trade,
    arguments,
    dataset_columns,
    dataset_name,
    in_order,
    peak_rss_mb,
    rss_mb,
    write_result,
)

from fleece.calendar import NEW_YORK, MarketCalendar  # imported by both engines' processes

BASELINE = rss_mb()

import backtrader as bt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

MINUTE = 60
# Housekeeping cancels an order still open at a poll more than this long after the one that
# sent it (after that poll's fills).
STALE_S = STALE_ORDER_MINUTES * MINUTE
PCT = Fraction(repr(MAX_POSITION_PCT))


def cents_of(ticks: int, qty: int) -> int:
    """``qty`` at ``ticks`` in cents, half up (the exchange's cash rule)."""
    return (ticks * qty + 50) // 100


# ---- the minute grid ------------------------------------------------------------------------
def session_bounds(columns: Iterable[Columns]) -> np.ndarray:
    """``(open, close)`` epoch seconds of every session from the one in progress at the first
    bar (of any symbol, extended hours included) to the last one opened by the last bar."""
    firsts, lasts = zip(*((int(c.ts[0]), int(c.ts[-1])) for c in columns if len(c)), strict=True)
    first, last = min(firsts), max(lasts)
    day = timedelta(days=1)
    span = [datetime.fromtimestamp(t, UTC).date() for t in (first, last)]
    sessions = MarketCalendar().sessions(span[0] - day, span[1] + day)
    bounds = [(int(s.open.timestamp()), int(s.close.timestamp())) for s in sessions]
    return np.array([(o, c) for o, c in bounds if c > first and o <= last], dtype=np.int64)


def grid_minutes(bounds: np.ndarray) -> np.ndarray:
    """Every regular-session minute start of ``bounds``, ascending."""
    return np.concatenate([np.arange(o, c, MINUTE, dtype=np.int64) for o, c in bounds])


def on_grid(c: Columns, bounds: np.ndarray, minutes: np.ndarray) -> pd.DataFrame | None:
    """``c``'s regular bars forward-filled onto the grid from its first regular bar on (None
    when it has none): carried minutes repeat the last close as open, high, low and close, with
    volume 0. Indexed by bar start, naive UTC."""
    at = np.searchsorted(bounds[:, 0], c.ts, "right") - 1
    regular = (at >= 0) & (c.ts < bounds[np.maximum(at, 0), 1])
    ts = c.ts[regular]
    if not len(ts):
        return None
    if (c.volume[regular] <= 0).any():
        # The filler tells a carried minute by its volume 0; a real one must not look the same.
        raise SystemExit(f"{c.symbol}: a regular bar with no volume; the filler would skip it")
    bars = pd.DataFrame(
        {
            "open": c.open[regular],
            "high": c.high[regular],
            "low": c.low[regular],
            "close": c.close[regular],
            "volume": c.volume[regular].astype(np.float64),
        },
        index=ts,
    )
    steps = minutes[minutes >= ts[0]]
    grid = bars.reindex(steps)
    close = grid["close"].ffill()
    for column in ("open", "high", "low"):
        grid[column] = grid[column].fillna(close)
    grid["close"] = close
    grid["volume"] = grid["volume"].fillna(0.0)
    grid["ticks"] = np.rint(close.to_numpy() * TICKS)
    grid.index = pd.to_datetime(steps, unit="s")
    return grid


def real_bars_only(order: bt.Order, price: float, ago: int) -> int:
    """backtrader volume filler: the whole order on a real bar, nothing on a carried one (volume
    0), so that a market order waits for the symbol's next real bar."""
    return abs(order.executed.remsize) if order.data.volume[ago] > 0 else 0


class TickBars(bt.feeds.PandasData):
    """OHLCV plus the close in ticks (1/10,000 dollar), the unit the rules compare in."""

    lines = ("ticks",)
    params = (("ticks", -1),)


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


class SmaCrossoverRules(bt.Strategy):
    """Enter on fast crossing above medium while medium > slow; exit on fast crossing below.

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
        self.sum_fast = {d: bt.ind.SumN(d.ticks, period=FAST) for d in self.datas}
        self.sum_medium = {d: bt.ind.SumN(d.ticks, period=MEDIUM) for d in self.datas}
        self.sum_slow = {d: bt.ind.SumN(d.ticks, period=SLOW) for d in self.datas}
        self.previous: dict[object, int | None] = {d: None for d in self.datas}
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

    def decide(
        self, d: bt.DataBase, minute: int, account: Poll, equity: int, reserved: float
    ) -> float:
        n = len(d) - 1  # grid bars up to the closed minute
        if n < MEDIUM:
            return reserved
        # Indicators are not advanced to the new bar yet: [0] is the closed minute.
        sf, sm, ss = self.sum_fast[d][0], self.sum_medium[d][0], self.sum_slow[d][0]
        now = int(np.sign(sf * MEDIUM - sm * FAST))
        before, self.previous[d] = self.previous[d], now
        if n < SLOW or before is None:
            return reserved
        held = account.held[d]
        pending = account.open_orders.get(d)
        holding = held > 0 or (pending is not None and pending.isbuy())
        up = before <= 0 < now and sm * SLOW - ss * MEDIUM > 0
        down = before >= 0 > now
        if not (up and not holding) and not (down and holding):
            return reserved
        if minute in self.p.last_bars:
            return reserved  # the session's last minute: the market is closed when it is judged
        if pending is not None:
            return reserved
        if not up:  # an exit: the whole position
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


def grid_frames(columns: Iterable[Columns]) -> tuple[dict[str, pd.DataFrame], np.ndarray, int]:
    """Each symbol's bars on the minute grid; the sessions; the real regular bars among them."""
    listed = list(columns)
    bounds = session_bounds(listed)
    minutes = grid_minutes(bounds)
    frames: dict[str, pd.DataFrame] = {}
    real = 0
    while listed:
        c = listed.pop(0)  # each symbol's columns go once its grid frame exists
        grid = on_grid(c, bounds, minutes)
        if grid is not None:
            frames[c.symbol] = grid
            real += int((grid["volume"] > 0).sum())
    return frames, bounds, real


def run(frames: dict[str, pd.DataFrame], bounds: np.ndarray) -> list[Trade]:
    """Replay the grid frames through cerebro; the fills (:func:`common.in_order`)."""
    # Cheat-on-open: orders sent at a poll fill at the open of the bar that just started.
    cerebro = bt.Cerebro(stdstats=False, cheat_on_open=True)
    cerebro.broker.setcash(CASH)
    cerebro.broker.set_filler(real_bars_only)
    # The strategy checks orders as alpaca-fleece's risk manager does; backtrader's own check
    # at submission would price them at the new bar's close, which no poll can know.
    cerebro.broker.set_checksubmit(False)
    for symbol, df in sorted(frames.items()):
        cerebro.adddata(TickBars(dataname=df), name=symbol)
    last_bars = frozenset(int(close) - MINUTE for close in bounds[:, 1].tolist())
    cerebro.addstrategy(SmaCrossoverRules, last_bars=last_bars)
    strategy = cerebro.run()[0]
    return in_order(strategy.fills)


def main() -> None:
    args = arguments(__doc__ or "")
    columns = dataset_columns(args.dataset, args.days, args.symbols.split(","), args.seed)
    frames, bounds, real = grid_frames(columns)
    began, cpu = time.perf_counter(), time.process_time()
    trades = run(frames, bounds)
    seconds, cpu = time.perf_counter() - began, time.process_time() - cpu
    write_result(
        EngineResult(
            engine="backtrader",
            dataset=dataset_name(args),
            bars=real,
            seconds=seconds,
            cpu_seconds=cpu,
            baseline_rss_mb=BASELINE,
            peak_rss_mb=peak_rss_mb(),
            trades=trades,
            grid_bars=sum(len(df) for df in frames.values()),
            carried_share={s: float((df["volume"] == 0).mean()) for s, df in frames.items()},
        ),
        args.out,
    )


if __name__ == "__main__":
    main()
