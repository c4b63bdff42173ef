"""The dashboard's answers: the JSON API, from the bot's snapshot and its store.

The bot's state comes from one :class:`~fleece.read_model.BotSnapshot`, the read model
``fleece status`` and the Telegram replies show too. One :class:`DashboardView` serves either

* a bot running in this process (:meth:`DashboardView.for_live`): the snapshot it publishes
  after every poll cycle (:class:`~fleece.publisher.SnapshotPublisher`), in the bot's clock
  (simulated time in sim mode); or
* the store of a stopped bot (``fleece dashboard``): the snapshot built from the store alone, as
  of the last thing it recorded.

Charts, fills and refusals are histories, read from the store in both cases.

Every method is synchronous and cheap (growing tables are read incrementally, see
:mod:`fleece.dashboard.series`); the app calls them on the event loop, so in the running bot
they read the trader's objects from the thread that changes them.
"""

from __future__ import annotations

import logging
from dataclasses import KW_ONLY, InitVar, dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Literal

from fleece.accounting import cents_of
from fleece.calendar import ONE_MINUTE, MarketCalendar, day_start, session_date
from fleece.clock import Clock, SystemClock, seconds_since
from fleece.config import AppConfig
from fleece.dashboard.charts import bar_series, equity_series
from fleece.dashboard.health import PollFacts, is_stale, judge, stale_after
from fleece.dashboard.schemas import (
    Account,
    BarSeries,
    EquitySeries,
    FillOut,
    Health,
    OrderOut,
    PositionOut,
    RefusalOut,
    Refusals,
    RunInfo,
    Status,
)
from fleece.dashboard.series import StoreTail
from fleece.dashboard.sessions import (
    SessionWindow,
    is_regular_bar,
    market_hours,
    shown_session,
)
from fleece.dashboard.wording import (
    account_text,
    age_text,
    fill_text,
    market_text,
    order_text,
    position_text,
)
from fleece.derive import from_attributes
from fleece.holdings import FAR_FUTURE
from fleece.models import Bar, Fill, TradingState, to_ticks
from fleece.notify.messages import (
    kill_switch_text,
    state_text,
    stopped_text,
    symbol_reasons,
    when,
)
from fleece.protection import fill_reasons
from fleece.read_model import BotSnapshot, build_snapshot, stopped_now
from fleece.state_store import EquitySnapshot, StateStore

if TYPE_CHECKING:
    from fleece.publisher import SnapshotPublisher

log = logging.getLogger(__name__)

SMA_LOOKBACK = timedelta(days=7)  # enough sessions before the shown one to fill the slow SMA
RECENT_REFUSALS = 20


def _span(seconds: float | None) -> timedelta | None:
    return None if seconds is None else timedelta(seconds=seconds)


@dataclass(eq=False, repr=False)
class DashboardView:
    """Builds the API's answers.

    Args:
        store: the bot's state store.
        config: the bot's configuration (limits, symbols, windows, token).
        live: the snapshots of the bot running in this process, or None for a stopped bot's
            store.
        clock: the wall clock used when no bot runs (injected for tests).
        calendar: the NYSE calendar (sessions outside the broker's calendar, stopped bots).
    """

    store: StateStore
    config: AppConfig
    _: KW_ONLY
    live: SnapshotPublisher | None = None
    clock: InitVar[Clock | None] = None
    calendar: InitVar[MarketCalendar | None] = None

    def __post_init__(self, clock: Clock | None, calendar: MarketCalendar | None) -> None:
        self._wall = clock or SystemClock()
        self._calendar = calendar or MarketCalendar()
        # Built once: its indicators depend on its parameters only.
        self._strategy = self.config.trading.strategy.spec.build()
        self._fills: StoreTail[Fill] = StoreTail(self.store.fills, lambda f: f.timestamp)
        self._equity: StoreTail[EquitySnapshot] = StoreTail(
            self.store.equity_curve, lambda e: e.timestamp
        )
        self._bars: dict[str, StoreTail[Bar]] = {}
        self.last_poll_attempt: datetime | None = None
        # Whether Halt/Resume are accepted: the app that enforces the token says (create_app).
        self.controls_enabled = self.config.settings.dashboard_token is not None

    @classmethod
    def for_live(cls, live: SnapshotPublisher) -> DashboardView:
        """The view of the bot running in this process, which publishes to ``live``."""
        return cls(live.store, live.config, live=live)

    # ---- time and sessions ---------------------------------------------------------------
    @property
    def running(self) -> bool:
        """True when a bot runs in this process."""
        return self.live is not None

    def snapshot(self, now: datetime | None = None) -> BotSnapshot:
        """The bot's state: the running bot's latest, else built from the store at ``now``
        (:meth:`now` when not given)."""
        if self.live is not None:
            return self.live.latest
        return build_snapshot(self.store, self.config, now or self.now())

    def judged_at(self) -> tuple[datetime, bool]:
        """(the bot's clock, whether it is simulated); for a stopped bot, the instant the read
        model judges it at (:func:`~fleece.read_model.stopped_now`: the wall clock, or where a
        simulated clock stopped), which reads the store: ask once per answer."""
        if self.live is not None:
            return self.live.clock.now(), self.live.speed is not None
        return stopped_now(self.store, self.config, self._wall.now())

    def now(self) -> datetime:
        """The bot's clock (:meth:`judged_at`)."""
        return self.judged_at()[0]

    def simulated_time(self) -> bool:
        """True when :meth:`now` is simulated (sim mode, or a loopback exchange's clock)."""
        return self.judged_at()[1]

    def session_date(self) -> date:
        """The New York session date the figures refer to."""
        return session_date(self.now())

    def _book(self) -> MarketCalendar | None:
        return self.live.sessions() if self.live is not None else None

    def _sessions_around(self, session: SessionWindow | None) -> list[tuple[datetime, datetime]]:
        """The sessions the shown one's look-back reaches (the grid the indicators run on)."""
        last = (session.open if session else self.now()).date()
        found = self._calendar.sessions(last - SMA_LOOKBACK - timedelta(days=1), last)
        return [(s.open, s.close) for s in found]

    def _is_regular(self, ts: datetime) -> bool:
        return is_regular_bar(self._book(), self._calendar, ts)

    def display_session(self, ts: datetime) -> SessionWindow | None:
        """The session in progress at ``ts``, else the latest one that opened before it."""
        return shown_session(self._book(), self._calendar, ts)

    def market(self, now: datetime) -> tuple[bool, datetime | None, datetime | None]:
        """(open, next open, next close) at ``now``, by the broker's calendar when running."""
        return market_hours(self._book(), self._calendar, now)

    # ---- status ------------------------------------------------------------------------
    def trading_state(self, now: datetime) -> tuple[TradingState, str]:
        """The trading state and why (the snapshot's)."""
        snap = self.snapshot()
        return snap.state, snap.state_reason

    def status(self) -> Status:
        """The status bar."""
        now, simulated = self.judged_at()
        snap = self.snapshot(now)
        is_open, next_open, next_close = self.market(now)
        last_bar = snap.last_bar_at
        run = snap.last_run
        bar_age = seconds_since(now, last_bar + ONE_MINUTE if last_bar else None)
        beat_age = seconds_since(now, snap.last_heartbeat_at)
        stale = self._stale_after()
        # The snapshot's fields of the same names (mode, running, state, kill switch, symbols,
        # ...) carry over.
        return from_attributes(
            Status,
            snap,
            now=now,
            simulated_time=simulated,
            session_date=session_date(now),
            circuit_breaker_tripped=snap.breaker_tripped,
            circuit_breaker_failures=snap.breaker_failures,
            market_open=is_open,
            next_open=next_open,
            next_close=next_close,
            last_bar_age_seconds=bar_age,
            stale_after_seconds=stale.total_seconds(),
            last_heartbeat_age_seconds=beat_age,
            controls_enabled=self.controls_enabled,
            run=RunInfo.model_validate(run, from_attributes=True) if run else None,
            state_text=state_text(snap.state, snap.state_reason),
            kill_switch_text=kill_switch_text(snap.kill_switch, snap.kill_switch_reason),
            market_text=market_text(now, is_open, next_open, next_close),
            last_bar_text=age_text("last bar", bar_age),
            last_bar_stale=is_stale(_span(bar_age), stale, is_open),
            heartbeat_text=age_text("heartbeat", beat_age),
            now_text=when(now, seconds=True, simulated=simulated),
            run_text=stopped_text(run.stopped_at, run.exit_reason, simulated)
            if run
            else "no run recorded",
            dropped_text=", ".join(symbol_reasons(snap.dropped_symbols)),
        )

    # ---- account and positions -----------------------------------------------------------
    def account(self) -> Account:
        """Equity, today's P&L and the day's use of the risk limits."""
        snap = self.snapshot()
        pct = snap.pnl_today_pct
        exits = fill_reasons(self._fills.refresh(), self.store.all_intents()).values()
        stop_outs = sum(1 for reason in exits if reason.stop_out)
        lost = max(0.0, -pct) if pct is not None else 0.0
        return from_attributes(
            Account,
            snap,
            as_of=snap.equity_at,
            trades_today=snap.trades_today,
            daily_loss_pct=lost,
            stop_outs=stop_outs,
            take_profits=len(exits) - stop_outs,
            text=account_text(snap, lost),
        )

    def positions(self) -> list[PositionOut]:
        """Open positions valued at the last price seen, with average cost from our fills."""
        return [
            from_attributes(
                PositionOut,
                h,
                unrealized_pl=h.unrealised,
                unrealized_pl_pct=h.unrealised_pct,
                text=position_text(h),
            )
            for h in self.snapshot().positions
        ]

    # ---- orders, fills, refusals -----------------------------------------------------------
    def orders(self) -> list[OrderOut]:
        """Intents the broker may still act on, oldest first."""
        return [
            from_attributes(OrderOut, o, text=order_text(o)) for o in self.snapshot().open_orders
        ]

    def fill_history(self) -> list[Fill]:
        """Every fill in the store, oldest first (held in memory, read incrementally)."""
        return self._fills.refresh()

    def fills(self, limit: int = 50) -> list[FillOut]:
        """The latest ``limit`` fills, newest first."""
        latest = self._fills.refresh()[-limit:] if limit > 0 else []
        values = [(f, cents_of(to_ticks(f.price), f.qty) / 100) for f in reversed(latest)]
        return [from_attributes(FillOut, f, value=v, text=fill_text(f, v)) for f, v in values]

    def refusals(self) -> Refusals:
        """Refusals by reason today and in total, and the latest of today."""
        day = self.session_date()
        since = day_start(day)
        recent = self.store.refusals(since)[-RECENT_REFUSALS:]
        return Refusals(
            session_date=day,
            today=self.store.refusal_counts(since),
            total=self.store.refusal_counts(),
            recent=[RefusalOut.model_validate(r, from_attributes=True) for r in reversed(recent)],
        )

    # ---- charts -------------------------------------------------------------------------
    def equity(self, which: Literal["today", "all"]) -> EquitySeries:
        """The equity curve of the shown session, or of all time (thinned)."""
        session = self.display_session(self.now())
        day = session.day if session else self.session_date()
        return equity_series(self._equity.refresh(), which, day_start(day))

    def _bar_tail(self, symbol: str) -> StoreTail[Bar]:
        tail = self._bars.get(symbol)
        if tail is None:
            start = self.now() - SMA_LOOKBACK

            def fetch(since: datetime | None) -> list[Bar]:
                return self.store.bars_between(symbol, since or start, FAR_FUTURE)

            tail = self._bars[symbol] = StoreTail(fetch, lambda b: b.timestamp, start)
        return tail

    def bars(self, symbol: str) -> BarSeries:
        """One symbol's minutes of the shown session with the strategy's indicators and fills."""
        session = self.display_session(self.now())
        tail = self._bar_tail(symbol)
        if session is not None:
            tail.forget_before(session.open - SMA_LOOKBACK)
        return bar_series(
            symbol,
            tail.refresh(),
            self._fills.refresh(),
            session=session,
            strategy=self._strategy,
            sessions=self._sessions_around(session),
            is_regular=self._is_regular,
        )

    # ---- control and health --------------------------------------------------------------
    def set_kill_switch(self, on: bool) -> Status:
        """Engage or release the persisted kill switch; the running bot's state follows at once."""
        now = self.now()
        reason = "halted from the dashboard" if on else "resumed from the dashboard"
        self.store.set_kill_switch(on, reason, now)
        log.warning("kill switch %s from the dashboard", "ON" if on else "OFF")
        if self.live is not None:
            self.live.rejudge()  # the running bot's state follows at once
        return self.status()

    def record_poll(self, seconds: float, ok: bool) -> None:
        """Note a poll attempt (the poller's ``on_poll`` hook)."""
        self.last_poll_attempt = self.now()

    def _stale_after(self) -> timedelta:
        """How old data may be (:func:`~fleece.dashboard.health.stale_after`): what /healthz
        judges the polls by and the page's "last bar" chip warns at."""
        speed = self.live.speed if self.live is not None else None
        return stale_after(self.config.trading.data.poll_interval_seconds, speed)

    def health(self) -> Health:
        """Whether the bot in this process polls and its data is fresh."""
        live = self.live
        if live is None:
            return Health(
                ok=False,
                reason="no bot runs in this process (this dashboard reads a stopped bot's store)",
                now=None,
                market_open=None,
                last_poll_at=None,
                last_success_at=None,
            )
        now = live.clock.now()
        facts = PollFacts(
            now=now,
            market_open=self.market(now)[0],
            last_poll_at=self.last_poll_attempt,
            last_success_at=live.latest.last_poll_at,
            stopping=live.stopping,
        )
        ok, reason = judge(facts, self._stale_after())
        return from_attributes(Health, facts, ok=ok, reason=reason)
