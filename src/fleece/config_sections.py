"""The sections of ``trading.yaml`` as frozen, strict models (re-exported by :mod:`fleece.config`).

Every section but ``symbols`` has defaults, so the seed's short file stays valid.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    Strict,
    model_validator,
)

from fleece.config_bounds import (
    STOP_BUDGET_SECONDS,
    BreakerFailures,
    FlushSeconds,
    GraceSeconds,
    HeartbeatSeconds,
    PollSeconds,
    Positions,
    ProfitFraction,
    RetentionDays,
    SessionMinutes,
    SnapshotSeconds,
    StopFraction,
    TradesPerDay,
    WarmupBars,
    at_most,
    stop_budget_problem,
)
from fleece.config_errors import located_error
from fleece.models import ENTRY_TIME_IN_FORCE, STALE_ORDER_MINUTES, EntryTimeInForce, Feed
from fleece.notify.events import EVENT_KINDS, EventKind, LevelName
from fleece.strategy.registry import StrategySpec
from fleece.strategy.registry import resolve as resolve_strategy

_TICKER = re.compile(r"[A-Z]{1,5}(\.[A-Z]{1,2})?")


def _fraction(value: float) -> float:
    if not 0 < value <= 1:
        raise ValueError(f"must be a fraction in (0, 1], e.g. 0.10 for 10% (got {value!r})")
    return value


def ticker_problem(value: str) -> str | None:
    """Why ``value`` is not a ticker Alpaca lists (``AAPL``, ``BRK.B``), or None.

    One rule for the config's ``symbols.list`` and the ``--symbols`` options (which upper-case
    first): a symbol also names its bar file, ``<SYMBOL>.csv``.
    """
    if _TICKER.fullmatch(value):
        return None
    return f"invalid symbol {value!r}: expected an upper-case ticker like AAPL or BRK.B"


def _ticker(value: str) -> str:
    if problem := ticker_problem(value):
        raise ValueError(problem)
    return value


def _distinct_tickers(values: tuple[str, ...]) -> tuple[str, ...]:
    if not values:
        raise ValueError("the symbol list is empty: list at least one ticker")
    seen: set[str] = set()
    for ticker in values:
        if ticker in seen:
            raise ValueError(f"duplicate symbol {ticker!r}")
        seen.add(ticker)
    return values


Fraction = Annotated[float, AfterValidator(_fraction)]
Ticker = Annotated[str, Strict(), AfterValidator(_ticker)]

# Strict: YAML already gives ints, floats and bools, so "20" for a count is a mistake to refuse.
_SECTION = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


class SymbolsConfig(BaseModel):
    """``symbols``: which tickers to trade (``list`` in YAML)."""

    model_config = _SECTION
    mode: Literal["explicit"] = "explicit"
    tickers: Annotated[tuple[Ticker, ...], AfterValidator(_distinct_tickers)] = Field(
        alias="list", strict=False
    )


class RiskConfig(BaseModel):
    """``risk``: limits the risk manager enforces."""

    model_config = _SECTION
    max_position_pct: Fraction = 0.10
    # 1.0 means no daily loss stop (risk_limits.has_daily_loss_stop).
    max_daily_loss_pct: Fraction = 0.05
    max_trades_per_day: TradesPerDay = 20
    max_concurrent_positions: Positions = 10
    circuit_breaker_failures: BreakerFailures = 5
    # Total exposure as a multiple of equity, whatever margin buying power says; 1.0: no borrowing.
    max_leverage: Annotated[float, Field(gt=0), at_most(4.0, "Alpaca's intraday margin")] = 1.0
    # Protective exits, as fractions of the entry price (fleece.protection); unset: none.
    stop_loss_pct: StopFraction | None = None
    take_profit_pct: ProfitFraction | None = None
    trailing_stop_pct: StopFraction | None = None


class StrategyConfig(BaseModel):
    """``strategy``: which strategy (``name``) and its parameters, beside the name.

    ``name`` is a built-in (``sma_crossover``, ``donchian_breakout``, ``opening_range``), an
    installed entry point of the group ``fleece.strategies``, ``path/to/file.py:Class`` or
    ``package.module:Class`` (:mod:`fleece.strategy.registry`); every other key is a parameter,
    validated by the strategy's own ``Params`` (unknown ones refused with a did-you-mean).
    """

    model_config = ConfigDict(extra="allow", frozen=True)
    name: Annotated[str, Field(min_length=1, max_length=500)] = "sma_crossover"
    _spec: StrategySpec | None = PrivateAttr(default=None)

    @property
    def params(self) -> dict[str, Any]:
        """The parameters as written (every key but ``name``)."""
        return dict(self.model_extra or {})

    @property
    def spec(self) -> StrategySpec:
        """The strategy class and its validated parameters (found once, then kept)."""
        if self._spec is None:
            self._spec = resolve_strategy(self.name, self.params)
        return self._spec

    def resolve(self, source: str, base: Path) -> None:
        """Find the strategy now, naming ``source`` in errors and reading files from ``base``."""
        self._spec = resolve_strategy(self.name, self.params, source=source, base=base)

    def with_params(self, **changes: Any) -> StrategyConfig:
        """A copy with some parameters changed (validated by the strategy; a sweep's axes).

        Raises:
            ValueError: a changed value the strategy refuses (``parameter: reason``).
        """
        spec = self.spec.with_params(**changes)
        copy = StrategyConfig.model_validate({"name": self.name, **spec.params.model_dump()})
        copy._spec = spec
        return copy


class DataConfig(BaseModel):
    """``data``: the market-data feed.

    ``poll_interval_seconds`` is in simulated seconds in sim mode. Bars complete on minute
    boundaries, so polling every few seconds means a bar is seen just after it closes.
    ``bar_settle_seconds``: a minute without a bar counts as empty (no trade: the strategy's
    windows repeat the last close) once a poll made this long after the minute's end answered
    without one. Alpaca publishes a minute bar 1-3 s after the minute ends; 5 s covers its worst
    case with 2 s to spare for clock skew, and still decides within the minute's first tenth.
    A sub-minute poll never lands before it.
    ``warmup_bars``: minutes of history loaded at start (at least the strategy's warm-up,
    which is also the default).
    """

    model_config = _SECTION
    feed: Feed = "iex"
    poll_interval_seconds: PollSeconds = 5.0
    bar_settle_seconds: Annotated[float, Field(ge=0, le=30, allow_inf_nan=False)] = 5.0
    warmup_bars: WarmupBars | None = None

    @property
    def poll_offset_seconds(self) -> float:
        """How long after each minute boundary the bot polls (the backtest's cycles too).

        A sub-minute interval is that delay, but never before the minute's bars have settled
        (an earlier poll would judge the minute a minute late, and the bot would trade a minute
        after its backtest); a minute or more polls on the minute.
        """
        seconds = self.poll_interval_seconds
        return max(seconds, self.bar_settle_seconds) if seconds < 60 else 0.0


class OrdersConfig(BaseModel):
    """``orders``: how long an unfilled order may live, its time in force, and who holds the
    protective exits (``broker``: Alpaca, as good-till-cancelled orders; ``bot``: the bot watches
    each minute and sends market exits; see :mod:`fleece.protection`)."""

    model_config = _SECTION
    stale_order_minutes: SessionMinutes = STALE_ORDER_MINUTES
    time_in_force: EntryTimeInForce = ENTRY_TIME_IN_FORCE
    protective: Literal["broker", "bot"] = "broker"


def _close_mode(value: object) -> object:
    # Before own|all|none the key was a boolean: true (close) now reads as own, the safe reading
    # (the old 'sell every position on the account' was the bug), false as none.
    if value is True:
        return "own"
    if value is False:
        return "none"
    return value


class ShutdownConfig(BaseModel):
    """``shutdown``: what a graceful stop does, within ``grace_seconds``.

    ``close_positions``: ``own`` (the positions the bot's own orders built, see
    :mod:`fleece.ownership`), ``all`` (every position and order on the account) or ``none``;
    ``true``/``false`` read as ``own``/``none``. ``cancel_open_orders`` cancels the bot's open
    orders, every open order only with ``all``. ``keep_protective`` keeps the protective orders
    of the positions left open (the default), whatever the rest.
    """

    model_config = _SECTION
    cancel_open_orders: bool = True
    close_positions: Annotated[Literal["own", "all", "none"], BeforeValidator(_close_mode)] = "own"
    grace_seconds: GraceSeconds = 25.0
    # Protective orders at the broker of positions the stop leaves open stay there (they protect
    # them while the bot is down); false cancels them with the bot's other orders.
    keep_protective: bool = True


class HousekeepingConfig(BaseModel):
    """``housekeeping``: periodic tasks."""

    model_config = _SECTION
    heartbeat_seconds: HeartbeatSeconds = 60.0
    equity_snapshot_seconds: SnapshotSeconds = 60.0
    bar_retention_days: RetentionDays = 30


def _distinct_kinds(values: tuple[EventKind, ...]) -> tuple[EventKind, ...]:
    if len(set(values)) != len(values):
        raise ValueError("an event is listed twice")
    return values


class NotificationsConfig(BaseModel):
    """``notifications``: which events go to ``NOTIFY_URLS``, and how they are delivered."""

    model_config = _SECTION
    events: Annotated[tuple[EventKind, ...], AfterValidator(_distinct_kinds)] = Field(
        default=EVENT_KINDS, strict=False
    )
    min_level: LevelName = "info"
    # Fills within this many real seconds of the first one go out as one message.
    fill_batch_seconds: Annotated[float, Field(ge=0, le=60)] = 2.0
    # Real seconds without one successful broker request before "broker unreachable".
    broker_down_seconds: Annotated[float, Field(ge=10, le=86_400)] = 120.0
    queue_size: Annotated[int, Field(ge=10, le=100_000)] = 1000
    retries: Annotated[int, Field(ge=0, le=10)] = 3
    # Real seconds the stop waits for the last messages (the run summary) to go out, after the
    # wind-down: both within the launchers' stop timeout (TradingConfig checks the sum).
    flush_seconds: FlushSeconds = 10.0


class TradingConfig(BaseModel):
    """The whole ``trading.yaml``."""

    model_config = _SECTION
    symbols: SymbolsConfig
    session_policy: Literal["regular_only"] = "regular_only"
    risk: RiskConfig = Field(default_factory=RiskConfig)
    strategy: StrategyConfig = Field(default_factory=StrategyConfig)
    data: DataConfig = Field(default_factory=DataConfig)
    orders: OrdersConfig = Field(default_factory=OrdersConfig)
    shutdown: ShutdownConfig = Field(default_factory=ShutdownConfig)
    housekeeping: HousekeepingConfig = Field(default_factory=HousekeepingConfig)
    notifications: NotificationsConfig = Field(default_factory=NotificationsConfig)

    @property
    def tickers(self) -> tuple[str, ...]:
        """The symbols to trade, in file order."""
        return self.symbols.tickers

    @model_validator(mode="after")
    def _stop_fits_the_launchers_timeout(self) -> TradingConfig:
        # The stop waits for the wind-down, then for the last messages: the launchers' SIGKILL
        # must find both done. The refusal names the key to lower: the grace when no flush
        # could make room for it or the file sets only the grace, else the flush.
        shutdown, notifications = self.shutdown, self.notifications
        grace, flush = shutdown.grace_seconds, notifications.flush_seconds
        grace_only = "grace_seconds" in shutdown.model_fields_set and (
            "flush_seconds" not in notifications.model_fields_set
        )
        if grace_only or grace > STOP_BUDGET_SECONDS:
            key, value = ("shutdown", "grace_seconds"), grace
            problem = stop_budget_problem(grace, "notifications.flush_seconds", flush)
        else:
            key, value = ("notifications", "flush_seconds"), flush
            problem = stop_budget_problem(flush, "shutdown.grace_seconds", grace)
        if problem is not None:
            raise located_error(type(self).__name__, key, value, problem)
        return self
