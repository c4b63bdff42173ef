"""The backtest runner: bars through the live bot's decision core, fills by the exchange's engine.

What runs is what trades live: :class:`~fleece.trader.Trader` (strategy, then
:class:`~fleece.risk_manager.RiskManager`, then :class:`~fleece.order_manager.OrderManager`)
over a :class:`~fleece.backtest.sim_broker.SimBroker` wrapping the built-in exchange's
:class:`~fleece.exchange.engine.Engine`. The runner plays the live runtime's polling cycle: at
each minute boundary ``T`` (the bot polls just after it) it

1. brings the exchange up to ``T`` (fills at bar opens, expiries, session closes),
2. refreshes unfinished orders, then reads the account (the trader's equity and buying power),
3. hands the trader the regular-session bars of the minute that just closed, in symbol order,
4. does the housekeeping that can change decisions: the trading-state check that latches the
   daily loss limit, and cancelling orders left open longer than ``stale_order_minutes``.

Two modes, one result:

* ``exact`` runs that cycle at every minute of every session and feeds every bar to
  :class:`~fleece.strategy.SmaCrossover`: the reference.
* ``fast`` (default) computes the crossover candidates of each symbol with numpy first
  (:mod:`fleece.backtest.signals`) and runs the cycle only where something can happen: a
  candidate bar that can signal, a session open, every minute while an order is open, and any
  minute where the equity could have reached the daily loss floor (found with numpy, then
  confirmed by the trader itself). Tests hold both modes to identical outputs.

Time is the simulated instant of the cycle (the bot polls a few seconds after the minute, which
changes nothing: an order is eligible from its submission minute).
"""

from __future__ import annotations

import asyncio
import math
import time
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Literal

import numpy as np

from fleece.backtest.data import I64, MINUTE, MarketData
from fleece.backtest.equity import EquityCurve, cents_of, equity_curve, session_grid
from fleece.backtest.market import ArrayBarStore, SessionTable
from fleece.backtest.memory_store import MemoryStore
from fleece.backtest.signals import Candidates, CandidateSignals, find_candidates
from fleece.backtest.sim_broker import SimBroker
from fleece.calendar import Session
from fleece.clock import ManualClock
from fleece.exchange.engine import Engine
from fleece.exchange.orders import IdSource
from fleece.models import Bar, Fill, Refusal, Side, to_ticks
from fleece.order_manager import OrderManager
from fleece.risk_manager import CircuitBreaker, RiskLimits, RiskManager
from fleece.state_store import IntentRecord
from fleece.strategy import SmaCrossover, Strategy
from fleece.trader import Trader, TraderStore

Mode = Literal["fast", "exact"]
Progress = Callable[[float], None]


@dataclass(frozen=True)
class BacktestConfig:
    """What a run needs besides the bars.

    Attributes:
        limits: the risk limits (from the trading config).
        fast: fast SMA window.
        medium: medium SMA window.
        slow: slow SMA window.
        cash: starting cash in dollars.
        slippage_bps: market-order slippage in basis points (the exchange's rule).
        stale_order_minutes: open orders older than this are cancelled (housekeeping's rule).
        time_in_force: the orders' time in force.
        seed: seeds the exchange's order ids.
        mode: ``"fast"`` or ``"exact"`` (same result; see the module docstring).
    """

    limits: RiskLimits
    fast: int = 10
    medium: int = 30
    slow: int = 90
    cash: float = 100_000.0
    slippage_bps: float = 0.0
    stale_order_minutes: int = 15
    time_in_force: str = "day"
    seed: int = 0
    mode: Mode = "fast"

    def __post_init__(self) -> None:
        SmaCrossover(self.fast, self.medium, self.slow)  # validates the windows
        if not (math.isfinite(self.cash) and self.cash > 0):
            raise ValueError(f"cash must be > 0, got {self.cash}")
        if not (math.isfinite(self.slippage_bps) and self.slippage_bps >= 0):
            raise ValueError(f"slippage_bps must be >= 0, got {self.slippage_bps}")
        if self.mode not in ("fast", "exact"):
            raise ValueError(f"mode must be 'fast' or 'exact', got {self.mode!r}")


@dataclass(eq=False)
class BacktestResult:
    """Everything a run produced.

    Attributes:
        config: the run's configuration.
        market: the bars it ran on.
        sessions: the sessions it covered.
        fills: every fill, in time order.
        intents: every order intent, oldest first.
        refusals: every refused signal, in order.
        equity: the account at every minute close of every session.
        signals: signals the strategy emitted.
        steps: polling cycles actually run (fewer than minutes on the fast path).
        elapsed: seconds the run took (bars in memory to result, outputs excluded).
    """

    config: BacktestConfig
    market: MarketData
    sessions: list[Session]
    fills: list[Fill]
    intents: list[IntentRecord]
    refusals: list[Refusal]
    equity: EquityCurve
    signals: int
    steps: int
    elapsed: float
    requests: dict[str, int] = field(default_factory=dict)

    @property
    def bars(self) -> int:
        """Regular-session bars replayed (the bars the strategy decides on)."""
        return self.market.regular_count

    @property
    def bars_per_second(self) -> float:
        """Replay speed."""
        return self.bars / self.elapsed if self.elapsed > 0 else float("inf")


def _at(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def loss_threshold_cents(last_equity_cents: int, max_daily_loss_pct: float) -> int:
    """The highest equity (cents) at which the daily loss limit counts as hit.

    The risk manager compares ``equity <= last_equity * (1 - pct)`` exactly, with each float at
    its shortest decimal form; equity is whole cents, so the floor of that product is the line.
    """
    floor = Decimal(last_equity_cents) * (1 - Decimal(repr(max_daily_loss_pct)))
    return math.floor(floor)


class _Run:
    """One run's objects and its polling cycle."""

    def __init__(
        self,
        market: MarketData,
        config: BacktestConfig,
        store: TraderStore | None,
        progress: Progress | None,
    ) -> None:
        self.market = market
        self.config = config
        self.progress = progress
        self.table = SessionTable.around(market)
        span = market.span()
        self.sessions = self._sessions(span)
        self.grid, self.session_end = session_grid(self.sessions)
        start = self._start(span)
        self.clock = ManualClock(_at(start))
        self.engine = Engine(
            ArrayBarStore(market),
            self.table,
            start=_at(start),
            cash_cents=round(config.cash * 100),
            slippage_bps=config.slippage_bps,
            ids=IdSource(config.seed),
        )
        self.broker = SimBroker(self.engine)
        self.memory = store if store is not None else MemoryStore()
        self.breaker = CircuitBreaker(config.limits.circuit_breaker_failures)
        self.fills: list[Fill] = []
        self.orders = OrderManager(
            self.memory,
            self.broker,
            self.clock,
            self.breaker,
            time_in_force=config.time_in_force,
            on_fill=self._on_fill,
        )
        self.strategy: Strategy = (
            SmaCrossover(config.fast, config.medium, config.slow)
            if config.mode == "exact"
            else CandidateSignals(config.fast, config.medium, config.slow)
        )
        self.trader = Trader(
            strategy=self.strategy,
            risk=RiskManager(config.limits),
            orders=self.orders,
            store=self.memory,
            clock=self.clock,
            breaker=self.breaker,
            kill_switch_env=False,
            dry_run=False,
        )
        self.trader.sessions = self.table.book()
        self.stale_after = timedelta(minutes=config.stale_order_minutes)
        self.steps = 0
        self.last_fill: dict[str, tuple[int, int]] = {}  # symbol -> (epoch s, price ticks)

    def _sessions(self, span: tuple[int, int] | None) -> list[Session]:
        if span is None:
            return []
        first = self.table.next_session(_at(span[0]))
        last = self.table.next_session(_at(span[1]))
        return self.table.sessions(first.day, last.day)

    def _start(self, span: tuple[int, int] | None) -> int:
        opens = [int(self.sessions[0].open.timestamp())] if self.sessions else []
        return min([span[0], *opens]) if span else (opens[0] if opens else 0)

    def _on_fill(self, fill: Fill) -> None:
        self.fills.append(fill)
        self.trader.on_fill(fill)
        self.last_fill[fill.symbol] = (
            math.floor(fill.timestamp.timestamp()),
            to_ticks(fill.price),
        )

    # ---- the polling cycle ------------------------------------------------------------------
    async def cycle(self, at: int, bars: Sequence[Bar], expect: Sequence[bool] | None) -> None:
        """One poll at minute boundary ``at``: exchange, orders, account, bars, housekeeping."""
        now = _at(at)
        self.steps += 1
        self.broker.advance_to(now)
        self.clock.set(now)
        if self.orders.has_open:
            await self.orders.refresh()
        trader = self.trader
        trader.account = self.broker.account_now()
        trader.reserved_cash = 0.0
        signals, tripped = trader.signals, self.breaker.tripped
        if expect is None:
            for bar in bars:
                await trader.on_bar(bar)
        else:
            assert isinstance(self.strategy, CandidateSignals)
            for bar, up in zip(bars, expect, strict=True):
                self.strategy.expect(bar.symbol, bar.timestamp, up)
                await trader.on_bar(bar)
        # The heartbeat's state check. A signal already ran it this cycle with this very account
        # (the trader's first step on a signal), so it would only repeat itself, unless an order
        # failure tripped the breaker since.
        if trader.signals == signals or self.breaker.tripped != tripped:
            trader.update_state(now)
        if self.orders.has_open and trader.sessions.is_open(now):
            await self.orders.cancel_stale(self.stale_after)

    # ---- exact: every minute, every bar -----------------------------------------------------
    async def run_exact(self) -> None:
        """Every minute of every session; every regular bar goes to the strategy."""
        rows = self._regular_by_minute()
        total = len(self.grid)
        for n, at in enumerate(self.grid.tolist()):
            bars = [self.market.bars[s].bar(i) for s, i in rows.get(at - MINUTE, [])]
            await self.cycle(at, bars, None)
            if self.progress is not None and n % 1000 == 0:
                self.progress(n / total)

    def _regular_by_minute(self) -> dict[int, list[tuple[str, int]]]:
        out: dict[int, list[tuple[str, int]]] = {}
        for symbol in self.market.symbols:
            bars = self.market.bars[symbol]
            for i in np.flatnonzero(bars.regular).tolist():
                out.setdefault(int(bars.ts[i]), []).append((symbol, i))
        return out

    # ---- fast: only where something can happen ----------------------------------------------
    async def run_fast(self) -> None:
        """Cycles at candidate bars and while orders are open; skipped minutes are scanned."""
        cfg = self.config
        cands = find_candidates(self.market, cfg.fast, cfg.medium, cfg.slow)
        opens = np.array([int(s.open.timestamp()) for s in self.sessions], dtype=np.int64)
        fixed = np.union1d(np.unique(cands.decide_at), opens).tolist()
        scanner = _LossScanner(self)
        if not len(self.grid):
            return
        last = int(self.grid[0]) - MINUTE
        # Candidates of instant fixed[n] are cands[ends[n - 1]:ends[n]].
        ends = np.searchsorted(cands.decide_at, fixed, "right").tolist()
        c = 0
        total = len(fixed)
        for n, at in enumerate(fixed):
            if self.orders.has_open:
                last = await self._open_order_minutes(last, at, scanner)
            start, c = c, ends[n]
            bars, ups = self._live_candidates(cands, start, c) if c > start else ([], [])
            if bars:
                await scanner.scan(last, at, inclusive=False)
                await self.cycle(at, bars, ups)
            else:
                await scanner.scan(last, at, inclusive=True)
            last = at
            if self.progress is not None and n % 2000 == 0:
                self.progress(n / total)
        end = int(self.grid[-1])
        last = await self._open_order_minutes(last, end + MINUTE, scanner)
        await scanner.scan(last, end, inclusive=True)
        self.broker.advance_to(_at(end))

    async def _open_order_minutes(self, last: int, until: int, scanner: _LossScanner) -> int:
        """While an order is open, poll every minute (as the bot does) before ``until``."""
        grid = self.grid
        while self.orders.has_open:
            i = int(np.searchsorted(grid, last, "right"))
            if i >= len(grid) or grid[i] >= until:
                break
            at = int(grid[i])
            await scanner.scan(last, at, inclusive=False)
            await self.cycle(at, [], [])
            last = at
        return last

    def _live_candidates(self, cands: Candidates, a: int, b: int) -> tuple[list[Bar], list[bool]]:
        """The candidates of one minute that can signal given what the trader holds.

        The test is the trader's own: a symbol counts as held when a position is held or a buy
        is pending. An entry candidate while held, or an exit candidate while flat, makes
        ``SmaCrossover.on_bar`` return None, so the trader is not called for it.
        """
        bars: list[Bar] = []
        ups: list[bool] = []
        held = self.trader.portfolio.qty
        pending = self.orders.pending_buys() if self.orders.has_open else frozenset()
        for j in range(a, b):
            symbol = cands.names[j]
            holding = held.get(symbol, 0) > 0 or symbol in pending
            up = cands.ups[j]
            if up != holding:
                bars.append(self.market.bars[symbol].bar(cands.rows[j]))
                ups.append(up)
        return bars, ups


class _LossScanner:
    """Finds the skipped minutes where the bot's per-minute state check could latch REDUCING.

    The bot checks its trading state every minute (the heartbeat), and a minute whose equity
    is at or below the session's loss line latches REDUCING for the rest of the session. The
    fast path skips most minutes; between two cycles nothing fills, so cash and positions are
    fixed and the equity of each skipped minute follows from the marks (the exchange's rules,
    :mod:`fleece.backtest.equity`). A cheap lower bound (every position at its lowest mark of
    the session) rules out almost every gap; otherwise the skipped minutes' equity is computed
    with numpy, and at the first one at or below the line the trader's own ``update_state``
    runs there, with the account the exchange reports then, and decides.
    """

    def __init__(self, run: _Run) -> None:
        self.run = run
        self.pct = run.config.limits.max_daily_loss_pct
        self.grid: list[int] = run.grid.tolist()
        self.closes = [int(s.close.timestamp()) for s in run.sessions]
        self.opens = [int(s.open.timestamp()) for s in run.sessions]
        self.cash = round(run.config.cash * 100)
        self._fills_seen = 0
        self._lowest: dict[tuple[str, int], int] = {}
        self._thresholds: dict[int, int] = {}
        self._safe: tuple[int, int] | None = None  # (session, fills) whose bound clears the line

    async def scan(self, last: int, until: int, *, inclusive: bool) -> None:
        """Check the grid minutes after ``last`` and before (or at) ``until``."""
        if not self.run.trader.portfolio.qty:
            return
        grid = self.grid
        a = bisect_right(grid, last)
        b = bisect_right(grid, until) if inclusive else bisect_left(grid, until)
        while a < b:
            k = bisect_left(self.closes, grid[a])  # the session of minute a
            end = min(b, bisect_right(grid, self.closes[k]))
            if self._safe != (k, len(self.run.fills)):
                await self._scan_session(k, a, end)
            a = end

    async def _scan_session(self, k: int, a: int, b: int) -> None:
        run = self.run
        day = run.sessions[k].day
        held = run.trader.portfolio.qty
        if run.memory.reducing_latch() == day:
            return
        # At the close the exchange has just rolled last_equity to the equity itself.
        if self.grid[b - 1] == self.closes[k]:
            b -= 1
        if a >= b:
            return
        self._sync_cash()
        threshold = self._threshold(k)
        if self._lower_bound(k, held) > threshold:
            # Holds until the next fill or session: the gaps of this stretch need no look.
            self._safe = (k, len(run.fills))
            return
        minutes = run.grid[a:b]
        equity = self._equity(minutes, held)
        for hit in np.flatnonzero(equity <= threshold).tolist():
            now = _at(int(minutes[hit]))
            run.broker.advance_to(now)
            run.clock.set(now)
            run.trader.account = run.broker.account_now()
            run.trader.reserved_cash = 0.0
            run.trader.update_state(now)
            if run.memory.reducing_latch() == day:
                return

    def _sync_cash(self) -> None:
        fills = self.run.fills
        for fill in fills[self._fills_seen :]:
            cents = (to_ticks(fill.price) * fill.qty + 50) // 100
            self.cash += cents if fill.side is Side.SELL else -cents
        self._fills_seen = len(fills)

    def _threshold(self, k: int) -> int:
        """Session ``k``'s loss line in cents (its last_equity is fixed all session)."""
        found = self._thresholds.get(k)
        if found is None:
            # The exchange rolls last_equity at each close; past this session's open it holds
            # this session's value, and nothing has filled since (no order is open).
            run = self.run
            if run.engine.now < run.sessions[k].open:
                run.broker.advance_to(run.sessions[k].open)
            last_equity = run.engine.account().last_equity_cents
            found = loss_threshold_cents(last_equity, self.pct)
            self._thresholds[k] = found
        return found

    def _lower_bound(self, k: int, held: dict[str, int]) -> int:
        total = self.cash
        for symbol, qty in held.items():
            low = self._lowest_mark(symbol, k)
            fill = self.run.last_fill.get(symbol)
            if fill is not None:
                low = min(low, fill[1])
            total += (low * qty) // 100
        return total

    def _lowest_mark(self, symbol: str, k: int) -> int:
        """The lowest close that can mark ``symbol`` during session ``k``'s minutes."""
        key = (symbol, k)
        found = self._lowest.get(key)
        if found is None:
            bars = self.run.market.bars[symbol]
            lo = int(np.searchsorted(bars.ts, self.opens[k] - MINUTE, "right")) - 1
            hi = int(np.searchsorted(bars.ts, self.closes[k] - 2 * MINUTE, "right"))
            window = bars.close[max(lo, 0) : max(hi, 1)]
            found = int(window.min()) if len(window) else 0
            self._lowest[key] = found
        return found

    def _equity(self, minutes: I64, held: dict[str, int]) -> I64:
        equity = np.full(len(minutes), self.cash, dtype=np.int64)
        for symbol, qty in held.items():
            bars = self.run.market.bars[symbol]
            i = np.searchsorted(bars.ts, minutes - MINUTE, "right") - 1
            closes = bars.close[np.maximum(i, 0)].astype(np.int64)
            ends = np.where(i >= 0, bars.ts[np.maximum(i, 0)] + MINUTE, np.iinfo(np.int64).min)
            fill_at, fill_ticks = self.run.last_fill.get(symbol, (np.iinfo(np.int64).max, 0))
            marks = np.where((fill_at <= minutes) & (fill_at >= ends), fill_ticks, closes)
            equity += cents_of(marks, np.full(len(minutes), qty, dtype=np.int64))
        return equity


def run_backtest(
    market: MarketData,
    config: BacktestConfig,
    *,
    store: TraderStore | None = None,
    progress: Progress | None = None,
) -> BacktestResult:
    """Replay ``market`` through the trader, risk manager and order manager of the live bot.

    Args:
        market: the bars (see :mod:`fleece.backtest.data`).
        config: limits, windows, cash, slippage and mode.
        store: where intents, fills and refusals go; an in-memory store by default (a
            :class:`~fleece.state_store.StateStore` works too, e.g. to inspect a run with the
            seed's sqlite3 queries).
        progress: called now and then with the fraction done (0 to 1).

    Returns:
        The fills, intents, refusals, equity curve and counters of the run.
    """
    started = time.perf_counter()
    run = _Run(market, config, store, progress)
    if config.mode == "exact":
        asyncio.run(run.run_exact())
    else:
        asyncio.run(run.run_fast())
    curve = equity_curve(market, run.fills, round(config.cash * 100), run.grid, run.session_end)
    elapsed = time.perf_counter() - started
    if progress is not None:
        progress(1.0)
    memory = run.memory
    intents = memory.all_intents() if isinstance(memory, MemoryStore) else _intents_of(memory)
    refusals = memory.refusals if isinstance(memory, MemoryStore) else _refusals_of(memory)
    return BacktestResult(
        config=config,
        market=market,
        sessions=run.sessions,
        fills=sorted(run.fills, key=lambda f: (f.timestamp, f.symbol, f.client_order_id)),
        intents=intents,
        refusals=list(refusals),
        equity=curve,
        signals=run.trader.signals,
        steps=run.steps,
        elapsed=elapsed,
        requests=dict(run.broker.requests),
    )


def _intents_of(store: TraderStore) -> list[IntentRecord]:
    reader = getattr(store, "all_intents", None)
    return list(reader()) if callable(reader) else []


def _refusals_of(store: TraderStore) -> list[Refusal]:
    reader = getattr(store, "refusals", None)
    return list(reader()) if callable(reader) else []
