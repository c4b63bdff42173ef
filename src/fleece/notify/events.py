"""What the bot tells its operator: one frozen dataclass per event, each with a kind and a level.

Events are facts handed to an :class:`EventSink` by the runtime, the trader, the order manager and
housekeeping. Emitting one never blocks and never raises (see :mod:`fleece.notify.hub`): the
trading path does not wait for a notification, ever. This module is pure data; wording lives in
:mod:`fleece.notify.messages`.

``kind`` is what ``notifications.events`` in ``trading.yaml`` selects; ``level`` is compared with
``notifications.min_level``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from enum import IntEnum
from typing import ClassVar, Literal, Protocol, TypeVar, dataclass_transform, get_args

from fleece.models import Fill, TradingState

EventKind = Literal[
    "started",
    "stopped",
    "fill",
    "trading_state",
    "circuit_breaker",
    "reconciliation",
    "broker",
    "error",
    "daily_summary",
]
EVENT_KINDS: tuple[EventKind, ...] = get_args(EventKind)
LevelName = Literal["info", "warning", "error"]


class Level(IntEnum):
    """How urgent an event is (``notifications.min_level`` drops the ones below it)."""

    INFO = 1
    WARNING = 2
    ERROR = 3

    @classmethod
    def named(cls, name: LevelName) -> Level:
        """The level called ``name`` in ``trading.yaml``."""
        return cls[name.upper()]


class _Tagged:
    """What every event has: a ``kind`` and a ``level``, set once by :func:`event`."""

    __slots__ = ()
    kind: ClassVar[EventKind]
    _level: ClassVar[Level]

    @property
    def level(self) -> Level:
        """How urgent the event is (an event class may compute it from its fields instead)."""
        return self._level


_E = TypeVar("_E", bound=_Tagged)


@dataclass_transform(frozen_default=True)
def event(kind: EventKind, level: Level = Level.INFO) -> Callable[[type[_E]], type[_E]]:
    """Class decorator: a frozen dataclass event of ``kind`` and (unless computed) ``level``."""

    def tag(cls: type[_E]) -> type[_E]:
        made = dataclass(frozen=True, slots=True)(cls)
        made.kind = kind
        made._level = level
        return made

    return tag


@dataclass(frozen=True, slots=True)
class RunFigures:
    """What a run did, read from the store at its end (the stop message's summary)."""

    orders: int
    fills: int
    buys: int
    sells: int
    realised_pnl: float
    refusals: dict[str, int]
    equity_start: float | None
    equity_end: float | None
    open_positions: int


@event("started", Level.INFO)
class BotStarted(_Tagged):
    """The bot reconciled, warmed up and trades."""

    at: datetime
    mode: str
    symbols: tuple[str, ...]
    equity: float | None
    state: TradingState
    dry_run: bool


@event("stopped")
class BotStopped(_Tagged):
    """The bot stopped: why, and the run's figures (None when the store was never opened)."""

    at: datetime
    reason: str
    exit_code: int
    figures: RunFigures | None

    @property
    def level(self) -> Level:
        """A stop with a non-zero exit code is an error."""
        return Level.INFO if self.exit_code == 0 else Level.ERROR


@event("fill", Level.INFO)
class FillNotice(_Tagged):
    """One fill; ``pnl`` is the realised P&L of an exit (average cost), None for an entry."""

    fill: Fill
    pnl: float | None


@event("trading_state")
class StateChanged(_Tagged):
    """The trading state moved (HALTED, REDUCING, back to ACTIVE)."""

    at: datetime
    old: TradingState
    new: TradingState
    why: str

    @property
    def level(self) -> Level:
        """HALTED is an error, REDUCING a warning, ACTIVE again good news."""
        return {
            TradingState.HALTED: Level.ERROR,
            TradingState.REDUCING: Level.WARNING,
        }.get(self.new, Level.INFO)


@event("circuit_breaker", Level.ERROR)
class BreakerTripped(_Tagged):
    """Consecutive order failures tripped the circuit breaker: trading is HALTED."""

    at: datetime
    failures: int
    last_error: str


@event("reconciliation", Level.WARNING)
class Discrepancy(_Tagged):
    """Reconciliation found the store and the broker disagreeing (and what was done)."""

    at: datetime
    what: str
    symbol: str | None
    detail: str


@event("broker", Level.ERROR)
class BrokerDown(_Tagged):
    """No broker request has succeeded for ``seconds`` real seconds."""

    seconds: float
    last_error: str


@event("broker", Level.INFO)
class BrokerBack(_Tagged):
    """The broker answers again after an outage of ``seconds`` real seconds."""

    seconds: float


@event("error", Level.ERROR)
class ErrorRaised(_Tagged):
    """An unhandled error in one of the bot's tasks (it is restarted, or the bot stops)."""

    at: datetime
    where: str
    error: str


@event("daily_summary", Level.INFO)
class DailySummary(_Tagged):
    """A session's figures after the close (also the answer to Telegram's ``/daily``)."""

    day: date
    pnl: float | None
    equity: float | None
    trades: int
    fills: int
    realised_pnl: float
    refusals: dict[str, int]
    positions: int


Event = (
    BotStarted
    | BotStopped
    | FillNotice
    | StateChanged
    | BreakerTripped
    | Discrepancy
    | BrokerDown
    | BrokerBack
    | ErrorRaised
    | DailySummary
)


class EventSink(Protocol):
    """Where the bot's objects hand their events: must return at once and never raise."""

    def emit(self, event: Event) -> None:
        """Take one event (queue it, or ignore it)."""
        ...

    def beat(self) -> None:
        """The bot's heartbeat: ping the dead-man's switch, if one is configured."""
        ...


class NullSink:
    """The sink of objects built without notifications (backtests, tests): ignores everything."""

    def emit(self, event: Event) -> None:
        """Ignore ``event``."""

    def beat(self) -> None:
        """Nothing to ping."""


NULL_SINK = NullSink()
"""Shared and stateless: objects default to it until the runtime injects its hub."""
