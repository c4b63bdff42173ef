"""The backtest runner: bars through the live bot's decision core, fills by the exchange's engine.

What runs is what trades live: :class:`~fleece.trader.Trader` (strategy, then
:class:`~fleece.risk_manager.RiskManager`, then :class:`~fleece.order_manager.OrderManager`)
over a :class:`~fleece.backtest.sim_broker.SimBroker` wrapping the built-in exchange's
:class:`~fleece.exchange.engine.Engine`. The runner plays the live runtime's polling cycle: at
each minute boundary ``T`` (the bot polls just after it) it

1. brings the exchange up to ``T`` (fills at bar opens, expiries, session closes),
2. refreshes unfinished orders, then reads the account (the trader's equity and buying power),
3. hands the trader the minute grid's bars of the minute that just closed, in symbol order
   (:mod:`fleece.minute_grid`: every symbol on the grid gets its real bar or, when it had
   none, a carried bar repeating its last close),
4. does the housekeeping that can change decisions: the trading-state check that latches the
   daily loss limit, and cancelling orders left open longer than ``stale_order_minutes``.

Two modes, one result:

* ``exact`` runs that cycle at every minute of every session and feeds every grid bar to the
  configured strategy through the trader: the reference.
* ``fast`` (default) runs the cycle only where something can happen, the minutes it skips being
  checked for the daily loss line (:mod:`fleece.backtest.loss_scan`: numpy finds where the
  equity could have reached it, the trader itself decides). A strategy with a vectorised path
  gets its candidate minutes first (:mod:`fleece.backtest.path_vectorised`); any other is stepped
  through every grid minute with the context the trader would give it, and polled only where it
  signalled or an order is open (:mod:`fleece.backtest.path_stepped`). Tests hold both modes to
  identical outputs.

Time is the simulated instant of the cycle: the minute boundary plus ``poll_offset_seconds``, when
the bot polls (5 s by default), so orders, fills and refusals carry the bot's own timestamps.
"""

from __future__ import annotations

import asyncio
import math
import time
from datetime import timedelta
from typing import Unpack

import numpy as np

from fleece.accounting import cents_of
from fleece.backtest.data import MarketData
from fleece.backtest.equity import equity_curve, session_grid
from fleece.backtest.market import ArrayBarStore
from fleece.backtest.memory_store import MemoryStore
from fleece.backtest.path_stepped import run_stepped
from fleece.backtest.path_vectorised import run_vectorised
from fleece.backtest.result import (
    BacktestConfig,
    BacktestResult,
    Mode,
    Progress,
    RunOptions,
)
from fleece.backtest.run_view import RunView, epoch_instant
from fleece.backtest.signals import CandidateSignals
from fleece.backtest.sim_broker import SimBroker
from fleece.calendar import MarketCalendar, Session, session_date
from fleece.circuit_breaker import CircuitBreaker
from fleece.clock import ManualClock
from fleece.errors import DataError
from fleece.exchange.engine import Engine
from fleece.exchange.matching import slippage, slipped
from fleece.exchange.orders import IdSource
from fleece.kernel import build_kernel
from fleece.minute_grid import MINUTE_S, Carry, Grid
from fleece.models import Bar, Fill, Side, to_ticks

__all__ = [
    "BacktestConfig",
    "BacktestResult",
    "Mode",
    "Progress",
    "Run",
    "RunOptions",
    "run_backtest",
]


class Run(RunView):
    """One run's objects (exchange, broker, store, trader); the polling cycle is the base's.

    Args:
        market: the bars.
        config: the run's configuration.
        options: the store, progress, start and holdings (:class:`RunOptions`).
    """

    def __init__(
        self, market: MarketData, config: BacktestConfig, **options: Unpack[RunOptions]
    ) -> None:
        self.market = market
        self.config = config
        self.progress = options.get("progress")
        self.table = MarketCalendar()  # the one calendar: the engine's and the trader's
        span = market.span()
        self.sessions = self._sessions(span)
        self.grid, self.session_end = session_grid(self.sessions)
        self.minute_grid = Grid.of((s.open, s.close) for s in self.sessions)
        self.minutes = self.minute_grid.minutes
        self.carry = Carry()
        start_at = options.get("start_at")
        self.start_at = None if start_at is None else math.floor(start_at.timestamp())
        start = self._start(span)
        self.clock = ManualClock(epoch_instant(start))
        self.holdings = {s: q for s, q in (options.get("holdings") or {}).items() if q > 0}
        self.start_cents = config.cash_cents + self._seed_cost()
        self.engine = Engine(
            ArrayBarStore(market),
            self.table,
            start=epoch_instant(start),
            cash_cents=self.start_cents,
            slippage_bps=config.slippage_bps,
            ids=IdSource(config.seed),
        )
        self.broker = SimBroker(self.engine)
        store = options.get("store")
        self.memory = store if store is not None else MemoryStore()
        self.breaker = CircuitBreaker(config.limits.circuit_breaker_failures)
        self.fills = []
        self.seed_fills: list[Fill] = []
        base = config.strategy.build()
        # The fast path asks the strategy's vectorised path for its candidate minutes first;
        # a strategy without one (or the exact mode) is stepped minute by minute, and so is a
        # run with protective exits (a stop may fill, or be hit, in any minute).
        self.fast = config.mode == "fast" and not config.protection.on
        self.vectorised = self.fast and base.candidates_offered
        self.strategy = CandidateSignals(base) if self.vectorised else base
        self.kernel = build_kernel(
            strategy=self.strategy,
            limits=config.limits,
            store=self.memory,
            broker=self.broker,
            clock=self.clock,
            breaker=self.breaker,
            time_in_force=config.time_in_force,
            on_fill=self._on_fill,
            protection=config.protection,
        )
        self.orders = self.kernel.orders
        self.trader = self.kernel.trader
        self.trader.sessions = self.table
        self.stale_after = timedelta(minutes=config.stale_order_minutes)
        self.offset = timedelta(seconds=config.poll_offset_seconds)
        self.steps = 0
        self.last_fill = {}  # symbol -> (epoch s, price ticks)

    def _sessions(self, span: tuple[int, int] | None) -> list[Session]:
        if span is None:
            return []
        # Every session from the one in progress at (or after) the first bar to the last one
        # that opened by the last bar.
        first = self.table.next_session(epoch_instant(span[0]))
        last_day = session_date(epoch_instant(span[1]))
        sessions = self.table.sessions(first.day, max(first.day, last_day))
        return [s for s in sessions if int(s.open.timestamp()) <= span[1]]

    def _start(self, span: tuple[int, int] | None) -> int:
        opens = [int(self.sessions[0].open.timestamp())] if self.sessions else []
        return min([span[0], *opens]) if span else (opens[0] if opens else 0)

    def _on_fill(self, fill: Fill) -> None:
        self.fills.append(fill)  # the trader has taken it into its holdings already
        self._remember(fill)

    def _remember(self, fill: Fill) -> None:
        self.last_fill[fill.symbol] = (math.floor(fill.timestamp.timestamp()), to_ticks(fill.price))

    # ---- positions held at the start (replays of live days) ----------------------------------
    def _seed_bar(self, symbol: str) -> Bar:
        bars = self.market.bars.get(symbol)
        rows = np.flatnonzero(bars.regular) if bars is not None else np.zeros(0, np.int64)
        if bars is None or not len(rows):
            raise DataError(f"{symbol}: held at the start but no regular bar to buy it at")
        bar = bars.bar(int(rows[0]))
        if self.start_at is not None and bar.timestamp.timestamp() >= self.start_at:
            raise DataError(f"{symbol}: held at the start but no bar before the start")
        return bar

    def _seed_cost(self) -> int:
        """Cash (cents) the opening purchases take, by the exchange's fill and cash rules."""
        slip = slippage(self.config.slippage_bps)
        total = 0
        for symbol, qty in self.holdings.items():
            price = slipped(self._seed_bar(symbol).open, Side.BUY, slip)
            total += cents_of(to_ticks(float(price)), qty)
        return total

    async def _seed(self) -> None:
        """Buy the starting positions (not decisions: no intent, no trade of the run)."""
        seeds = sorted(self.holdings.items(), key=lambda kv: self._seed_bar(kv[0]).timestamp)
        for symbol, qty in seeds:
            bar = self._seed_bar(symbol)
            self.broker.advance_to(bar.timestamp)
            answer = await self.broker.submit_market(
                f"seed-{symbol}", symbol, Side.BUY, qty, self.config.time_in_force
            )
            self.broker.advance_to(bar.timestamp)  # the fill comes after the answer
            order = await self.broker.order_by_client_id(answer.client_order_id)
            if order is None or order.filled_avg_price is None or order.filled_at is None:
                raise DataError(f"{symbol}: the starting position could not be bought")
            fill = Fill(
                order.client_order_id,
                order.id,
                symbol,
                Side.BUY,
                qty,
                order.filled_avg_price,
                order.filled_at,
            )
            self.seed_fills.append(fill)
            self._remember(fill)
        self.trader.portfolio.replace(dict(self.holdings))

    # ---- exact: every minute, every bar -----------------------------------------------------
    async def run_exact(self) -> None:
        """Every minute of every session; every symbol's grid bar goes to the strategy."""
        await self._seed()
        rows = self._regular_by_minute()
        on_grid = set(self.minutes.tolist())
        total = len(self.grid)
        for n, at in enumerate(self.grid.tolist()):
            minute = at - MINUTE_S
            bars: list[Bar] = []
            if minute in on_grid:
                real = {s: self.market.bars[s].bar(i) for s, i in rows.get(minute, [])}
                bars = self.carry.step(epoch_instant(minute), real)
            if self._decides(at):
                await self.cycle(at, bars, None)
            else:
                self.trader.warmup(bars)
            if self.progress is not None and n % 1000 == 0:
                self.progress(n / total)

    def _regular_by_minute(self) -> dict[int, list[tuple[str, int]]]:
        out: dict[int, list[tuple[str, int]]] = {}
        for symbol in self.market.symbols:
            bars = self.market.bars[symbol]
            for i in np.flatnonzero(bars.regular).tolist():
                out.setdefault(int(bars.ts[i]), []).append((symbol, i))
        return out

    # ---- the fast paths (same result; see their modules) -------------------------------------
    async def run_fast(self) -> None:
        """The vectorised path (:mod:`fleece.backtest.path_vectorised`)."""
        await run_vectorised(self)

    async def run_stepped(self) -> None:
        """The bar-by-bar fast path (:mod:`fleece.backtest.path_stepped`)."""
        await run_stepped(self)


def run_backtest(
    market: MarketData, config: BacktestConfig, **options: Unpack[RunOptions]
) -> BacktestResult:
    """Replay ``market`` through the trader, risk manager and order manager of the live bot.

    Args:
        market: the bars (see :mod:`fleece.backtest.data`).
        config: limits, windows, cash, slippage and mode.
        options: the store, progress, start and holdings, by keyword (:class:`RunOptions`).

    Returns:
        The fills, intents, refusals, equity curve and counters of the run.

    Raises:
        DataError: no bars at all, or a starting position has no bar to be bought at before
            ``start_at``.
    """
    if market.span() is None:
        raise DataError("no bars to backtest (no symbol has any bar in the range)")
    started = time.perf_counter()
    run = Run(market, config, **options)
    if run.vectorised:
        asyncio.run(run.run_fast())
    elif run.fast:
        asyncio.run(run.run_stepped())
    else:
        asyncio.run(run.run_exact())
    curve = equity_curve(
        market,
        [*run.seed_fills, *run.fills],
        run.start_cents,
        run.grid,
        run.session_end,
    )
    elapsed = time.perf_counter() - started
    if run.progress is not None:
        run.progress(1.0)
    return BacktestResult(
        config=config,
        market=market,
        sessions=run.sessions,
        fills=sorted(run.fills, key=lambda f: (f.timestamp, f.symbol, f.client_order_id)),
        intents=run.memory.all_intents(),
        refusals=run.memory.refusals(),
        equity=curve,
        signals=run.trader.signals,
        steps=run.steps,
        elapsed=elapsed,
        initial_cents=run.start_cents,
        requests=dict(run.broker.requests),
    )
