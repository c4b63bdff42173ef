"""The live runtime: the seed's four phases, supervised tasks and graceful shutdown.

1. Infrastructure: config (already loaded), broker (Alpaca paper, a loopback ``fleece exchange``,
   or the built-in exchange started in-process for ``FLEECE_MODE=sim``), state store,
   reconciliation.
2. Data: event bus, HTTP bar polling (one multi-symbol request per poll), warm-up backfill.
3. Trading logic: strategy, risk manager, order manager (see :mod:`fleece.trader`), housekeeping.
4. Runtime: the polling loop and housekeeping as supervised tasks; SIGTERM/SIGINT stop gracefully.

Timers follow the injected clock, so in sim mode a simulated day passes in seconds. The phases'
parts live beside :class:`Bot`: ``runtime_broker`` (the connection), ``runtime_start`` (the
catch-up with the broker), ``runtime_data`` (the bars' way in), ``runtime_cycle`` (one poll),
``runtime_view`` (the read model), ``runtime_notices``, ``runtime_shutdown``, ``runtime_times``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from fleece.broker import Broker
from fleece.broker_clock import BrokerClock
from fleece.clock import Clock, ScaledClock, SystemClock
from fleece.closing import CloseOutcome, flatten
from fleece.config import AppConfig, env_file_warning
from fleece.control.runner import CommandRunner
from fleece.disk_guard import DiskGuard
from fleece.errors import EXIT_FAILURE, FleeceError, exit_code
from fleece.event_bus import EventBus
from fleece.housekeeping import Housekeeping
from fleece.kernel import Kernel, build_kernel, protection_of, risk_limits
from fleece.notify.hub import Notifications
from fleece.publisher import SnapshotPublisher
from fleece.run_stats import MinuteBars, RunStats
from fleece.runtime_broker import connect
from fleece.runtime_cycle import PollLoop, trading_cycle, wait_until
from fleece.runtime_data import BarFeed, restore_marks, restored_breaker
from fleece.runtime_notices import announce_running, report_run_end
from fleece.runtime_shutdown import Stopping, close_store, release, shut_down
from fleece.runtime_start import catch_up
from fleece.runtime_times import next_poll, run_end
from fleece.runtime_view import LiveView
from fleece.runtime_viewers import bound_dashboard, telegram_control
from fleece.state_store import StateStore
from fleece.store_health import StoreDiskError
from fleece.store_lock import StoreLock
from fleece.stream_polling import BarPoller
from fleece.supervision import crash_notice, run_until_stopped, supervise
from fleece.systemd import notify, watchdog_warning
from fleece.trader import Trader

log = logging.getLogger(__name__)


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
        self.feed: BarFeed | None = None  # phase 2: the calendar, the warm-up, the polls
        self.housekeeping: Housekeeping | None = None
        self.base_url: str | None = None
        self.dashboard_url: str | None = None
        self.commands: CommandRunner | None = None  # operator commands (fleece flatten, /flatten)
        self.view: LiveView | None = None  # phase 3: its snapshot, published after each cycle
        # One bot per store: taken first thing in phase 1 unless the caller holds it already.
        self.store_lock = store_lock
        self.disk = DiskGuard(self._halt_for_store)
        # The configured symbols the broker will trade (start-up checks drop the others).
        self.symbols: tuple[str, ...] = config.trading.tickers
        self.dropped: dict[str, str] = {}

    # ---- phase 1 ---------------------------------------------------------------------------
    def _build_broker(self) -> Broker:
        link = connect(self.config, self._wait_until, self.clock)
        self.exchange, self._exchange_server = link.exchange, link.exchange_server
        self.base_url = link.base_url
        if link.clock is not None:
            self.clock, self.speed = link.clock, link.speed
        return link.broker

    def _build_core(self, store: StateStore, broker: Broker) -> Trader:
        s, t = self.config.settings, self.config.trading
        breaker = restored_breaker(store, self.config, self.clock.now())
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
        code = EXIT_FAILURE  # what an exception other than a FleeceError leaves (stop message)
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
            code = exit_code(exc)  # 2 only for a refused configuration: systemd won't restart
            return code
        finally:
            report_run_end(
                self.stats,
                self.events,
                store=self.store,
                run_id=run_id,
                trader=self.trader,
                broker=self.broker,
                disk=self.disk,
                clock=self.clock,
                code=code,
            )
            release(self.store, self._exchange_server, self.store_lock)
            self.events.close(code)  # notifications: the last messages go out (bounded wait)

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
            if isinstance(self.clock, BrokerClock):
                await self.clock.sync(self.broker)
        except BaseException:
            store.close()
            raise
        self.store = store
        self.events.seed(self.store.fills())  # notifications: earlier positions' average cost
        run_id = self.store.start_run(self.clock.now(), os.getpid(), s.fleece_mode)
        self.trader = self._build_core(self.store, self.broker)
        assert self.kernel is not None
        checked = await catch_up(
            self.kernel, self.store, self.broker, self.clock, config=self.config, events=self.events
        )
        self.symbols, self.dropped = checked.kept, checked.dropped
        self.stats.started_sim = self.clock.now()
        return run_id

    async def _phase_data(self) -> EventBus:
        """Phase 2: calendar, event bus, bar polling and the warm-up backfill."""
        assert self.broker is not None and self.trader is not None and self.store is not None
        self.poller = BarPoller(self.broker, self.clock, self.symbols)
        data = self.config.trading.data
        self.feed = BarFeed(
            self.broker, self.clock, self.poller, self.trader, self.store, self.stats, data
        )
        await self.feed.refresh_calendar()
        bus = EventBus()
        bus.subscribe(MinuteBars, self._on_minute_bars)
        await self.feed.warm_up()
        restore_marks(self.trader, self.store, self.clock.now())
        self.stop_at = run_end(
            self.trader.sessions,
            self.clock.now(),
            stop_at=self.stop_at,
            after_sessions=self.stop_after_sessions,
            sim_bars=self.exchange.store if self.exchange is not None else None,
        )
        if self.stop_at is not None:
            log.info("will stop at %s", self.stop_at.isoformat())
        return bus

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
        announce_running(self.events, self.config, self.trader, len(self.symbols), self.clock)
        if (sim := self._sim_clock()) is not None:
            sim.hold_at(
                next_poll(self.config.trading.data, sim.now())
            )  # lockstep from the first poll on
            sim.resume()
        self.commands = CommandRunner(self.store, self.clock, self.flatten)
        self.commands.expire_left_overs()
        self.view = LiveView(
            trader=self.trader,
            poller=self.poller,
            broker=self.broker,
            store=self.store,
            config=self.config,
            clock=self.clock,
            stats=self.stats,
            symbols=self.symbols,
            speed=self.speed,
            disk=self.disk,
            events=self.events,
        )
        if self.poller is not None:
            self.poller.on_poll = self.view.on_poll
        self.view.published.publish()
        notify("READY=1")  # systemd Type=notify: started and trading
        if (warning := watchdog_warning()) is not None:
            log.warning(warning)

    async def _phase_runtime(self, bus: EventBus) -> int:
        """Phase 4: supervised tasks until a stop, then the graceful shutdown."""
        assert self.published is not None, "published in phase 3"
        dashboard = bound_dashboard(self.published)
        self.dashboard_url = dashboard.url if dashboard is not None else None
        assert self.view is not None and self.broker is not None
        polling = PollLoop(
            self.clock,
            self.broker,
            self.speed,
            self.config.trading.data,
            self.disk,
            self.commands,
            self.view,
            self._stopping,
            self.stop_at,
            self._sim_clock,
            self._cycle,
            self.request_stop,
        )
        tasks = [
            asyncio.create_task(self._supervise("event_bus", bus.run)),
            asyncio.create_task(self._supervise("polling", lambda: polling.run(bus))),
        ]
        if dashboard is not None:
            tasks.append(asyncio.create_task(self._supervise("dashboard", dashboard.serve)))
        if (telegram := telegram_control(self.published)) is not None:
            tasks.append(asyncio.create_task(telegram))
        crashed = await run_until_stopped(tasks, self._stopping, bus.join)
        await self._shutdown()
        if crashed:
            self.stats.exit_reason = "task_failed"
            return 1
        if self.disk.failure is not None:
            self.stats.exit_reason = f"store failure: {self.disk.failure.what}"
            return 1
        self.stats.exit_reason = self.stats.exit_reason or "stopped"
        return 0

    @property
    def published(self) -> SnapshotPublisher | None:
        """The read model the viewers in this process see (dashboard, metrics, Telegram): the
        live view's publisher, from phase 3 on."""
        return self.view.published if self.view is not None else None

    def _sim_clock(self) -> ScaledClock | None:
        """The in-process exchange's running clock (sim mode), which the bot may hold."""
        if self.exchange is not None and isinstance(self.exchange.clock, ScaledClock):
            return self.exchange.clock
        return None

    def request_stop(self, reason: str = "requested") -> None:
        """Begin a graceful shutdown (thread-safe from the loop's own thread)."""
        if not self._stopping.is_set():
            self.stats.exit_reason = reason
            if self.published is not None:
                self.published.stopping = reason
            self._stopping.set()

    def _on_signal(self, sig: signal.Signals) -> None:
        self._signals += 1
        if self._signals == 1:
            log.info("signal %s received: shutting down gracefully", sig.name)
            self.request_stop(f"signal {sig.name}")
            return
        # A second signal: leave at once. SQLite's WAL keeps the store consistent regardless.
        log.warning("second signal %s: exiting immediately", sig.name)
        close_store(self.store)
        os._exit(130)

    async def _supervise(self, name: str, factory: Callable[[], Awaitable[None]]) -> None:
        """Run a task; restart it with backoff when it crashes (:func:`supervise`), notified."""
        crashed = crash_notice(self.events, self.clock, name)
        await supervise(name, factory, self._stopping, crashed)

    async def _wait_until(self, target: datetime, stopping: asyncio.Event | None = None) -> None:
        """Wait for the bot's clock to reach ``target`` (:func:`~fleece.runtime_cycle.wait_until`).

        Read at each call: phase 1 may replace the clock (sim mode, an external exchange)."""
        await wait_until(self.clock, self.broker, self.speed, target, stopping)

    async def _cycle(self, bus: EventBus) -> None:
        """One poll; after a store failure, only a sign of life (HALTED, nothing to record)."""
        if self.disk.tripped:
            notify("WATCHDOG=1")  # the loop is alive and halted, not hung: no restart
            return
        assert self.kernel and self.feed and self.broker and self.housekeeping
        with self.disk.quietly():
            await trading_cycle(
                bus,
                self.clock.now(),
                kernel=self.kernel,
                feed=self.feed,
                broker=self.broker,
                housekeeping=self.housekeeping,
            )

    async def _on_minute_bars(self, event: MinuteBars) -> None:
        assert self.kernel is not None
        if self.disk.tripped:
            return  # HALTED: bars still queued from the failing cycle decide nothing
        with self.disk.quietly():
            await self.kernel.step(event.bars)

    def _halt_for_store(self, failure: StoreDiskError) -> None:
        """The disk guard's action (:meth:`~fleece.trader.Trader.halt_for_store`)."""
        if self.trader is not None:
            self.trader.halt_for_store()

    # ---- shutdown ------------------------------------------------------------------------
    async def _shutdown(self) -> None:
        """Stop taking signals, cancel orders and close positions as configured, flush."""
        assert self.trader and self.broker and self.store
        parts = Stopping(
            self.trader,
            self.broker,
            self.store,
            self.clock,
            self.disk,
            self._sim_clock(),
            self._nap,
        )
        await shut_down(parts, self.config.trading.shutdown)

    async def flatten(self) -> CloseOutcome:
        """Close the bot's positions now (``fleece flatten``, :func:`fleece.closing.flatten`)."""
        assert self.trader and self.broker and self.store
        market_open = self.trader.sessions.is_open(self.clock.now())
        return await flatten(self.trader, self.broker, self.store, market_open)

    async def _nap(self) -> None:
        if self.exchange is not None and self.speed:
            await asyncio.sleep(min(1.0, 30.0 / self.speed))
        else:
            await asyncio.sleep(0.5)
