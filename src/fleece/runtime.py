"""The live runtime: the seed's four phases, supervised tasks and graceful shutdown.

1. Infrastructure: config (already loaded), broker (Alpaca paper, a loopback ``fleece exchange``,
   or the built-in exchange started in-process for ``FLEECE_MODE=sim``), state store,
   reconciliation.
2. Data: event bus, HTTP bar polling (one multi-symbol request per poll), warm-up backfill.
3. Trading logic: strategy, risk manager, order manager (see :mod:`fleece.trader`), housekeeping.
4. Runtime: the polling loop and housekeeping as supervised tasks; SIGTERM/SIGINT stop gracefully.

Timers follow the injected clock, so in sim mode a simulated day passes in seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import signal
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from fleece.broker import Broker
from fleece.clock import Clock, ScaledClock, SystemClock
from fleece.closing import CloseOutcome, close_out
from fleece.config import AppConfig, env_file_warning
from fleece.control.runner import CommandRunner
from fleece.disk_guard import DiskGuard
from fleece.errors import BrokerError, FleeceError
from fleece.event_bus import EventBus
from fleece.housekeeping import Housekeeping
from fleece.kernel import Kernel, build_kernel, protection_of, risk_limits
from fleece.minute_grid import LiveGrid
from fleece.models import Bar, TradingState
from fleece.notify.events import BotStarted, BotStopped, Discrepancy, ErrorRaised
from fleece.notify.hub import Notifications
from fleece.notify.reports import run_figures
from fleece.ownership import CloseMode, own_net, owned
from fleece.paper_lock import make_data_client, make_trading_client, resolve_endpoints
from fleece.reconciliation import reconcile
from fleece.risk_manager import STORE_FAILURE, CircuitBreaker
from fleece.sessions import SessionBook
from fleece.startup_checks import check_symbols, probe_feed, record_dropped
from fleece.state_store import StateStore
from fleece.store_health import StoreDiskError
from fleece.store_lock import StoreLock
from fleece.stream_polling import BarPoller, sleep_until
from fleece.systemd import notify, watchdog_warning
from fleece.trader import Trader, session_date

log = logging.getLogger(__name__)
ONE_MINUTE = timedelta(minutes=1)
# A supervised task that ran this long (real seconds) before crashing was healthy.
HEALTHY_RUN_S = 60.0


@dataclass(frozen=True, slots=True)
class MinuteBars:
    """The grid's bars of the minutes a poll judged (minute by minute, symbols in order)."""

    bars: tuple[Bar, ...]


@dataclass
class RunStats:
    """Figures a run reports at the end (the demo's summary reads them)."""

    started_sim: datetime | None = None
    stopped_sim: datetime | None = None
    polls: int = 0
    bars: int = 0
    late_bars: int = 0
    requests: dict[str, int] = field(default_factory=dict)
    #: Per symbol: minutes of the grid the strategy stepped, and how many of them had no bar.
    grid_minutes: dict[str, int] = field(default_factory=dict)
    empty_minutes: dict[str, int] = field(default_factory=dict)
    exit_reason: str = ""

    @property
    def requests_total(self) -> int:
        """Broker requests the run made, bars included."""
        return sum(self.requests.values())

    @property
    def requests_per_market_minute(self) -> float:
        """Requests per minute of trading: the bot polls once per market minute."""
        return self.requests_total / self.polls if self.polls else 0.0

    def simulated_minutes(self) -> float:
        """Simulated (or real) minutes the run covered."""
        if self.started_sim is None or self.stopped_sim is None:
            return 0.0
        return max((self.stopped_sim - self.started_sim) / ONE_MINUTE, 0.0)


class Bot:
    """One bot process: build with a validated config, then ``await bot.run()``."""

    def __init__(
        self,
        config: AppConfig,
        *,
        stop_at: datetime | None = None,
        stop_after_sessions: int | None = None,
        install_signal_handlers: bool = True,
        notifications: Notifications | None = None,
        store_lock: StoreLock | None = None,
    ) -> None:
        self.config = config
        # Notifications: the event sink injected into the trader, orders and housekeeping.
        self.events = notifications or Notifications.from_config(config)
        self.stop_at = stop_at
        self.stop_after_sessions = stop_after_sessions
        self.install_signal_handlers = install_signal_handlers
        self.stats = RunStats()
        self._stopping = asyncio.Event()
        self._signals = 0
        self._exchange_server: Any = None
        self.exchange: Any = None
        self.clock: Clock = SystemClock()
        self.speed: float | None = None
        self.store: StateStore | None = None
        self.broker: Broker | None = None
        self.trader: Trader | None = None
        self.kernel: Kernel | None = None
        self.poller: BarPoller | None = None
        self.grid: LiveGrid | None = None
        self.housekeeping: Housekeeping | None = None
        self.base_url: str | None = None
        self.dashboard_url: str | None = None
        self.commands: CommandRunner | None = None  # operator commands (fleece flatten, /flatten)
        # One bot per store: taken first thing in phase 1 unless the caller holds it already.
        self.store_lock = store_lock
        self.disk = DiskGuard(self._halt_for_store)
        # The configured symbols the broker will trade (start-up checks drop the others).
        self.symbols: tuple[str, ...] = config.trading.tickers
        self.dropped: dict[str, str] = {}

    # ---- phase 1 ---------------------------------------------------------------------------
    def _start_sim_exchange(self, key: str, secret: str) -> str:
        from fleece.exchange.server import ExchangeServer
        from fleece.exchange.sim import build_exchange

        s = self.config.settings
        trading = self.config.trading
        exchange = build_exchange(
            list(trading.tickers),
            data_dir=Path(s.sim_data) if s.sim_data else None,
            synthetic=not s.sim_data,
            start=s.sim_start,
            days=s.sim_days,
            speed=s.sim_speed,
            seed=s.sim_seed,
            # Simulated time waits for the bot: released once reconciliation and the warm-up
            # are done (see _phase_trading_logic), so no minute of the session goes unwatched.
            paused=True,
        )
        self.exchange = exchange
        self._exchange_server = ExchangeServer(exchange, key, secret)
        url: str = self._exchange_server.start()
        self.clock = exchange.clock
        self.speed = s.sim_speed
        log.info("built-in exchange started url=%s speed=%s", url, s.sim_speed)
        return url

    def _build_broker(self) -> Broker:
        s = self.config.settings
        trading_url: str | None
        data_url: str | None
        if s.fleece_mode == "sim":
            key, secret = "sim-" + secrets.token_hex(8), secrets.token_hex(16)
            url = self._start_sim_exchange(key, secret)
            trading_url, data_url = url, url
        else:
            endpoints = resolve_endpoints(s)
            key = s.alpaca_api_key.get_secret_value() if s.alpaca_api_key else ""
            secret = s.alpaca_secret_key.get_secret_value() if s.alpaca_secret_key else ""
            trading_url, data_url = endpoints.trading_url, endpoints.data_url
            if endpoints.local:
                # A separately started `fleece exchange`: its clock is simulated, follow it.
                self.clock = _BrokerClock()
                self.speed = 0.0
        self.base_url = trading_url
        timeout = s.alpaca_timeout_seconds
        trading = make_trading_client(key, secret, trading_url, timeout=timeout, raw_data=True)
        data = make_data_client(key, secret, data_url, timeout=timeout, raw_data=True)
        return Broker(
            trading,
            data,
            feed=self.config.trading.data.feed,
            now=self.clock.now,
            wait_until=self._wait_until,
        )

    def _build_core(self, store: StateStore, broker: Broker) -> Trader:
        s, t = self.config.settings, self.config.trading
        tripped, consecutive = store.breaker()
        breaker = CircuitBreaker(t.risk.circuit_breaker_failures, consecutive, tripped)
        now = self.clock.now()
        if s.circuit_breaker_reset and (tripped or consecutive):
            breaker.reset()
            store.set_breaker(False, 0, now)
            log.warning("circuit breaker reset by CIRCUIT_BREAKER_RESET=true")
        elif tripped:
            log.error("circuit breaker is tripped (persisted): trading HALTED until reset")
        if s.kill_switch:
            log.warning("KILL_SWITCH=true: trading HALTED, no orders will be sent")
        self.kernel = build_kernel(
            strategy=t.strategy.spec.build(),
            limits=risk_limits(t.risk),
            store=store,
            broker=broker,
            clock=self.clock,
            breaker=breaker,
            time_in_force=t.orders.time_in_force,
            dry_run=s.dry_run,
            kill_switch_env=s.kill_switch,
            protection=protection_of(t),
        )
        trader, orders = self.kernel.trader, self.kernel.orders
        orders.events = trader.events = self.events  # notifications
        return trader

    # ---- the run -------------------------------------------------------------------------
    async def run(self) -> int:
        """Run until stopped; returns the process exit code."""
        if self.install_signal_handlers:
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, self._on_signal, sig)
        run_id: int | None = None
        code = 1  # what an exception other than a FleeceError leaves (for the stop message)
        self.events.start()  # notifications: delivery and heartbeat threads
        try:
            run_id = await self._phase_infrastructure()
            bus = await self._phase_data()
            self._phase_trading_logic()
            code = await self._phase_runtime(bus)
            return code
        except FleeceError as exc:
            log.error("bot stopped: %s", exc)
            self.stats.exit_reason = f"error: {exc}"
            code = 1 if isinstance(exc, BrokerError | StoreDiskError) else 2
            return code
        finally:
            self.stats.stopped_sim = self.clock.now() if self.store is not None else None
            if self.broker is not None:
                self.stats.requests = dict(self.broker.requests)
                log.info(
                    "run stats minutes=%.0f polls=%d bars=%d requests=%d per_market_minute=%.2f %s",
                    self.stats.simulated_minutes(),
                    self.stats.polls,
                    self.stats.bars,
                    self.stats.requests_total,
                    self.stats.requests_per_market_minute,
                    " ".join(f"{k}={v}" for k, v in sorted(self.stats.requests.items())),
                )
            if self.trader is not None and self.trader.latency.samples:
                timer = self.trader.latency
                log.info(
                    "decision latency orders=%d p50_ms=%.3f p99_ms=%.3f max_ms=%.3f"
                    " to_send_p50_ms=%.3f to_send_p99_ms=%.3f",
                    len(timer.samples),
                    (timer.percentile(0.50) or 0.0) * 1000,
                    (timer.percentile(0.99) or 0.0) * 1000,
                    max(timer.samples) * 1000,
                    (timer.percentile(0.50, send=True) or 0.0) * 1000,
                    (timer.percentile(0.99, send=True) or 0.0) * 1000,
                )
            if self.store is not None and run_id is not None:
                # A failed disk cannot take the last words; the exit code says it instead.
                with contextlib.suppress(StoreDiskError):
                    reason = self.stats.exit_reason or "error"
                    self.store.end_run(run_id, self.clock.now(), reason)
            self._notify_stopped(code)
            if self.store is not None:
                with contextlib.suppress(StoreDiskError):
                    self.store.close()
            if self._exchange_server is not None:
                self._exchange_server.stop()
            if self.store_lock is not None:
                self.store_lock.release()
            self.events.close(code)  # notifications: the last messages go out (bounded wait)

    # ---- notifications ---------------------------------------------------------------------
    def _notify_started(self) -> None:
        assert self.trader is not None
        account = self.trader.account
        self.events.emit(
            BotStarted(
                self.clock.now(),
                self.config.settings.fleece_mode,
                self.config.trading.tickers,
                account.equity if account else None,
                self.trader.state[0],
                self.config.settings.dry_run,
            )
        )

    def _notify_discrepancies(self, since: datetime, limit: int = 20) -> None:
        assert self.store is not None
        found = self.store.reconciliation_events(since)
        for event in found[:limit]:
            self.events.emit(Discrepancy(event.timestamp, event.kind, event.symbol, event.detail))
        if len(found) > limit:
            more = f"{len(found) - limit} more: see the reconciliation_events table"
            self.events.emit(Discrepancy(since, "more discrepancies", None, more))

    def _notify_stopped(self, code: int) -> None:
        figures = None
        try:
            # A failed store was reported once already (the disk guard's ERROR line).
            readable = self.store is not None and not self.disk.tripped
            if readable and self.store is not None and self.stats.started_sim is not None:
                held = len(self.trader.portfolio.qty) if self.trader else 0
                figures = run_figures(self.store, self.stats.started_sim, held)
        except Exception:  # the stop message must not hide the real reason of the stop
            log.exception("run figures for the stop message could not be read")
        reason = self.stats.exit_reason or "error"
        self.events.emit(BotStopped(self.clock.now(), reason, code, figures))

    async def _phase_infrastructure(self) -> int:
        """Phase 1: broker, state store, core objects, reconciliation; returns the run id."""
        s = self.config.settings
        if self.store_lock is None:  # before anything is sent: a second bot stops here
            self.store_lock = StoreLock.acquire(Path(s.database_path))
        warning = env_file_warning(Path(s.env_source))
        if warning:
            log.warning(warning)
        # Opened (and checked: damaged, foreign, not SQLite) before anything is sent.
        store = StateStore(Path(s.database_path))
        try:
            self.broker = self._build_broker()
            if isinstance(self.clock, _BrokerClock):
                await self.clock.sync(self.broker)
        except BaseException:
            store.close()
            raise
        self.store = store
        self.events.seed(self.store.fills())  # notifications: earlier positions' average cost
        run_id = self.store.start_run(self.clock.now(), os.getpid(), s.fleece_mode)
        self.trader = self._build_core(self.store, self.broker)
        reconciled_at = self.clock.now()
        _summary, positions = await reconcile(
            self.store, self.broker, self.trader.orders, self.clock
        )
        self._notify_discrepancies(reconciled_at)
        broker = {sym: p.qty for sym, p in positions.items()}
        fills = self.store.fills()
        self.trader.portfolio.replace(owned(own_net(fills), broker))
        self.trader.protector.seed(fills)
        await self._startup_checks()
        await self._restore_protection()
        try:  # the equity for the start message and the dashboard, from the first moment
            self.trader.account = await self.broker.account()
        except BrokerError as exc:
            log.warning("account read failed reason=%s", exc)
        self.stats.started_sim = self.clock.now()
        return run_id

    async def _restore_protection(self) -> None:
        """Protective orders the positions should have at the broker and do not (a crash
        between an entry's fill and its stop): sent now, market open or not."""
        assert self.kernel is not None
        try:
            sent = await self.kernel.protect(self.clock.now(), any_time=True)
        except BrokerError as exc:
            log.warning("protection not restored at start-up reason=%s", exc)
            return
        if sent:
            log.warning("protection restored at start-up: %d protective orders sent", sent)

    async def _startup_checks(self) -> None:
        """Drop the symbols the broker will not trade, and probe the feed once (exit 2)."""
        assert self.broker is not None and self.store is not None
        source = str(self.config.config_path)
        checked = await check_symbols(self.broker, self.config.trading.tickers, source)
        self.symbols, self.dropped = checked.kept, checked.dropped
        record_dropped(self.store, self.dropped, self.clock.now())
        feed = self.config.trading.data.feed
        await probe_feed(self.broker, self.symbols[0], feed, self.clock.now(), source)

    async def _phase_data(self) -> EventBus:
        """Phase 2: calendar, event bus, bar polling and the warm-up backfill."""
        assert self.broker is not None
        await self._refresh_calendar()
        bus = EventBus()
        bus.subscribe(MinuteBars, self._on_minute_bars)
        self.poller = BarPoller(self.broker, self.clock, self.symbols)
        await self._warmup()
        self._restore_marks()
        if self.stop_after_sessions is not None and self.stop_at is None:
            self.stop_at = self._stop_time(self.stop_after_sessions)
        if self.exchange is not None and self.stop_at is None:
            self.stop_at = self._sim_data_end()
        if self.stop_at is not None:
            log.info("will stop at %s", self.stop_at.isoformat())
        return bus

    def _restore_marks(self) -> None:
        """``orders.protective: bot``: the trailing stops' marks, from the minutes the bot was
        fed since each entry (a restart must not lower a stop)."""
        assert self.trader is not None and self.store is not None
        protector = self.trader.protector
        if not protector.protection.watched or protector.protection.trailing_stop_pct is None:
            return
        regular = self.trader.sessions.is_regular_bar
        for symbol, entry in protector.entries.items():
            fed = self.store.bars_between(symbol, entry.since, self.clock.now(), fed_only=True)
            protector.remark(symbol, [b for b in fed if regular(b.timestamp)])

    def _phase_trading_logic(self) -> None:
        """Phase 3: housekeeping beside the strategy/risk/orders core built in phase 1."""
        assert self.store and self.broker and self.trader
        # From now on a failing disk halts trading (before, it stops the start with one line).
        self.store.on_disk_error = self.disk
        self.housekeeping = Housekeeping(
            self.store,
            self.broker,
            self.trader,
            self.clock,
            self.config.trading.housekeeping,
            stale_order_minutes=self.config.trading.orders.stale_order_minutes,
            events=self.events,
            broker_down_seconds=self.config.trading.notifications.broker_down_seconds,
        )
        log.info(
            "bot running mode=%s symbols=%d dry_run=%s state=%s",
            self.config.settings.fleece_mode,
            len(self.symbols),
            self.config.settings.dry_run,
            self.trader.update_state(self.clock.now())[0].value,
        )
        self._notify_started()
        if (sim := self._sim_clock()) is not None:
            sim.hold_at(self._next_poll(sim.now()))  # lockstep from the first poll on
            sim.resume()
        self.commands = CommandRunner(self.store, self.clock, self.flatten)
        self.commands.expire_left_overs()
        notify("READY=1")  # systemd Type=notify: started and trading
        if (warning := watchdog_warning()) is not None:
            log.warning(warning)

    async def _phase_runtime(self, bus: EventBus) -> int:
        """Phase 4: supervised tasks until a stop, then the graceful shutdown."""
        dashboard = None
        if self.config.settings.dashboard_enabled:
            from fleece.dashboard import DashboardServer  # FastAPI and uvicorn only when used

            dashboard = DashboardServer.for_bot(self)
            self.dashboard_url = dashboard.bind()  # a busy port fails here, before any task
            log.info("dashboard listening on %s", self.dashboard_url)
        tasks = [
            asyncio.create_task(self._supervise("event_bus", bus.run)),
            asyncio.create_task(self._supervise("polling", lambda: self._poll_loop(bus))),
        ]
        if dashboard is not None:
            tasks.append(asyncio.create_task(self._supervise("dashboard", dashboard.serve)))
        if self.config.settings.telegram_bot_token is not None:
            from fleece.control.telegram import TelegramControl  # only when configured

            # Not supervised: it retries by itself and never raises, so a Telegram outage can
            # never stop the bot.
            tasks.append(asyncio.create_task(TelegramControl.for_bot(self).serve()))
        stopper = asyncio.create_task(self._stopping.wait())
        done, _ = await asyncio.wait([*tasks, stopper], return_when=asyncio.FIRST_COMPLETED)
        crashed = [t for t in done if t is not stopper and t.exception() is not None]
        if not crashed:
            await bus.join()
        for task in [*tasks, stopper]:
            task.cancel()
        await asyncio.gather(*tasks, stopper, return_exceptions=True)
        await self._shutdown()
        if crashed:
            self.stats.exit_reason = "task_failed"
            return 1
        if self.disk.failure is not None:
            self.stats.exit_reason = f"store failure: {self.disk.failure.what}"
            return 1
        self.stats.exit_reason = self.stats.exit_reason or "stopped"
        return 0

    def _sim_clock(self) -> ScaledClock | None:
        """The in-process exchange's running clock (sim mode), which the bot may hold."""
        if self.exchange is not None and isinstance(self.exchange.clock, ScaledClock):
            return self.exchange.clock
        return None

    def request_stop(self, reason: str = "requested") -> None:
        """Begin a graceful shutdown (thread-safe from the loop's own thread)."""
        if not self._stopping.is_set():
            self.stats.exit_reason = reason
            self._stopping.set()

    def _on_signal(self, sig: signal.Signals) -> None:
        self._signals += 1
        if self._signals == 1:
            log.info("signal %s received: shutting down gracefully", sig.name)
            self.request_stop(f"signal {sig.name}")
            return
        # A second signal: leave at once. SQLite's WAL keeps the store consistent regardless.
        log.warning("second signal %s: exiting immediately", sig.name)
        if self.store is not None:
            with contextlib.suppress(StoreDiskError):
                self.store.close()
        os._exit(130)

    async def _supervise(self, name: str, factory: Callable[[], Awaitable[None]]) -> None:
        """Run a task; restart it with backoff when it crashes, give up after 5 in a row.

        A run that lasted a while before crashing starts the count again: five crashes spread
        over weeks (a broker outage now and then) are not a crash loop.
        """
        failures = 0
        while not self._stopping.is_set():
            started = time.monotonic()
            try:
                await factory()
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if time.monotonic() - started >= HEALTHY_RUN_S:
                    failures = 0
                failures += 1
                log.exception("task crashed task=%s failures=%d", name, failures)
                self.events.emit(
                    ErrorRaised(self.clock.now(), f"task {name}", f"{type(exc).__name__}: {exc}")
                )
                if failures >= 5:
                    log.error("task %s keeps crashing: stopping the bot", name)
                    raise
                await asyncio.sleep(min(2.0**failures * 0.1, 5.0))

    # ---- phase 2: data ---------------------------------------------------------------------
    async def _refresh_calendar(self) -> None:
        assert self.broker is not None and self.trader is not None
        now = self.clock.now()
        days = await self.broker.calendar(
            (now - timedelta(days=10)).date(), (now + timedelta(days=20)).date()
        )
        self.trader.sessions = SessionBook.from_days(days)

    def _backfill_start(self) -> datetime:
        """Far enough back to fill the slow window: the two previous sessions and today."""
        assert self.trader is not None
        now = self.clock.now()
        starts = sorted(d.open for d in self.trader.sessions.days.values() if d.open <= now)
        return (
            starts[-3] if len(starts) >= 3 else (starts[0] if starts else now - timedelta(days=3))
        )

    def _stop_time(self, sessions: int) -> datetime:
        """After ``sessions`` full sessions: 30 minutes into the next one, so that shutdown
        can still close positions at market (after the close they would wait overnight)."""
        assert self.trader is not None
        now = self.clock.now()
        ahead = sorted(
            (d for d in self.trader.sessions.days.values() if d.close > now), key=lambda d: d.open
        )
        if len(ahead) > sessions:
            return ahead[sessions].open + timedelta(minutes=30)
        return ahead[-1].close if ahead else now

    def _sim_data_end(self) -> datetime:
        """In sim mode, a run ends with its data: just after the last session with bars closes."""
        assert self.trader is not None and self.exchange is not None
        far = datetime.max.replace(tzinfo=UTC) - timedelta(days=2)
        lasts = [self.exchange.store.last_closed(sym, far) for sym in self.exchange.store.symbols]
        last = max(b.timestamp for b in lasts if b is not None)
        session = self.trader.sessions.session_at(last)
        return (session.close if session else last + ONE_MINUTE) + timedelta(minutes=1)

    async def _warmup(self) -> None:
        assert self.poller is not None and self.trader is not None and self.store is not None
        start = self._backfill_start()
        settle = timedelta(seconds=self.config.trading.data.bar_settle_seconds)
        self.grid = LiveGrid(settle=settle, start=start)
        bars = await self.poller.poll(start)
        self.store.add_bars(bars)
        grid_bars = self._judge_minutes(bars)
        self.trader.warmup(grid_bars)
        log.info(
            "warm-up bars=%d grid_bars=%d since=%s", len(bars), len(grid_bars), start.isoformat()
        )

    def _judge_minutes(self, bars: list[Bar]) -> list[Bar]:
        """Hand polled bars to the minute grid; return the bars of the minutes it judged.

        Late bars (their minute was already judged empty) are stored as such, counted and
        logged, never fed to the strategy. A failed poll judges nothing: only an answer
        without a bar makes a minute empty.
        """
        assert self.grid is not None and self.poller is not None and self.trader is not None
        polled_at = self.poller.answered_at
        if polled_at is None:
            return []
        sessions = self.trader.sessions
        late = self.grid.receive(bars, sessions.is_regular_bar)
        if late:
            assert self.store is not None
            self.store.mark_late(late)
            self.stats.late_bars += len(late)
            for bar in late:
                log.warning(
                    "late bar symbol=%s minute=%s: its minute was judged empty, not fed",
                    bar.symbol,
                    bar.timestamp.isoformat(),
                )
        judged = self.grid.judge(polled_at, ((d.open, d.close) for d in sessions.days.values()))
        self.stats.grid_minutes = dict(self.grid.carry.on_grid)
        self.stats.empty_minutes = dict(self.grid.carry.carried)
        return judged

    async def _poll_loop(self, bus: EventBus) -> None:
        assert self.poller is not None and self.trader is not None
        while not self._stopping.is_set():
            now = self.clock.now()
            if self.stop_at is not None and now >= self.stop_at:
                self.request_stop("stop time reached")
                return
            target = self._next_poll(now)
            if (sim := self._sim_clock()) is not None:
                # The built-in exchange's market waits at our next poll: each cycle happens at
                # its exact simulated instant however loaded the machine, so a sim run is
                # deterministic and trades as a backtest of the same bars does.
                sim.hold_at(target)
            await self._sleep_until(target)
            if self._stopping.is_set():
                return
            await self._cycle(bus)
            if self.commands is not None:  # operator commands, between two cycles
                await self.commands.run_pending()

    def _next_poll(self, now: datetime) -> datetime:
        """Polls land just after a minute's bars close: one request per minute at most.

        ``poll_interval_seconds`` under a minute is the delay after each minute boundary (bars
        need a moment to be published); a minute or more polls that often, on the minute.
        """
        data = self.config.trading.data
        seconds = data.poll_interval_seconds
        minute = now.replace(second=0, microsecond=0)
        if seconds < 60:
            target = minute + timedelta(seconds=data.poll_offset_seconds)
            return target if target > now else target + ONE_MINUTE
        return minute + timedelta(seconds=seconds)

    async def _sleep_until(self, target: datetime) -> None:
        if isinstance(self.clock, _BrokerClock):
            assert self.broker is not None
            while self.clock.now() < target and not self._stopping.is_set():
                await asyncio.sleep(self.clock.nap_before(target))
                try:
                    await self.clock.sync(self.broker)
                except BrokerError as exc:
                    # The exchange is down or restarting: its clock stands still meanwhile.
                    log.warning("exchange clock unreachable, waiting reason=%s", exc)
                    await asyncio.sleep(1.0)
            return
        waiter = asyncio.create_task(sleep_until(self.clock, target, self.speed))
        stopper = asyncio.create_task(self._stopping.wait())
        await asyncio.wait([waiter, stopper], return_when=asyncio.FIRST_COMPLETED)
        waiter.cancel()
        stopper.cancel()

    async def _wait_until(self, target: datetime) -> None:
        """Wait for the bot's clock to reach ``target``, stopping or not (the rate-limit reset)."""
        if isinstance(self.clock, _BrokerClock):
            assert self.broker is not None
            while self.clock.now() < target:
                await asyncio.sleep(self.clock.nap_before(target))
                with contextlib.suppress(BrokerError):
                    await self.clock.sync(self.broker)
            return
        await sleep_until(self.clock, target, self.speed)

    async def _cycle(self, bus: EventBus) -> None:
        """One poll; after a store failure, only a sign of life (HALTED, nothing to record)."""
        if self.disk.tripped:
            notify("WATCHDOG=1")  # the loop is alive and halted, not hung: no restart
            return
        with self.disk.quietly():
            await self._trading_cycle(bus)

    async def _trading_cycle(self, bus: EventBus) -> None:
        """Refresh orders, account and bars; publish bars; do due housekeeping."""
        assert self.poller and self.trader and self.broker and self.store and self.housekeeping
        now = self.clock.now()
        if not self.trader.sessions.covers(now):
            await self._refresh_calendar()
        self.trader.breaker_sync()
        try:
            await self.trader.orders.refresh()
        except BrokerError as exc:
            log.warning("order refresh failed reason=%s", exc)
        bars = await self.poller.poll(self._backfill_start())
        self.stats.polls = self.poller.polls
        if bars:
            self.store.add_bars(bars)
            self.stats.bars += len(bars)
        grid_bars = self._judge_minutes(bars)
        market_open = self.trader.sessions.is_open(now)
        if grid_bars or market_open:
            try:
                self.trader.account = await self.broker.account()
                self.trader.reserved_cash = 0.0
            except BrokerError as exc:
                log.warning("account read failed reason=%s", exc)
        assert self.kernel is not None
        try:
            await self.kernel.protect(now)  # the positions' protective orders, before the bars
        except BrokerError as exc:
            log.warning("protection sweep failed reason=%s", exc)
        if grid_bars:
            await bus.publish(MinuteBars(tuple(grid_bars)))
            await bus.join()
        await self.housekeeping.tick(now, market_open)

    async def _on_minute_bars(self, event: MinuteBars) -> None:
        assert self.kernel is not None
        if self.disk.tripped:
            return  # HALTED: bars still queued from the failing cycle decide nothing
        with self.disk.quietly():
            await self.kernel.step(event.bars)

    def _halt_for_store(self, failure: StoreDiskError) -> None:
        """The disk guard's action: HALTED in memory (the store cannot record it)."""
        if self.trader is not None:
            self.trader.store_failed = True
            self.trader.state = (TradingState.HALTED, STORE_FAILURE)

    # ---- shutdown ------------------------------------------------------------------------
    async def _shutdown(self) -> None:
        """Stop taking signals, cancel orders and close positions as configured, flush."""
        assert self.trader and self.broker and self.store
        cfg = self.config.trading.shutdown
        self.trader.accepting = False
        now = self.clock.now()
        market_open = self.trader.sessions.is_open(now)
        log.info("shutdown begins market_open=%s", market_open)
        notify("STOPPING=1")
        try:
            await asyncio.wait_for(self._wind_down(cfg, market_open), timeout=cfg.grace_seconds)
        except TimeoutError:
            log.error(
                "shutdown grace of %ss exceeded; leaving orders as they are", cfg.grace_seconds
            )
        except BrokerError as exc:
            log.error("shutdown could not finish with the broker: %s", exc)
        except StoreDiskError:
            if not self.disk.tripped:
                raise
            log.warning("shutdown stopped at the failed store: positions kept as they are")
        finally:
            if (sim := self._sim_clock()) is not None:
                sim.release()
        state = self.trader.state[0]
        with self.disk.quietly():
            state = self.trader.update_state(self.clock.now())[0]
            if self.trader.account is not None:
                a = self.trader.account
                self.store.add_equity_snapshot(
                    self.clock.now(),
                    a.equity,
                    a.cash,
                    a.equity - a.cash,
                    len(self.trader.portfolio.qty),
                    len(self.store.unfinished_intents()),
                )
        log.info("shutdown complete state=%s", state.value)

    async def _wind_down(self, cfg: Any, market_open: bool) -> None:
        assert self.trader and self.broker and self.store
        # The close-out routine `fleece flatten` shares (fleece.closing).
        await close_out(
            self.trader,
            self.broker,
            self.store,
            market_open,
            mode=CloseMode(cfg.close_positions),
            cancel_orders=cfg.cancel_open_orders,
            tag="shutdown",
            refresh=not self.disk.tripped,  # what a refresh learns could not be recorded
            keep_protective=cfg.keep_protective,
        )
        # Wait for the closing fills (and cancel confirmations) so they land in the store
        # before we exit; orders left working on purpose, or that cannot fill while the market
        # is closed, are not worth the grace period.
        closing = cfg.cancel_open_orders or cfg.close_positions != "none"
        worth_waiting = market_open and closing and not self.disk.tripped
        if (sim := self._sim_clock()) is not None:
            # Everything above happened at the held instant of the last poll (so a sim run's
            # closing orders are deterministic too); their fills need the market to move on.
            sim.release()
        # Protective orders kept at the broker are not waited for: they outlive the bot.
        while worth_waiting and self.trader.orders.awaiting:
            await self.trader.orders.refresh()
            if not self.trader.orders.awaiting:
                break
            await self._nap()
        with contextlib.suppress(BrokerError):
            self.trader.account = await self.broker.account()

    async def flatten(self) -> CloseOutcome:
        """Close the bot's positions now (``fleece flatten``): the shutdown's close-out."""
        assert self.trader and self.broker
        assert self.store is not None
        return await close_out(
            self.trader,
            self.broker,
            self.store,
            self.trader.sessions.is_open(self.clock.now()),
            mode=CloseMode.OWN,  # flatten closes the bot's own positions, whatever shutdown does
            cancel_orders=True,
            tag="flatten",
        )

    async def _nap(self) -> None:
        if self.exchange is not None and self.speed:
            await asyncio.sleep(min(1.0, 30.0 / self.speed))
        else:
            await asyncio.sleep(0.5)


class _BrokerClock:
    """The clock of a separately running exchange, read from its ``/v2/clock``.

    It never runs ahead of the exchange: ``now`` is the last time read. What it learns is the
    exchange's pace (simulated seconds per real second between the last two reads), so that
    waiting for a moment takes about one read for a running simulation instead of one every
    50 ms; a stepped exchange (pace 0) is simply re-read often, since only its operator moves
    it, and a jump (a skipped night, a step) only makes the next nap short.
    """

    def __init__(self, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._monotonic = monotonic
        self._synced: datetime | None = None
        self._synced_at = 0.0
        self.pace = 0.0

    def now(self) -> datetime:
        if self._synced is None:
            raise RuntimeError("broker clock read before the first sync")
        return self._synced

    def nap_before(self, target: datetime) -> float:
        """Real seconds to wait before reading the clock again on the way to ``target``."""
        if self._synced is None or self.pace <= 0:
            return 0.05
        remaining = (target - self._synced).total_seconds() / self.pace
        return min(max(remaining, 0.05), 5.0)

    async def sync(self, broker: Broker) -> None:
        """Read the broker's time (one request) and the pace since the previous read."""
        stamp = (await broker.clock()).timestamp
        at = self._monotonic()
        if self._synced is not None and at > self._synced_at:
            self.pace = max((stamp - self._synced).total_seconds() / (at - self._synced_at), 0.0)
        if self._synced is None or stamp > self._synced:
            self._synced = stamp
        self._synced_at = at


def is_sim_clock(clock: Clock) -> bool:
    """True when time is simulated (the built-in exchange's clock)."""
    return isinstance(clock, ScaledClock)


def current_state(bot: Bot) -> TradingState:
    """The bot's current trading state (for tests and the summary)."""
    return bot.trader.state[0] if bot.trader else TradingState.ACTIVE


def today(bot: Bot) -> str:
    """The session date the bot is in, ISO."""
    return session_date(bot.clock.now()).isoformat()
