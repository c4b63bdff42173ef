"""What a backtest takes besides the bars, and what it gives back."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, Protocol, TypedDict

from fleece.accounting import OPENING_CASH, opening_cash_problem
from fleece.backtest.data import MarketData
from fleece.backtest.equity import EquityCurve
from fleece.calendar import Session
from fleece.intents import IntentRecord
from fleece.models import ENTRY_TIME_IN_FORCE, STALE_ORDER_MINUTES, Fill, Refusal
from fleece.protection import OFF, Protection
from fleece.risk_limits import RiskLimits
from fleece.strategy.registry import StrategySpec, resolve
from fleece.trader import TraderStore


class RecordingStore(TraderStore, Protocol):
    """A store the run's record can be read back from (the state store or a memory store)."""

    def all_intents(self) -> list[IntentRecord]: ...

    def refusals(self, since: datetime | None = None) -> list[Refusal]: ...


Mode = Literal["fast", "exact"]
Progress = Callable[[float], None]


class RunOptions(TypedDict, total=False):
    """What a run may be given besides its bars and configuration (all optional).

    Attributes:
        store: where intents, fills and refusals go; an in-memory store by default (a
            :class:`~fleece.state_store.StateStore` works too, e.g. to inspect a run with the
            seed's sqlite3 queries).
        progress: called now and then with the fraction done (0 to 1).
        start_at: decide only on bars closing after this instant (earlier bars only warm the
            strategy up).
        holdings: positions held when decisions start, bought at each symbol's first regular
            bar (``config.cash`` is then the cash left when decisions start).
    """

    store: RecordingStore | None
    progress: Progress | None
    start_at: datetime | None
    holdings: Mapping[str, int] | None


def default_strategy() -> StrategySpec:
    """The seed's strategy: ``sma_crossover`` 10/30/90."""
    return resolve("sma_crossover", {})


@dataclass(frozen=True)
class BacktestConfig:
    """What a run needs besides the bars.

    Attributes:
        limits: the risk limits (from the trading config).
        strategy: the strategy and its parameters (each run builds a fresh one from it).
        cash: starting cash in dollars.
        slippage_bps: market-order slippage in basis points (the exchange's rule).
        stale_order_minutes: open orders older than this are cancelled (housekeeping's rule).
        time_in_force: the orders' time in force.
        seed: seeds the exchange's order ids.
        mode: ``"fast"`` or ``"exact"`` (same result; see the runner's docstring; a strategy
            without a vectorised path always runs bar by bar).
        poll_offset_seconds: how long after each minute boundary the bot polls
            (``DataConfig.poll_offset_seconds``): the instant of every cycle, so orders, fills
            and refusals carry the bot's own timestamps.
        protection: the protective exits (:mod:`fleece.protection`); with any set, every
            minute runs bar by bar (stops may fill in any minute a position is held).
    """

    limits: RiskLimits
    strategy: StrategySpec = field(default_factory=default_strategy)
    cash: float = OPENING_CASH
    slippage_bps: float = 0.0
    stale_order_minutes: int = STALE_ORDER_MINUTES
    time_in_force: str = ENTRY_TIME_IN_FORCE
    seed: int = 0
    mode: Mode = "fast"
    poll_offset_seconds: float = 0.0
    protection: Protection = OFF

    def __post_init__(self) -> None:
        if not 0 <= self.poll_offset_seconds < 60:
            raise ValueError(f"poll offset must be in [0, 60) s, got {self.poll_offset_seconds}")
        if problem := opening_cash_problem(self.cash):
            raise ValueError(f"cash {problem}")
        if not (math.isfinite(self.slippage_bps) and self.slippage_bps >= 0):
            raise ValueError(f"slippage_bps must be >= 0, got {self.slippage_bps}")
        if self.mode not in ("fast", "exact"):
            raise ValueError(f"mode must be 'fast' or 'exact', got {self.mode!r}")

    @property
    def cash_cents(self) -> int:
        """:attr:`cash` in whole cents."""
        return round(self.cash * 100)


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
        initial_cents: the account's equity when decisions start, in cents: the configured
            cash plus what the starting holdings cost (the equity curve starts from it, and
            so do the statistics).
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
    initial_cents: int
    requests: dict[str, int] = field(default_factory=dict)

    @property
    def bars(self) -> int:
        """Regular-session bars replayed (the bars the strategy decides on)."""
        return self.market.regular_count

    @property
    def bars_per_second(self) -> float:
        """Replay speed."""
        return self.bars / self.elapsed if self.elapsed > 0 else float("inf")
