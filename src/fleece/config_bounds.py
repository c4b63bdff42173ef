"""Bounds on the configured numbers: what ``fleece config check`` accepts must run.

Each number is bounded by what it means, and its refusal says why, e.g.
``config/trading.yaml: strategy.slow: must be at most 1,950: a week of regular-session
minutes (5 x 390) ... (got 100000000000)``. Before these bounds a slow window of 1e11 passed the
check and then failed with a MemoryError on every bar while the bot reported ACTIVE.

New keys reuse a type below, or build one from :func:`at_most` / :func:`at_least` with their
own reason, so that every refusal reads the same::

    max_leverage: Annotated[Positive[float], at_most(4.0, "Alpaca's intraday limit")] = 1.0

Bounds that need the disk or the market calendar (a writable store, dates the calendar knows)
are checked by :mod:`fleece.preflight`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, TypeVar

from pydantic import AfterValidator, Field

from fleece.bot_process import STOP_TIMEOUT_SECONDS
from fleece.models import REQUESTS_PER_MINUTE

_Number = TypeVar("_Number", int, float)

Positive = Annotated[_Number, Field(gt=0)]
"""An ``int`` or ``float`` above zero, as ``Positive[int]``: bound it above with :func:`at_most`."""

MINUTES_PER_SESSION = 390
"""Regular-session minutes of a full NYSE day (9:30 to 16:00 ET)."""


def _number(value: float) -> str:
    return f"{value:,}" if isinstance(value, int) else f"{value:,g}"


@dataclass(frozen=True)
class Bound(AfterValidator):
    """An :class:`AfterValidator` that also says its bound (``fleece strategy list`` shows it)."""

    sign: str = "<="
    limit: float = 0


def at_most(limit: float, why: str) -> AfterValidator:
    """A validator refusing values above ``limit``, saying ``why`` the limit is what it is."""

    def check(value: float) -> float:
        if value > limit:
            raise ValueError(f"must be at most {_number(limit)}: {why} (got {value!r})")
        return value

    return Bound(check, "<=", limit)


def at_least(limit: float, why: str) -> AfterValidator:
    """A validator refusing values below ``limit``, saying ``why``."""

    def check(value: float) -> float:
        if value < limit:
            raise ValueError(f"must be at least {_number(limit)}: {why} (got {value!r})")
        return value

    return Bound(check, ">=", limit)


# Keys without a more telling bound get these: nothing the bot counts reaches a million, and
# nothing it waits for lasts longer than a day.
Count = Annotated[Positive[int], at_most(1_000_000, "no count of the bot's comes near it")]
"""A positive count; prefer a bound that says what the count means."""

Seconds = Annotated[Positive[float], at_most(86_400, "a day; the bot waits for nothing longer")]
"""A positive duration in seconds; prefer a bound that says what it waits for."""


# --------------------------------------------------------------------------- trading.yaml

MAX_WINDOW_BARS = 5 * MINUTES_PER_SESSION
WindowBars = Annotated[
    Positive[int],
    at_most(
        MAX_WINDOW_BARS,
        "a week of regular-session minutes (5 x 390); a longer window needs more than a week "
        "of bars before its first signal",
    ),
]
"""A strategy window in 1-minute bars (``strategy.fast``, ``medium``, ``slow``)."""

WarmupBars = Annotated[
    int,
    Field(ge=0),
    at_most(MAX_WINDOW_BARS, "no window is longer (a week of regular-session minutes)"),
]
"""``data.warmup_bars``."""

MAX_TRADES_PER_DAY = REQUESTS_PER_MINUTE * MINUTES_PER_SESSION
TradesPerDay = Annotated[
    Positive[int],
    at_most(
        MAX_TRADES_PER_DAY,
        f"Alpaca takes {REQUESTS_PER_MINUTE} requests a minute, at most "
        f"{MAX_TRADES_PER_DAY:,} orders in a {MINUTES_PER_SESSION}-minute session",
    ),
]
"""``risk.max_trades_per_day``."""

Positions = Annotated[
    Positive[int],
    at_most(10_000, "more positions than there are US-listed stocks and ETFs"),
]
"""``risk.max_concurrent_positions``."""

BreakerFailures = Annotated[
    Positive[int],
    at_most(1_000, "a breaker waiting for more failures in a row would never trip in time"),
]
"""``risk.circuit_breaker_failures``."""

SessionMinutes = Annotated[
    Positive[int],
    at_most(MINUTES_PER_SESSION, "a day order lives one regular session (390 minutes) at most"),
]
"""``orders.stale_order_minutes``."""

PollSeconds = Annotated[
    Positive[float],
    at_most(3600, "the strategy decides every minute; hourly polls already act on stale bars"),
]
"""``data.poll_interval_seconds``."""

STOP_MARGIN_SECONDS = 10
"""What a stop needs beyond its wind-down and its last messages: the run's record, the store
closed, the process's exit."""
STOP_BUDGET_SECONDS = STOP_TIMEOUT_SECONDS - STOP_MARGIN_SECONDS
"""What a stop's wind-down (``shutdown.grace_seconds``) and then its last messages
(``notifications.flush_seconds``) may take together: :func:`stop_budget_problem`."""
_KILLED = (
    f"systemd (TimeoutStopSec={STOP_TIMEOUT_SECONDS}) and Docker (stop_grace_period "
    f"{STOP_TIMEOUT_SECONDS}s) kill the bot {STOP_TIMEOUT_SECONDS} s after SIGTERM"
)
# Each of the stop's two waits is bounded by what the other leaves (stop_budget_problem, one
# refusal saying how much room there is), not each by the whole budget: two rules would let
# both take it all.
GraceSeconds = Annotated[Positive[float], Field(allow_inf_nan=False)]
"""``shutdown.grace_seconds``: bounded with the flush by :func:`stop_budget_problem`."""

FlushSeconds = Annotated[float, Field(ge=0, allow_inf_nan=False)]
"""``notifications.flush_seconds``: bounded with the grace by :func:`stop_budget_problem`."""


def stop_budget_problem(value: float, other_key: str, other: float) -> str | None:
    """Why a stop's wind-down and last messages, ``value`` and ``other`` seconds, cannot both
    fit before the launchers' SIGKILL (None when they fit).

    The stop waits for one, then for the other: ``shutdown.grace_seconds`` plus
    ``notifications.flush_seconds`` must stay within :data:`STOP_BUDGET_SECONDS`. ``other_key``
    names the one not refused.
    """
    if value + other <= STOP_BUDGET_SECONDS:
        return None
    room = max(STOP_BUDGET_SECONDS - other, 0)
    return (
        f"must be at most {room:,g} with {other_key} {other:g}: a stop waits for its "
        f"wind-down, then for its last messages, and {_KILLED}; together they must stay within "
        f"{STOP_BUDGET_SECONDS} s, leaving {STOP_MARGIN_SECONDS} s for the run's record "
        f"(got {value!r})"
    )


HeartbeatSeconds = Annotated[
    Positive[float],
    at_most(3600, "fleece status calls the bot stale after three missed heartbeats"),
]
"""``housekeeping.heartbeat_seconds``."""

SnapshotSeconds = Annotated[
    Positive[float],
    at_most(3600, "the equity curve (dashboard, status) needs a point an hour at least"),
]
"""``housekeeping.equity_snapshot_seconds``."""

RetentionDays = Annotated[
    Positive[int],
    at_most(3660, "ten years of minute bars, beyond any replay or chart the store serves"),
]
"""``housekeeping.bar_retention_days``."""


# --------------------------------------------------------------------------- environment

TimeoutSeconds = Annotated[
    float,
    Field(allow_inf_nan=False),
    at_least(0.1, "even the built-in exchange on loopback needs that long under load"),
    at_most(300, "a broker call hanging longer holds up the whole poll cycle"),
]
"""``ALPACA_TIMEOUT_SECONDS``."""

MAX_SIM_SPEED = 10_000
SimSpeed = Annotated[
    float,
    Field(allow_inf_nan=False),
    at_least(1, "1 is real time; slower than real time serves no purpose"),
    at_most(
        MAX_SIM_SPEED,
        "a session then passes in 2.3 s and the bot already polls only every few simulated "
        "minutes; beyond, the simulated clock outruns it (1e308 overflowed the clock)",
    ),
]
"""``SIM_SPEED`` (and ``fleece demo --speed``)."""

MAX_SIM_DAYS = 252
SimDays = Annotated[
    int,
    Field(ge=1),
    at_most(MAX_SIM_DAYS, "a year of sessions; the built-in exchange holds every bar in memory"),
]
"""``SIM_DAYS``; :mod:`fleece.preflight` also fits them in the calendar and in memory."""

SimSeed = Annotated[
    int,
    Field(ge=0),
    at_most(2**63 - 1, "a seed is a 64-bit number"),
]
"""``SIM_SEED``."""


def _never_or_at_least_a_kibibyte(value: int) -> int:
    if 0 < value < 1024:
        raise ValueError(
            f"must be 0 (never rotate) or at least 1,024: a smaller file would rotate every few "
            f"lines, renaming every backup each time (got {value!r})"
        )
    return value


LogBytes = Annotated[
    int,
    Field(ge=0),
    AfterValidator(_never_or_at_least_a_kibibyte),
    at_most(2**40, "a log file of a terabyte is never read; rotate sooner (0: never)"),
]
"""``LOG_MAX_BYTES``."""


# --------------------------------------------------------------------------- protective exits

StopFraction = Annotated[
    Positive[float],
    at_most(
        0.5,
        "a stop half the entry price away protects nothing a minute bot holds; the daily loss "
        "limit is the wider guard",
    ),
]
"""A stop's (or trailing stop's) distance below the entry, as a fraction of the entry price."""

ProfitFraction = Annotated[
    Positive[float],
    at_most(10.0, "a take-profit at eleven times the entry price is no exit a minute bot meets"),
]
"""A take-profit's distance above the entry, as a fraction of the entry price."""
