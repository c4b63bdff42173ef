"""The dashboard's read model: the answers of the JSON API, from the store and the running bot.

One :class:`DashboardView` serves either

* a bot running in this process (:meth:`DashboardView.for_bot`): figures come from its live
  objects (account, holdings, last prices, trading state, poller) and its store, in the bot's
  clock (simulated time in sim mode); or
* the store of a stopped bot (``fleece dashboard``): figures come from the store alone, as of the
  last thing it recorded.

Every method is synchronous and cheap (growing tables are read incrementally, see
:mod:`fleece.dashboard.series`); the app calls them on the event loop, so in the running bot
they read the trader's objects from the thread that changes them.
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Literal

from fleece.calendar import MarketCalendar
from fleece.clock import Clock, SystemClock
from fleece.config import AppConfig
from fleece.dashboard.charts import bar_series, equity_series
from fleece.dashboard.health import PollFacts, judge, stale_after
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
    day_start,
    is_regular_bar,
    market_hours,
    shown_session,
)
from fleece.models import Bar, Fill, TradingState
from fleece.protection import fill_reasons
from fleece.risk_manager import CIRCUIT_BREAKER, DAILY_LOSS_LIMIT, KILL_SWITCH
from fleece.startup_checks import read_dropped
from fleece.state_store import EquitySnapshot, StateStore
from fleece.summary import realised_pnl
from fleece.trader import session_date

if TYPE_CHECKING:
    from fleece.runtime import Bot
    from fleece.sessions import SessionBook
    from fleece.trader import Trader

log = logging.getLogger(__name__)

FAR_FUTURE = datetime(9999, 1, 1, tzinfo=UTC)
ONE_MINUTE = timedelta(minutes=1)
SMA_LOOKBACK = timedelta(days=7)  # enough sessions before the shown one to fill the slow SMA
RECENT_REFUSALS = 20


class DashboardView:
    """Builds the API's answers.

    Args:
        store: the bot's state store.
        config: the bot's configuration (limits, symbols, windows, token).
        bot: the bot running in this process, or None for a stopped bot's store.
        clock: the wall clock used when no bot runs (injected for tests).
        calendar: the NYSE calendar (sessions outside the broker's calendar, stopped bots).
    """

    def __init__(
        self,
        store: StateStore,
        config: AppConfig,
        *,
        bot: Bot | None = None,
        clock: Clock | None = None,
        calendar: MarketCalendar | None = None,
    ) -> None:
        self.store = store
        self.config = config
        self.bot = bot
        self._wall = clock or SystemClock()
        self._calendar = calendar or MarketCalendar()
        # Built once: its indicators depend on its parameters only.
        self._strategy = config.trading.strategy.spec.build()
        self._fills: StoreTail[Fill] = StoreTail(store.fills, lambda f: f.timestamp)
        self._equity: StoreTail[EquitySnapshot] = StoreTail(
            store.equity_curve, lambda e: e.timestamp
        )
        self._bars: dict[str, StoreTail[Bar]] = {}
        self.last_poll_attempt: datetime | None = None
        # Whether Halt/Resume are accepted: the app that enforces the token says (create_app).
        self.controls_enabled = config.settings.dashboard_token is not None

    @classmethod
    def for_bot(cls, bot: Bot) -> DashboardView:
        """The view of a bot running in this process (after its first three phases)."""
        if bot.store is None or bot.trader is None:
            raise RuntimeError("the dashboard starts after the bot's store and trader exist")
        return cls(bot.store, bot.config, bot=bot)

    # ---- time and sessions ---------------------------------------------------------------
    @property
    def running(self) -> bool:
        """True when a bot runs in this process."""
        return self.bot is not None

    def _trader(self) -> Trader | None:
        return self.bot.trader if self.bot is not None else None

    def _mode(self) -> str:
        if self.bot is not None:
            return self.config.settings.fleece_mode
        runs = self.store.runs(1)
        return runs[0].mode if runs else self.config.settings.fleece_mode

    def as_of(self) -> datetime | None:
        """The latest instant the store recorded something at (a stopped bot's "now")."""
        stamps: list[datetime] = []
        curve = self._equity.refresh()
        if curve:
            stamps.append(curve[-1].timestamp)
        beat = self.store.last_heartbeat()
        if beat is not None:
            stamps.append(beat.timestamp)
        runs = self.store.runs(1)
        if runs:
            stamps.append(runs[0].stopped_at or runs[0].started_at)
        return max(stamps, default=None)

    def now(self) -> datetime:
        """The bot's clock; for a stopped bot, the wall clock (or the end of a sim run)."""
        if self.bot is not None:
            return self.bot.clock.now()
        if self._mode() == "sim":
            # Simulated timestamps mean nothing against the wall clock: freeze at the end.
            return self.as_of() or self._wall.now()
        return self._wall.now()

    def simulated_time(self) -> bool:
        """True when :meth:`now` is simulated (sim mode, or a loopback exchange's clock)."""
        if self.bot is not None:
            return self.bot.speed is not None
        return self._mode() == "sim"

    def session_date(self) -> date:
        """The New York session date the figures refer to."""
        return session_date(self.now())

    def _book(self) -> SessionBook | None:
        trader = self._trader()
        return trader.sessions if trader is not None else None

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
        """The trading state and why, as the risk manager would judge it now."""
        trader = self._trader()
        if trader is not None:
            return trader.risk.trading_state(trader.context(now))
        if self.config.settings.kill_switch or self.store.kill_switch()[0]:
            return TradingState.HALTED, KILL_SWITCH
        if self.store.breaker()[0]:
            return TradingState.HALTED, CIRCUIT_BREAKER
        if self.store.reducing_latch() == session_date(now):
            return TradingState.REDUCING, DAILY_LOSS_LIMIT
        return TradingState.ACTIVE, ""

    def _kill_switch(self) -> tuple[bool, str]:
        on, why = self.store.kill_switch()
        if self.config.settings.kill_switch:
            return True, "KILL_SWITCH=true in the environment"
        return on, why

    def _last_bar_at(self, now: datetime) -> datetime | None:
        if self.bot is not None:
            return self.bot.poller.last_bar_at if self.bot.poller else None
        recent = self.store.bars_between(None, now - timedelta(minutes=10), now + ONE_MINUTE)
        if not recent:
            recent = self.store.bars_between(None, now - timedelta(days=4), now + ONE_MINUTE)
        return recent[-1].timestamp if recent else None

    def _symbols(self, dropped: dict[str, str]) -> list[str]:
        if self.bot is not None:
            return list(self.bot.symbols)
        return [s for s in self.config.trading.tickers if s not in dropped]

    def status(self) -> Status:
        """The status bar."""
        s = self.config.settings
        now = self.now()
        state, why = self.trading_state(now)
        kill, kill_why = self._kill_switch()
        trader = self._trader()
        if trader is not None:
            tripped, failures = trader.breaker.tripped, trader.breaker.consecutive
        else:
            tripped, failures = self.store.breaker()
        is_open, next_open, next_close = self.market(now)
        last_bar = self._last_bar_at(now)
        beat = self.store.last_heartbeat()
        runs = self.store.runs(1)
        poller = self.bot.poller if self.bot is not None else None
        dropped = read_dropped(self.store)
        return Status(
            mode=self._mode(),
            running=self.running,
            now=now,
            simulated_time=self.simulated_time(),
            session_date=session_date(now),
            state=state,
            state_reason=why,
            kill_switch=kill,
            kill_switch_reason=kill_why,
            circuit_breaker_tripped=tripped,
            circuit_breaker_failures=failures,
            dry_run=s.dry_run,
            market_open=is_open,
            next_open=next_open,
            next_close=next_close,
            last_bar_at=last_bar,
            last_bar_age_seconds=_age(now, last_bar + ONE_MINUTE if last_bar else None),
            last_poll_at=poller.last_success if poller else None,
            last_heartbeat_at=beat.timestamp if beat else None,
            last_heartbeat_age_seconds=_age(now, beat.timestamp if beat else None),
            controls_enabled=self.controls_enabled,
            symbols=self._symbols(dropped),
            dropped_symbols=dropped,
            run=RunInfo(
                started_at=runs[0].started_at,
                stopped_at=runs[0].stopped_at,
                mode=runs[0].mode,
                exit_reason=runs[0].exit_reason,
            )
            if runs
            else None,
        )

    # ---- account and positions -----------------------------------------------------------
    def account(self) -> Account:
        """Equity, today's P&L and the day's use of the risk limits."""
        now = self.now()
        day = session_date(now)
        risk = self.config.trading.risk
        equity: float | None = None
        cash: float | None = None
        buying_power: float | None = None
        start: float | None = None
        as_of: datetime | None = None
        trader = self._trader()
        if trader is not None and trader.account is not None:
            a = trader.account
            equity, cash, buying_power, start, as_of = (
                a.equity,
                a.cash,
                a.buying_power,
                a.last_equity,
                now,
            )
        else:
            curve = self._equity.refresh()
            if curve:
                last = curve[-1]
                equity, cash, as_of = last.equity, last.cash, last.timestamp
                start = self.store.start_equity(day)
                if start is None:
                    today = [p for p in curve if p.timestamp >= day_start(day)]
                    start = today[0].equity if today else None
        pnl = round(equity - start, 2) if equity is not None and start is not None else None
        pct = pnl / start if pnl is not None and start else None
        exits = fill_reasons(self._fills.refresh(), self.store.all_intents()).values()
        stop_outs = sum(1 for reason in exits if reason.stop_out)
        return Account(
            as_of=as_of,
            session_date=day,
            equity=equity,
            cash=cash,
            buying_power=buying_power,
            start_equity=start,
            pnl_today=pnl,
            pnl_today_pct=pct,
            realised_pnl=realised_pnl(self._fills.refresh()).realised,
            trades_today=self.store.trades_submitted(day),
            max_trades_per_day=risk.max_trades_per_day,
            daily_loss_pct=max(0.0, -pct) if pct is not None else 0.0,
            max_daily_loss_pct=risk.max_daily_loss_pct,
            stop_outs=stop_outs,
            take_profits=len(exits) - stop_outs,
        )

    def positions(self) -> list[PositionOut]:
        """Open positions valued at the last price seen, with average cost from our fills."""
        ledger = realised_pnl(self._fills.refresh())
        trader = self._trader()
        held = dict(trader.portfolio.qty) if trader is not None else dict(ledger.open_qty)
        out: list[PositionOut] = []
        for symbol in sorted(held):
            qty = held[symbol]
            cost = ledger.open_cost.get(symbol) if ledger.open_qty.get(symbol) == qty else None
            last = self._last_price(symbol)
            value = round(qty * last, 2) if last is not None else None
            pl = round(value - cost, 2) if value is not None and cost is not None else None
            out.append(
                PositionOut(
                    symbol=symbol,
                    qty=qty,
                    avg_cost=round(cost / qty, 4) if cost is not None and qty else None,
                    last_price=last,
                    market_value=value,
                    unrealized_pl=pl,
                    unrealized_pl_pct=pl / cost if pl is not None and cost else None,
                )
            )
        return out

    def _last_price(self, symbol: str) -> float | None:
        trader = self._trader()
        if trader is not None and symbol in trader.last_price:
            return trader.last_price[symbol]
        bars = self._bar_tail(symbol).refresh()
        return bars[-1].close if bars else None

    # ---- orders, fills, refusals -----------------------------------------------------------
    def orders(self) -> list[OrderOut]:
        """Intents the broker may still act on, oldest first."""
        return [
            OrderOut(
                client_order_id=r.client_order_id,
                symbol=r.symbol,
                side=r.side,
                qty=r.qty,
                filled_qty=r.filled_qty,
                status=r.status.value,
                created_at=r.created_at,
                updated_at=r.updated_at,
                dry_run=r.dry_run,
            )
            for r in self.store.unfinished_intents()
        ]

    def fill_history(self) -> list[Fill]:
        """Every fill in the store, oldest first (held in memory, read incrementally)."""
        return self._fills.refresh()

    def fills(self, limit: int = 50) -> list[FillOut]:
        """The latest ``limit`` fills, newest first."""
        latest = self._fills.refresh()[-limit:] if limit > 0 else []
        return [
            FillOut(
                timestamp=f.timestamp,
                symbol=f.symbol,
                side=f.side,
                qty=f.qty,
                price=f.price,
                value=round(f.qty * f.price, 2),
                client_order_id=f.client_order_id,
            )
            for f in reversed(latest)
        ]

    def refusals(self) -> Refusals:
        """Refusals by reason today and in total, and the latest of today."""
        day = self.session_date()
        since = day_start(day)
        recent = self.store.refusals(since)[-RECENT_REFUSALS:]
        return Refusals(
            session_date=day,
            today=self.store.refusal_counts(since),
            total=self.store.refusal_counts(),
            recent=[
                RefusalOut(
                    timestamp=r.timestamp,
                    symbol=r.symbol,
                    side=r.side,
                    reason=r.reason,
                    detail=r.detail,
                )
                for r in reversed(recent)
            ],
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
        trader = self._trader()
        if trader is not None:
            trader.update_state(now)
        return self.status()

    def record_poll(self, seconds: float, ok: bool) -> None:
        """Note a poll attempt (the poller's ``on_poll`` hook)."""
        self.last_poll_attempt = self.now()

    def health(self) -> Health:
        """Whether the bot in this process polls and its data is fresh."""
        bot = self.bot
        if bot is None or bot.poller is None:
            return Health(
                ok=False,
                reason="no bot runs in this process (this dashboard reads a stopped bot's store)",
                now=None,
                market_open=None,
                last_poll_at=None,
                last_success_at=None,
            )
        now = bot.clock.now()
        is_open = self.market(now)[0]
        facts = PollFacts(
            now=now,
            market_open=is_open,
            last_attempt=self.last_poll_attempt,
            last_success=bot.poller.last_success,
            stopping=bot.stats.exit_reason,
        )
        limit = stale_after(self.config.trading.data.poll_interval_seconds, bot.speed)
        ok, reason = judge(facts, limit)
        return Health(
            ok=ok,
            reason=reason,
            now=now,
            market_open=is_open,
            last_poll_at=self.last_poll_attempt,
            last_success_at=bot.poller.last_success,
        )


def _age(now: datetime, then: datetime | None) -> float | None:
    return max((now - then).total_seconds(), 0.0) if then is not None else None
