"""The bot's read model: one frozen snapshot of its state, built by one function.

Every viewer reads a :class:`BotSnapshot` and nothing else of the bot: the dashboard and its
metrics, the Telegram replies and ``fleece status``. :func:`build_snapshot` makes it

* in the running bot, from the store plus :class:`LiveFacts`, what only the bot holds in memory
  (its account, holdings, last prices, trading state, poller); the runtime publishes the result
  after every poll cycle (:mod:`fleece.publisher`);
* anywhere else (a stopped bot, another process), from the store alone (``live=None``), as of
  the last thing the store recorded.

So a figure has one rule whoever shows it, and a viewer never reaches into the running bot.
Reads go through :class:`~fleece.state_store.StateStore`'s public methods only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

from fleece.accounting import equity_change, realised_pnl
from fleece.calendar import day_start, session_date
from fleece.derive import from_attributes
from fleece.holdings import Holding, latest_bar_at, valued_holdings
from fleece.models import Side, TradingState
from fleece.risk_limits import daily_loss_limit
from fleece.risk_manager import CIRCUIT_BREAKER, DAILY_LOSS_LIMIT, KILL_SWITCH
from fleece.startup_checks import read_dropped

if TYPE_CHECKING:
    from fleece.config import AppConfig
    from fleece.state_store import BotRun, Heartbeat, StateStore

KILL_SWITCH_ENV_REASON = "KILL_SWITCH=true in the environment"


def kill_switch_state(env: bool, stored: tuple[bool, str]) -> tuple[bool, str]:
    """Whether the kill switch is on, and why: ``KILL_SWITCH=true`` in the environment, the
    store's switch (``fleece halt``), or both (lifting one leaves the other holding the bot).

    Args:
        env: ``KILL_SWITCH=true`` in the environment.
        stored: the store's switch and its reason.
    """
    on, why = stored
    reasons = [KILL_SWITCH_ENV_REASON] if env else []
    if on:
        reasons.append(why or "fleece halt")
    return env or on, "; ".join(reasons)


@dataclass(frozen=True, slots=True)
class OpenOrder:
    """An order intent the broker may still act on."""

    client_order_id: str
    symbol: str
    side: Side
    qty: int
    filled_qty: int
    status: str
    created_at: datetime
    updated_at: datetime
    dry_run: bool


@dataclass(frozen=True, slots=True)
class Activity:
    """The running bot's counters since it started (broker requests, polls, bars, signals,
    orders submitted, refusals)."""

    polls: int = 0
    bars: int = 0
    signals: int = 0
    orders_submitted: int = 0
    refusals: int = 0
    requests: Mapping[str, int] = field(default_factory=dict)
    errors: Mapping[str, int] = field(default_factory=dict)
    skipped_bars: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class LiveFacts:
    """What only the running bot knows: the objects it holds in memory."""

    state: TradingState
    state_reason: str
    breaker_tripped: bool
    breaker_failures: int
    equity: float | None
    cash: float | None
    buying_power: float | None
    last_equity: float | None
    holdings: Mapping[str, int]
    last_prices: Mapping[str, float]
    last_bar_at: datetime | None
    last_poll_at: datetime | None
    symbols: tuple[str, ...]
    simulated_time: bool
    activity: Activity


@dataclass(frozen=True, slots=True)
class BotSnapshot:
    """The bot's state at ``as_of``: what every viewer shows.

    Money is in dollars, rounded to the cent where it is computed here. ``running`` says
    whether it came from the running bot (live facts) or from the store alone.
    """

    as_of: datetime
    session_date: date
    mode: str
    running: bool
    simulated_time: bool
    dry_run: bool
    state: TradingState
    state_reason: str
    kill_switch: bool
    kill_switch_reason: str
    kill_switch_env: bool
    breaker_tripped: bool
    breaker_failures: int
    breaker_limit: int
    equity: float | None
    cash: float | None
    buying_power: float | None
    equity_at: datetime | None
    start_equity: float | None
    pnl_today: float | None
    pnl_today_pct: float | None
    loss_limit: float | None
    max_daily_loss_pct: float
    realised_pnl: float
    positions: tuple[Holding, ...]
    open_orders: tuple[OpenOrder, ...]
    trades_today: int
    max_trades_per_day: int
    refusals_today: Mapping[str, int]
    last_bar_at: datetime | None
    last_poll_at: datetime | None
    last_heartbeat_at: datetime | None
    symbols: tuple[str, ...]
    dropped_symbols: Mapping[str, str]
    last_run: BotRun | None
    activity: Activity | None


def build_snapshot(
    store: StateStore, config: AppConfig, now: datetime, live: LiveFacts | None = None
) -> BotSnapshot:
    """The bot's state at ``now``: from the running bot's facts and its store, or the store alone.

    Args:
        store: the bot's state store (read only).
        config: the configuration (limits, symbols, mode).
        now: the bot's clock (simulated in sim mode); for a stopped bot, the instant to judge at.
        live: what the running bot holds in memory; None for a stopped bot or another process.
    """
    s, risk = config.settings, config.trading.risk
    day = session_date(now)
    run = last_run(store)
    dropped = read_dropped(store)
    kill, kill_why = kill_switch_state(s.kill_switch, store.kill_switch())
    beat = store.last_heartbeat()
    equity, cash, buying_power, equity_at = _account(store, beat, now, live)
    start = session_start_equity(store, day, live.last_equity if live is not None else None)
    pnl = equity_change(start, equity)
    pct = pnl / start if pnl is not None and start else None
    mode: str
    if live is not None:
        state, why = live.state, live.state_reason
        tripped, failures = live.breaker_tripped, live.breaker_failures
        mode, simulated, symbols = s.fleece_mode, live.simulated_time, live.symbols
        last_bar_at, last_poll_at = live.last_bar_at, live.last_poll_at
    else:
        tripped, failures = store.breaker()
        state, why = _judged_state(store, kill, tripped, day)
        mode = stored_mode(config, run)
        simulated = stored_simulated_time(config, mode)
        symbols = tuple(t for t in config.trading.tickers if t not in dropped)
        last_bar_at, last_poll_at = latest_bar_at(store, now), None
    # One ledger of our fills for the realised P&L and the holdings' average costs.
    ledger = realised_pnl(store.fills())
    return BotSnapshot(
        as_of=now,
        session_date=day,
        mode=mode,
        running=live is not None,
        simulated_time=simulated,
        dry_run=s.dry_run,
        state=state,
        state_reason=why,
        kill_switch=kill,
        kill_switch_reason=kill_why,
        kill_switch_env=s.kill_switch,
        breaker_tripped=tripped,
        breaker_failures=failures,
        breaker_limit=risk.circuit_breaker_failures,
        equity=equity,
        cash=cash,
        buying_power=buying_power,
        equity_at=equity_at,
        start_equity=start,
        pnl_today=pnl,
        pnl_today_pct=pct,
        loss_limit=daily_loss_limit(start, risk.max_daily_loss_pct),
        max_daily_loss_pct=risk.max_daily_loss_pct,
        realised_pnl=ledger.realised,
        positions=valued_holdings(store, ledger, now, live),
        open_orders=_open_orders(store),
        trades_today=store.trades_submitted(day),
        max_trades_per_day=risk.max_trades_per_day,
        refusals_today=store.refusal_counts(since=day_start(day)),
        last_bar_at=last_bar_at,
        last_poll_at=last_poll_at,
        last_heartbeat_at=beat.timestamp if beat else None,
        symbols=symbols,
        dropped_symbols=dropped,
        last_run=run,
        activity=live.activity if live is not None else None,
    )


def last_run(store: StateStore) -> BotRun | None:
    """The store's record of the bot's latest start, None before the first."""
    runs = store.runs(1)
    return runs[0] if runs else None


def stored_mode(config: AppConfig, run: BotRun | None) -> str:
    """A stopped bot's mode: what its last run ran as (the config may have changed since)."""
    return run.mode if run is not None else config.settings.fleece_mode


def stored_simulated_time(config: AppConfig, mode: str) -> bool:
    """Whether a stopped bot's timestamps are simulated: a sim run, or a simulated config."""
    return mode == "sim" or config.settings.sim or config.endpoints.local


def recorded_until(store: StateStore, run: BotRun | None) -> datetime | None:
    """The latest instant ``store`` recorded something at: its newest heartbeat, equity
    snapshot, or ``run``'s stop (else its start); None for a store that recorded none."""
    beat = store.last_heartbeat()
    stamps = [beat.timestamp] if beat is not None else []
    if run is not None:
        stamps.append(run.stopped_at or run.started_at)
    # Only the snapshots at or after the other stamps can be newer: a short read.
    newer = store.equity_curve(since=max(stamps, default=None))
    if newer:
        stamps.append(newer[-1].timestamp)
    return max(stamps, default=None)


def stopped_now(store: StateStore, config: AppConfig, wall: datetime) -> tuple[datetime, bool]:
    """(the instant a stopped bot is judged at, whether its store's times are simulated).

    The one rule of ``fleece status`` and the dashboard over a stopped bot's store: the wall
    clock ``wall``, unless its times are simulated (:func:`stored_simulated_time`: a sim run, or
    a loopback exchange's clock); then the last instant the store recorded
    (:func:`recorded_until`), where its simulated clock stopped: the wall clock means nothing
    to it (the wall clock still for a store that recorded nothing).
    """
    run = last_run(store)
    simulated = stored_simulated_time(config, stored_mode(config, run))
    if not simulated:
        return wall, False
    return recorded_until(store, run) or wall, True


def _judged_state(
    store: StateStore, kill: bool, tripped: bool, day: date
) -> tuple[TradingState, str]:
    """A stopped bot's state as its risk manager would judge it on ``day``."""
    if kill:
        return TradingState.HALTED, KILL_SWITCH
    if tripped:
        return TradingState.HALTED, CIRCUIT_BREAKER
    if store.reducing_latch() == day:
        return TradingState.REDUCING, DAILY_LOSS_LIMIT
    return TradingState.ACTIVE, ""


def _account(
    store: StateStore, beat: Heartbeat | None, now: datetime, live: LiveFacts | None
) -> tuple[float | None, float | None, float | None, datetime | None]:
    """(equity, cash, buying power, as of): the bot's account, else the newest stored figure
    (of the equity curve and the last heartbeat ``beat``)."""
    if live is not None and live.equity is not None:
        return live.equity, live.cash, live.buying_power, now
    curve = store.equity_curve(since=now - timedelta(days=31)) or store.equity_curve()
    last = curve[-1] if curve else None
    # A heartbeat newer than the last snapshot knows a newer equity (but not the cash).
    if (
        beat is not None
        and beat.equity is not None
        and (last is None or beat.timestamp > last.timestamp)
    ):
        return beat.equity, None, None, beat.timestamp
    if last is not None:
        return last.equity, last.cash, None, last.timestamp
    return None, None, None, None


def session_start_equity(
    store: StateStore, day: date, last_equity: float | None = None
) -> float | None:
    """Session ``day``'s starting equity, the base of its P&L wherever it is shown: the one
    recorded at the open, else the broker's ``last_equity`` (the account's equity at the
    previous close, when the caller has it), else the first equity stored that day.

    The daily summary and the Telegram replies ask this too, so that a day whose start was not
    recorded (the account not yet read at the open) shows one P&L everywhere.
    """
    start = store.start_equity(day)
    if start is not None:
        return start
    if last_equity is not None:
        return last_equity
    today = store.equity_curve(since=day_start(day))
    return today[0].equity if today else None


def _open_orders(store: StateStore) -> tuple[OpenOrder, ...]:
    return tuple(
        from_attributes(OpenOrder, r, status=r.status.value) for r in store.unfinished_intents()
    )
