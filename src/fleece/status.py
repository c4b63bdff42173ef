"""What ``fleece status`` reports: is the bot running, and what does its store say.

Everything is read from the PID file, ``/proc`` and the state store, so it works whether the bot
runs or not, and from another process (``./bot.sh status``, ``make status``, Docker's
HEALTHCHECK via ``fleece status --check``). Nothing here sends an order or changes a setting.

Which process is the bot (:mod:`fleece.bot_process`): the PID file's, else the PID of the
store's latest run that has not recorded a stop, while its command line is the bot's.

Time: ``now`` is the wall clock, injected by the caller. In sim mode (and against a loopback
``fleece exchange``) the store's timestamps are *simulated*, so a heartbeat's age cannot be
measured against the wall clock; the health check then uses how long ago the store file was
last written instead.

The process is found by :mod:`fleece.bot_process`. This module imports only the standard
library and modules that do too at the top (status is a quick command); the store, calendar and
P&L code are imported where they are needed.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fleece.bot_process import ProcessStatus, find_bot_process
from fleece.derive import from_attributes, replace_from
from fleece.notify.messages import duration_text, symbol_reasons

if TYPE_CHECKING:
    from fleece.config import AppConfig
    from fleece.read_model import BotSnapshot
    from fleece.state_store import BotRun, StateStore

HEARTBEATS_BEFORE_STALE = 3
MIN_MAX_AGE_SECONDS = 120.0


# --------------------------------------------------------------------------- the store


@dataclass(frozen=True, slots=True)
class PositionStatus:
    """A holding rebuilt from the recorded fills, valued at the last stored bar."""

    symbol: str
    qty: int
    avg_cost: float
    last_price: float | None
    last_price_at: datetime | None
    unrealised: float | None


@dataclass(frozen=True, slots=True)
class OrderStatus:
    """An order intent the broker may still act on."""

    client_order_id: str
    symbol: str
    side: str
    qty: int
    filled_qty: int
    status: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class HeartbeatStatus:
    """The latest heartbeat; ``age_seconds`` is None when its time is simulated."""

    at: datetime
    age_seconds: float | None
    state: str
    equity: float | None
    positions: int
    open_orders: int


@dataclass(frozen=True, slots=True)
class DayStatus:
    """Today's figures against the risk limits (``today`` is simulated in sim mode).

    ``loss_limit`` is None when the start equity is unknown, or when there is no daily loss
    stop (``max_daily_loss_pct`` 1.0).
    """

    session_date: date
    start_equity: float | None
    equity: float | None
    pnl: float | None
    max_daily_loss_pct: float
    loss_limit: float | None
    trades_submitted: int
    max_trades_per_day: int
    refusals: dict[str, int]


@dataclass(frozen=True, slots=True)
class MarketStatus:
    """NYSE regular session at the wall clock; ``at_heartbeat`` at the last heartbeat's time."""

    open: bool | None
    next_open: datetime | None
    next_close: datetime | None
    at_heartbeat: bool | None


@dataclass(frozen=True, slots=True)
class BotStatus:
    """Everything ``fleece status`` shows."""

    checked_at: datetime
    process: ProcessStatus
    database: str
    database_exists: bool
    mode: str
    simulated_time: bool
    trading_state: str = "ACTIVE"
    state_reason: str = ""
    kill_switch: bool = False
    kill_switch_reason: str = ""
    kill_switch_env: bool = False
    breaker_tripped: bool = False
    breaker_failures: int = 0
    breaker_limit: int = 0
    heartbeat: HeartbeatStatus | None = None
    store_written_age_seconds: float | None = None
    market: MarketStatus = MarketStatus(None, None, None, None)
    positions: tuple[PositionStatus, ...] = ()
    open_orders: tuple[OrderStatus, ...] = ()
    today: DayStatus | None = None
    last_run: BotRun | None = None  # the store's record of the latest start
    heartbeat_seconds: float = 60.0
    notes: tuple[str, ...] = field(default=())
    dropped_symbols: tuple[str, ...] = ()  # "GOLD (not tradable)": dropped at the last start


def collect_status(config: AppConfig, *, pid_file: Path, now: datetime) -> BotStatus:
    """Read the bot's status from the PID file, ``/proc`` and the store (which it never creates).

    Args:
        config: the validated configuration (database path, risk limits, heartbeat period).
        pid_file: the PID file of ``bot.sh`` / ``daemon.py``.
        now: the wall-clock time, timezone-aware.

    Returns:
        The status; with no database yet, only the process and market parts are filled in.
    """
    from fleece.models import TradingState
    from fleece.read_model import (
        build_snapshot,
        kill_switch_state,
        last_run,
        stopped_now,
        stored_mode,
        stored_simulated_time,
    )
    from fleece.risk_manager import halt_reason
    from fleece.state_store import StateStore

    s, t = config.settings, config.trading
    db = Path(s.database_path)
    # Without a store only the environment's switch is known (the read model's rule).
    kill, kill_why = kill_switch_state(s.kill_switch, (False, ""))
    halted = halt_reason(store_failed=False, kill_switch=kill, breaker_tripped=False)
    base = BotStatus(
        checked_at=now,
        process=find_bot_process(pid_file, None),
        database=str(db),
        database_exists=False,
        mode=s.fleece_mode,
        simulated_time=stored_simulated_time(config, s.fleece_mode),
        trading_state=TradingState.HALTED.value if halted else TradingState.ACTIVE.value,
        state_reason=halted,
        kill_switch=kill,
        kill_switch_reason=kill_why,
        kill_switch_env=s.kill_switch,
        breaker_limit=t.risk.circuit_breaker_failures,
        heartbeat_seconds=t.housekeeping.heartbeat_seconds,
    )
    if not db.exists():
        return replace(
            base,
            market=_market(now, None),
            notes=("no database yet: the bot has not run with this DATABASE_PATH",),
        )

    # Before opening: our own connection creates the WAL file and would look like a write.
    written_age = _written_age(db, now)
    with StateStore(db) as store:
        run = last_run(store)
        unfinished_pid = run.unfinished_pid if run else None
        # The run's mode says what wrote these timestamps; the config may have changed since.
        mode = stored_mode(config, run)
        # Judged where the dashboard judges the same store: the wall clock, or where a
        # simulated clock stopped (:func:`fleece.read_model.stopped_now`).
        judged_at, simulated = stopped_now(store, config, now)
        heartbeat = _heartbeat(store, now, simulated)
        sim_now = heartbeat.at if simulated and heartbeat else None
        # The bot's state by the read model every viewer shows (:mod:`fleece.read_model`).
        snap = build_snapshot(store, config, judged_at)
        dropped = tuple(symbol_reasons(snap.dropped_symbols))
        # The snapshot's fields of the same names (state reason, kill switch, breaker) carry over.
        return replace_from(
            base,
            snap,
            process=find_bot_process(pid_file, unfinished_pid),
            database_exists=True,
            mode=mode,
            simulated_time=simulated,
            trading_state=snap.state.value,
            heartbeat=heartbeat,
            store_written_age_seconds=written_age,
            market=_market(now, sim_now),
            positions=_positions(snap),
            open_orders=_open_orders(snap),
            today=_day(snap),
            last_run=run,
            dropped_symbols=dropped,
        )


def _heartbeat(store: StateStore, now: datetime, simulated: bool) -> HeartbeatStatus | None:
    beat = store.last_heartbeat()
    if beat is None:
        return None
    from fleece.clock import seconds_since

    age = None if simulated else round(seconds_since(now, beat.timestamp) or 0.0, 1)
    return HeartbeatStatus(
        beat.timestamp, age, beat.state.value, beat.equity, beat.positions, beat.open_orders
    )


def _written_age(db: Path, now: datetime) -> float | None:
    """Seconds since the store was last written (the WAL changes on every commit)."""
    stamps = []
    for path in (db, db.with_name(db.name + "-wal")):
        try:
            stamps.append(path.stat().st_mtime)
        except OSError:
            continue
    return round(now.timestamp() - max(stamps), 1) if stamps else None


def _market(now: datetime, heartbeat_at: datetime | None) -> MarketStatus:
    from fleece.calendar import MarketCalendar

    calendar = MarketCalendar()
    try:
        at_beat = calendar.is_open(heartbeat_at) if heartbeat_at is not None else None
        return MarketStatus(
            calendar.is_open(now), calendar.next_open(now), calendar.next_close(now), at_beat
        )
    except (LookupError, ValueError):
        # Outside the range exchange-calendars knows: say "unknown" rather than fail.
        return MarketStatus(None, None, None, None)


def _positions(snap: BotSnapshot) -> tuple[PositionStatus, ...]:
    return tuple(
        from_attributes(PositionStatus, h, avg_cost=h.avg_cost if h.avg_cost is not None else 0.0)
        for h in snap.positions
    )


def _open_orders(snap: BotSnapshot) -> tuple[OrderStatus, ...]:
    return tuple(from_attributes(OrderStatus, o, side=o.side.value) for o in snap.open_orders)


def _day(snap: BotSnapshot) -> DayStatus:
    return from_attributes(
        DayStatus,
        snap,
        pnl=snap.pnl_today,
        trades_submitted=snap.trades_today,
        refusals=dict(snap.refusals_today),
    )


# --------------------------------------------------------------------------- health


def default_max_age(status: BotStatus) -> float:
    """Seconds without a sign of life before the bot counts as stuck: three heartbeats."""
    return max(HEARTBEATS_BEFORE_STALE * status.heartbeat_seconds, MIN_MAX_AGE_SECONDS)


def health_problems(status: BotStatus, max_age: float) -> list[str]:
    """Return why the bot is unhealthy (empty when it runs and its heartbeat is fresh).

    A HALTED or REDUCING bot is healthy: those are trading decisions, not a stuck process.
    """
    if not status.process.running:
        return ["the bot is not running"]
    if status.heartbeat is None:
        return ["no heartbeat recorded yet"]
    if status.simulated_time:
        written = status.store_written_age_seconds
        if written is None or written > max_age:
            shown = "never" if written is None else f"{duration_text(written)} ago"
            return [f"store last written {shown} (limit {duration_text(max_age)}; simulated time)"]
        return []
    age = status.heartbeat.age_seconds
    if age is not None and age > max_age:
        return [f"last heartbeat {duration_text(age)} ago (limit {duration_text(max_age)})"]
    return []


def status_to_dict(status: BotStatus, max_age: float) -> dict[str, Any]:
    """The status as JSON-ready data (times as ISO-8601 UTC), with the health verdict."""
    problems = health_problems(status, max_age)
    data = _jsonable(asdict(status))
    data["health"] = {"healthy": not problems, "problems": problems, "max_age_seconds": max_age}
    return data  # type: ignore[no-any-return]


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    return value


__all__ = [
    "BotStatus",
    "DayStatus",
    "HeartbeatStatus",
    "MarketStatus",
    "OrderStatus",
    "PositionStatus",
    "collect_status",
    "default_max_age",
    "health_problems",
    "status_to_dict",
]
