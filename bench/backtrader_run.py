"""Benchmark process for backtrader: the same strategy and risk rules, written the backtrader way.

Indicators are backtrader's own (``SumN`` over each bar's close in ticks, so that, as in
alpaca-fleece, equal averages compare equal: sums of integers are exact in float64 and the
averages are compared cross-multiplied). Orders are backtrader market orders, filled at the next
bar's open with no commission; the risk rules (sizing at 10% of equity, 20 orders a day, 10
positions, the 5% daily loss latch, no order on a session's last bar, buying power) are coded in
the strategy in the order alpaca-fleece's risk manager applies them, with exact arithmetic where
alpaca-fleece is exact. Cerebro runs in its default mode (``runonce``, indicators precomputed).
"""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime
from decimal import Decimal
from fractions import Fraction

from common import (
    CASH,
    FAST,
    FIRST_DAY,
    MAX_CONCURRENT_POSITIONS,
    MAX_DAILY_LOSS_PCT,
    MAX_POSITION_PCT,
    MAX_TRADES_PER_DAY,
    MEDIUM,
    REAL_BARS,
    SLOW,
    EngineResult,
    Trade,
    arguments,
    dataset_name,
    peak_rss_mb,
    rss_mb,
    write_result,
)

from fleece.calendar import NEW_YORK, MarketCalendar  # imported by both engines' processes

BASELINE = rss_mb()

import backtrader as bt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

TICKS = 10_000
PCT = Fraction(repr(MAX_POSITION_PCT))


def cents_of(ticks: int, qty: int) -> int:
    """``qty`` at ``ticks`` in cents, half up (the exchange's cash rule)."""
    return (ticks * qty + 50) // 100


class TickBars(bt.feeds.PandasData):
    """OHLCV plus the close in ticks (1/10,000 dollar), the unit the rules compare in."""

    lines = ("ticks",)
    params = (("ticks", -1),)


class SmaCrossoverRules(bt.Strategy):
    """Enter on fast crossing above medium while medium > slow; exit on fast crossing below."""

    params = (("last_bars", frozenset()), ("regular", None))

    def __init__(self) -> None:
        self.order_of = sorted(self.datas, key=lambda d: d._name)
        self.sum_fast = {d: bt.ind.SumN(d.ticks, period=FAST) for d in self.datas}
        self.sum_medium = {d: bt.ind.SumN(d.ticks, period=MEDIUM) for d in self.datas}
        self.sum_slow = {d: bt.ind.SumN(d.ticks, period=SLOW) for d in self.datas}
        self.previous: dict[object, int | None] = {d: None for d in self.datas}
        self.seen = {d: 0 for d in self.datas}
        self.pending: dict[object, object] = {}
        self.held = {d: 0 for d in self.datas}
        self.cash_cents = round(CASH * 100)
        self.last_equity_cents = self.cash_cents
        self.close_equity_cents = self.cash_cents
        self.day = None
        self.trades_today = 0
        self.latched = None
        self.fills: list[Trade] = []

    # ---- facts -----------------------------------------------------------------------------
    def notify_order(self, order: bt.Order) -> None:
        if order.status in (order.Submitted, order.Accepted):
            return
        data = order.data
        self.pending.pop(data, None)
        if order.status != order.Completed:
            return  # margin/rejected: alpaca-fleece would have filled; the trade lists differ
        qty = abs(int(order.executed.size))
        # backtrader averages the execution price in float; prices are whole ticks.
        ticks = round(order.executed.price * TICKS)
        price = ticks / TICKS
        when = bt.num2date(order.executed.dt).replace(tzinfo=UTC)
        if order.isbuy():
            self.cash_cents -= cents_of(ticks, qty)
            self.held[data] += qty
        else:
            self.cash_cents += cents_of(ticks, qty)
            self.held[data] -= qty
        side = "buy" if order.isbuy() else "sell"
        stamp = when.isoformat().replace("+00:00", "Z")
        self.fills.append(Trade(stamp, data._name, side, qty, price))

    def equity_cents(self) -> int:
        total = self.cash_cents
        for data, qty in self.held.items():
            if qty > 0:
                total += cents_of(round(data.close[0] * TICKS), qty)
        return total

    # ---- the bar loop ------------------------------------------------------------------------
    def prenext(self) -> None:
        # Symbols warm up at different times (gaps): decide for each as soon as it is ready.
        self.next()

    def next(self) -> None:
        fresh = [d for d in self.order_of if len(d) > self.seen[d]]
        for d in fresh:
            self.seen[d] = len(d)
        if not fresh:
            return
        start = fresh[0].datetime.datetime(0).replace(tzinfo=UTC)
        day = start.astimezone(NEW_YORK).date()
        if day != self.day:
            self.day, self.trades_today = day, 0
            self.last_equity_cents = self.close_equity_cents
        equity = self.equity_cents()
        self.close_equity_cents = equity
        line = math.floor(Decimal(self.last_equity_cents) * (1 - Decimal(repr(MAX_DAILY_LOSS_PCT))))
        if self.latched != day and equity <= line:
            self.latched = day
        cash_dollars = self.cash_cents / 100
        reserved = 0.0
        for d in fresh:
            reserved = self.decide(d, start, equity, cash_dollars, reserved)

    def decide(
        self, d: bt.DataBase, start: datetime, equity: int, cash: float, reserved: float
    ) -> float:
        n = len(d)
        if n < MEDIUM:
            return reserved
        sf, sm, ss = self.sum_fast[d][0], self.sum_medium[d][0], self.sum_slow[d][0]
        now = int(np.sign(sf * MEDIUM - sm * FAST))
        before, self.previous[d] = self.previous[d], now
        if n < SLOW or before is None:
            return reserved
        holding = self.held[d] > 0 or (d in self.pending and self.pending[d].isbuy())
        up = before <= 0 < now and sm * SLOW - ss * MEDIUM > 0
        down = before >= 0 > now
        if not (up and not holding) and not (down and holding):
            return reserved
        if int(start.timestamp()) in self.p.last_bars:
            return reserved  # the session's last bar: the market is closed when it is judged
        if d in self.pending:
            return reserved
        if not up:  # an exit: the whole position
            if self.held[d] > 0:
                self.pending[d] = self.sell(data=d, size=self.held[d])
                self.trades_today += 1
            return reserved
        if self.latched == self.day or self.trades_today >= MAX_TRADES_PER_DAY:
            return reserved
        occupied = {x for x, q in self.held.items() if q} | set(self.pending)
        if len(occupied) >= MAX_CONCURRENT_POSITIONS:
            return reserved
        close_ticks = round(d.close[0] * TICKS)
        qty = math.floor(Fraction(equity, 100) * PCT / Fraction(close_ticks, TICKS))
        if qty <= 0:
            return reserved
        power = max(0.0, cash - reserved)
        if Fraction(qty * close_ticks, TICKS) > Fraction(repr(power)):
            return reserved
        self.pending[d] = self.buy(data=d, size=qty)
        self.trades_today += 1
        return reserved + qty * d.close[0]


def frames(args: object) -> dict[str, pd.DataFrame]:
    """Each symbol's regular-session bars as a DataFrame indexed by bar start (naive UTC)."""
    if args.dataset == "real":  # type: ignore[attr-defined]
        from fleece.backtest.data import load_market

        market = load_market(REAL_BARS, ["SPY", "IBM"])
        out = {}
        for symbol, bars in market.bars.items():
            keep = bars.regular
            out[symbol] = pd.DataFrame(
                {
                    "open": bars.open[keep] / TICKS,
                    "high": bars.high[keep] / TICKS,
                    "low": bars.low[keep] / TICKS,
                    "close": bars.close[keep] / TICKS,
                    "volume": bars.volume[keep],
                    "ticks": bars.close[keep].astype(np.float64),
                },
                index=pd.to_datetime(bars.ts[keep], unit="s"),
            )
        return out
    from fleece.data.synthetic import generate_arrays

    sessions = MarketCalendar().sessions_from(FIRST_DAY, args.days)  # type: ignore[attr-defined]
    out = {}
    for symbol in args.symbols.split(","):  # type: ignore[attr-defined]
        a = generate_arrays(symbol, sessions, args.seed)  # type: ignore[attr-defined]
        out[symbol] = pd.DataFrame(
            {
                "open": a.open,
                "high": a.high,
                "low": a.low,
                "close": a.close,
                "volume": a.volume,
                "ticks": np.rint(a.close * TICKS),
            },
            index=pd.to_datetime(a.ts, unit="s"),
        )
    return out


def last_bars(index_days: list[datetime]) -> frozenset[int]:
    """Start (epoch s) of each session's last regular bar, early closes included."""
    calendar = MarketCalendar()
    first, last = min(index_days).date(), max(index_days).date()
    return frozenset(int(s.last_bar_start.timestamp()) for s in calendar.sessions(first, last))


def main() -> None:
    args = arguments(__doc__ or "")
    data = frames(args)
    starts = [df.index[0].to_pydatetime() for df in data.values()]
    ends = [df.index[-1].to_pydatetime() for df in data.values()]
    cerebro = bt.Cerebro(stdstats=False)
    cerebro.broker.setcash(CASH)
    for symbol, df in sorted(data.items()):
        cerebro.adddata(TickBars(dataname=df), name=symbol)
    cerebro.addstrategy(SmaCrossoverRules, last_bars=last_bars(starts + ends))
    bars = sum(len(df) for df in data.values())
    began, cpu = time.perf_counter(), time.process_time()
    strategy = cerebro.run()[0]
    seconds, cpu = time.perf_counter() - began, time.process_time() - cpu
    write_result(
        EngineResult(
            engine="backtrader",
            dataset=dataset_name(args),
            bars=bars,
            seconds=seconds,
            cpu_seconds=cpu,
            baseline_rss_mb=BASELINE,
            peak_rss_mb=peak_rss_mb(),
            trades=sorted(strategy.fills, key=lambda t: (t.timestamp, t.symbol)),
        ),
        args.out,
    )


if __name__ == "__main__":
    main()
