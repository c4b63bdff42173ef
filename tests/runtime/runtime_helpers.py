"""Small builders for the runtime's specifications: configs, a stepped market, a stepped bot.

The bot under test is always the real one (:class:`fleece.runtime.Bot`, or the ``fleece run``
process), talking HTTP through alpaca-py to the built-in exchange. Two set-ups:

- **sim mode** (``FLEECE_MODE=sim``): the bot starts its own exchange at high speed;
- **a stepped market**: an exchange served on loopback by the test, its clock standing still
  until the test moves it, and the bot in ``FLEECE_MODE=paper`` with ``ALPACA_BASE_URL`` on
  that loopback URL (the bot then follows the exchange's ``/v2/clock``). One step moves the
  market by a minute and waits until the bot has finished the poll cycle that minute caused,
  so runs are deterministic and a restart meets the same exchange.
"""

from __future__ import annotations

import asyncio
import random
import socket
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as day_time
from pathlib import Path
from typing import Any, Self

import uvicorn
import yaml
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import OrderSide, TimeInForce
from alpaca.trading.requests import LimitOrderRequest, MarketOrderRequest

from fleece.broker import Broker
from fleece.calendar import NEW_YORK
from fleece.clock import ScaledClock
from fleece.config import AppConfig, load_config, secret_texts
from fleece.data.synthetic import generate_bars
from fleece.exchange import ExchangeServer, SimExchange
from fleece.exchange.orders import SimOrder
from fleece.logs import setup_logging
from fleece.models import Bar
from fleece.paper_lock import make_data_client, make_trading_client
from fleece.runtime import Bot

KEY, SECRET = "runtime-test-key", "runtime-test-secret"
AUTH = {"APCA-API-KEY-ID": KEY, "APCA-API-SECRET-KEY": SECRET}
FIRST_DAY = date(2024, 11, 25)  # Monday; 11-26 is an ordinary session, 11-29 closes early
SECOND_DAY = date(2024, 11, 26)
FOUR_SYMBOLS = ("AAPL", "MSFT", "SPY", "NVDA")
# Enough symbols for a signal every few minutes with QUICK_STRATEGY (and a burst at the open).
EIGHT_SYMBOLS = (*FOUR_SYMBOLS, "TSLA", "AMD", "AMZN", "META")
SEED_QUERIES = (
    "SELECT * FROM trades ORDER BY timestamp_utc DESC LIMIT 10;",
    "SELECT * FROM equity_curve ORDER BY timestamp_utc DESC LIMIT 10;",
    "SELECT * FROM order_intents WHERE status IN ('new', 'submitted', 'accepted');",
)
# Short windows so that crossovers come within minutes (the rules do not depend on the lengths).
QUICK_STRATEGY = {"fast": 2, "medium": 4, "slow": 8}
WAIT_S = 60.0  # a guard against hangs, never a measured expectation


def ny(hhmm: str, day: date = SECOND_DAY) -> datetime:
    """A New York wall-clock time on ``day``, as UTC."""
    hour, minute = map(int, hhmm.split(":"))
    return datetime.combine(day, day_time(hour, minute), tzinfo=NEW_YORK).astimezone(UTC)


# ---------------------------------------------------------------- configuration


def write_trading_yaml(path: Path, symbols: Sequence[str], **sections: Mapping[str, Any]) -> Path:
    """Write a ``trading.yaml`` for ``symbols``; ``sections`` override or add sections."""
    document: dict[str, Any] = {
        "symbols": {"mode": "explicit", "list": list(symbols)},
        "strategy": dict(QUICK_STRATEGY),
        "shutdown": {"grace_seconds": 20.0},
        # A stepped market's clock jumps whole minutes, so the bot polls exactly as a minute
        # ends; the built-in exchange publishes a bar at that instant, so nothing needs to settle.
        "data": {"bar_settle_seconds": 0},
    }
    for name, values in sections.items():
        document[name] = {**document.get(name, {}), **values}
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return path


@dataclass(frozen=True)
class Paths:
    """Where one scenario keeps its files (shared by every bot run of the scenario)."""

    root: Path

    @property
    def db(self) -> Path:
        """The SQLite store."""
        return self.root / "data" / "trades.db"

    @property
    def config(self) -> Path:
        """The trading.yaml."""
        return self.root / "trading.yaml"

    @property
    def logs(self) -> Path:
        """The log folder."""
        return self.root / "logs"

    @property
    def log_file(self) -> Path:
        """``orchestrator.out``."""
        return self.logs / "orchestrator.out"


def scenario_files(
    root: Path, symbols: Sequence[str] = EIGHT_SYMBOLS, **sections: Mapping[str, Any]
) -> Paths:
    """The files of one scenario under ``root``: its ``trading.yaml`` for ``symbols`` written
    (``sections`` override or add sections), the store and logs still to come."""
    root.mkdir(parents=True, exist_ok=True)
    write_trading_yaml(root / "trading.yaml", symbols, **sections)
    return Paths(root)


def sim_env(paths: Paths, **extra: str) -> dict[str, str]:
    """Environment for ``FLEECE_MODE=sim`` (the bot starts its own exchange)."""
    return {
        "FLEECE_MODE": "sim",
        "DATABASE_PATH": str(paths.db),
        "CONFIG_PATH": str(paths.config),
        "LOG_DIR": str(paths.logs),
        "DASHBOARD_ENABLED": "false",  # its own specifications cover it; tests share ports
        "SIM_START": FIRST_DAY.isoformat(),
        "SIM_DAYS": "1",
        "SIM_SEED": "3",
        **extra,
    }


def paper_env(paths: Paths, url: str, **extra: str) -> dict[str, str]:
    """Environment for ``FLEECE_MODE=paper`` against a loopback exchange at ``url``."""
    return {
        "FLEECE_MODE": "paper",
        "ALPACA_API_KEY": KEY,
        "ALPACA_SECRET_KEY": SECRET,
        "ALPACA_BASE_URL": url,
        "DATABASE_PATH": str(paths.db),
        "CONFIG_PATH": str(paths.config),
        "LOG_DIR": str(paths.logs),
        "DASHBOARD_ENABLED": "false",
        **extra,
    }


def config_from(env: Mapping[str, str]) -> AppConfig:
    """Load the bot's configuration from ``env`` alone (no .env file)."""
    return load_config(None, dict(env))


def paper_config(paths: Paths, market: Market, **extra: str) -> AppConfig:
    """The bot's configuration in paper mode against ``market`` (``extra``: more variables)."""
    return config_from(paper_env(paths, market.url, **extra))


# The protective-exit specifications: exit levels, and the windows they trade with.
PROTECTION_LEVELS = {"stop_loss_pct": 0.002, "take_profit_pct": 0.003}
PROTECTION_STRATEGY = {"fast": 5, "medium": 20, "slow": 40}


def protected_scenario(
    root: Path, risk: Mapping[str, Any] = PROTECTION_LEVELS, **sections: Mapping[str, Any]
) -> Paths:
    """:func:`scenario_files` of the protective-exit specifications: eight symbols,
    :data:`PROTECTION_STRATEGY`, ``risk`` (the exits' levels; ``{}``: none)."""
    return scenario_files(root, EIGHT_SYMBOLS, risk=risk, strategy=PROTECTION_STRATEGY, **sections)


# ---------------------------------------------------------------- a stepped market


def synthetic(symbols: Sequence[str], days: int = 2, seed: int = 7) -> dict[str, list[Bar]]:
    """Seeded synthetic bars for ``days`` sessions from :data:`FIRST_DAY`."""
    return generate_bars(symbols, FIRST_DAY, days, seed)


def sparse(
    bars: Mapping[str, Sequence[Bar]], seed: int = 5, most: float = 0.4
) -> dict[str, list[Bar]]:
    """``bars`` with minutes removed as IEX leaves them out: each symbol loses its own share
    (up to ``most``, chosen by ``seed``), so the minute grid carries closes everywhere."""
    rng = random.Random(seed)
    out: dict[str, list[Bar]] = {}
    for symbol in sorted(bars):
        share = rng.uniform(0.02, most)
        out[symbol] = [b for b in bars[symbol] if rng.random() >= share]
    return out


def without_trades(
    bars: Mapping[str, Sequence[Bar]], symbol: str, start: str, end: str
) -> dict[str, list[Bar]]:
    """``bars`` where ``symbol`` has no bar from ``start`` to ``end`` (New York, the second
    session): an order for it sent then waits."""
    lo, hi = ny(start), ny(end)
    return {
        **{s: list(series) for s, series in bars.items()},
        symbol: [b for b in bars[symbol] if not lo <= b.timestamp < hi],
    }


@dataclass
class Market:
    """An exchange served on a loopback port whose clock moves only when told to."""

    exchange: SimExchange
    url: str

    def advance(self, minutes: float = 1) -> datetime:
        """Move the simulated clock forward; returns the new now."""
        return self.exchange.advance(minutes)

    def now(self) -> datetime:
        """The simulated now."""
        return self.exchange.clock.now()

    def orders(self) -> list[SimOrder]:
        """Every order the exchange accepted, in submission order."""
        with self.exchange.synced():
            return list(self.exchange.engine.orders())

    def submissions(self) -> dict[str, int]:
        """``POST /v2/orders`` attempts per client_order_id (refused ones included)."""
        return dict(self.exchange.state()["client_order_id_submissions"])

    def requests(self, route: str) -> int:
        """How many requests ``route`` (e.g. ``"GET /v2/stocks/bars"``) has served."""
        return int(self.exchange.state()["requests"].get(route, 0))

    def positions(self) -> dict[str, int]:
        """Shares held per symbol."""
        with self.exchange.synced():
            return {p.symbol: p.qty for p in self.exchange.engine.positions()}

    def trading_client(self) -> TradingClient:
        """alpaca-py's client of the account, as another program using it would hold one."""
        return TradingClient(KEY, SECRET, paper=True, url_override=self.url)

    def market_order_by_someone_else(self, symbol: str, side: OrderSide, qty: int) -> Any:
        """A day market order sent by another client of the account (not the bot): it changes
        the account's position outside the bot. Returns alpaca-py's answer."""
        request = MarketOrderRequest(
            symbol=symbol, qty=qty, side=side, time_in_force=TimeInForce.DAY
        )
        return self.trading_client().submit_order(request)

    def limit_order_by_someone_else(self, symbol: str, side: OrderSide, limit_price: float) -> Any:
        """A day limit order for one share, sent by another client of the account (not the bot);
        priced away from the market, it stays open. Returns alpaca-py's answer."""
        request = LimitOrderRequest(
            symbol=symbol, qty=1, side=side, time_in_force=TimeInForce.DAY, limit_price=limit_price
        )
        return self.trading_client().submit_order(request)

    def broker(self, **options: Any) -> Broker:
        """The bot's broker adapter over this market on its own (``options``: ``now``,
        ``wait_until``... of :class:`~fleece.broker.Broker`)."""
        trading = make_trading_client(KEY, SECRET, self.url, raw_data=True)
        data = make_data_client(KEY, SECRET, self.url, raw_data=True)
        return Broker(trading, data, **options)


@contextmanager
def stepped_market(
    bars: Mapping[str, Sequence[Bar]],
    start: datetime,
    *,
    cash: float = 100_000.0,
    slippage_bps: float = 0.0,
    **options: Any,
) -> Iterator[Market]:
    """Serve an exchange over ``bars`` whose clock stands at ``start`` until advanced.

    ``options`` go to :class:`~fleece.exchange.SimExchange` (plan, partial_fills, rate_limit...).
    """
    exchange = SimExchange(
        bars,
        clock=ScaledClock(start, 0.0),
        cash=cash,
        slippage_bps=slippage_bps,
        seed=11,
        **options,
    )
    server = ExchangeServer(exchange, KEY, SECRET)
    url = server.start()
    try:
        yield Market(exchange, url)
    finally:
        server.stop()


@contextmanager
def stepped_market_of(symbols: Sequence[str], start: datetime, **options: Any) -> Iterator[Market]:
    """:func:`stepped_market` over :func:`synthetic` bars of ``symbols`` (two sessions)."""
    with stepped_market(synthetic(symbols), start, **options) as market:
        yield market


@contextmanager
def served(exchange: SimExchange, app: Any) -> Iterator[Market]:
    """``app`` (the exchange's app behind an ASGI layer of a test) on a free loopback port."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + WAIT_S
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.01)
    try:
        yield Market(exchange, f"http://127.0.0.1:{sock.getsockname()[1]}")
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


# ---------------------------------------------------------------- waiting without sleeping blind


async def until(predicate: Callable[[], bool], what: str, timeout: float = WAIT_S) -> None:
    """Yield to the event loop until ``predicate()`` holds (fails after ``timeout`` real s)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for: {what}")
        await asyncio.sleep(0.002)


def wait_for(predicate: Callable[[], bool], what: str, timeout: float = WAIT_S) -> None:
    """Blocking twin of :func:`until`, for tests that watch other processes."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for: {what}")
        time.sleep(0.02)


# ---------------------------------------------------------------- the bot, stepped


@dataclass
class SteppedBot:
    """The real :class:`Bot` in this event loop, one poll cycle per market step.

    The only instrumentation is a counter wrapped around the bot's poll cycle, so that a step
    can wait for the cycle it caused to finish before the market moves again.
    """

    config: AppConfig
    market: Market
    bot: Bot = field(init=False)
    cycles: int = 0
    exit_code: int | None = None
    _task: asyncio.Task[int] | None = None

    @classmethod
    async def started(
        cls, paths: Paths, market: Any, *, logged: bool = False, **extra: str
    ) -> Self:
        """The real bot of the scenario at ``paths`` in paper mode against ``market``, started
        (``extra``: more environment variables). ``logged``: its log goes to the scenario's
        logs as ``fleece run`` sets it up (``cli.build_bot``), every configured secret masked."""
        config = paper_config(paths, market, **extra)
        if logged:
            setup_logging("INFO", paths.logs, secret_texts(config.settings), stderr=False)
        harness = cls(config, market)
        await harness.start()
        return harness

    async def start(self) -> SteppedBot:
        """Start the bot and wait until its poll loop runs (phases 1 to 3 done)."""
        self.bot = Bot(self.config, install_signal_handlers=False)
        cycle = self.bot._cycle

        async def counted(bus: Any) -> None:
            await cycle(bus)
            self.cycles += 1

        self.bot._cycle = counted
        self._task = asyncio.create_task(self.bot.run())
        await self.wait(lambda: self.bot.housekeeping is not None or self.done(), "bot start-up")
        self.check_alive()
        return self

    def waiting_for_reset(self) -> bool:
        """True while the bot waits for a rate-limit window to renew (simulated time)."""
        broker = self.bot.broker
        return broker is not None and broker.waiting_for_reset

    def resets_awaited(self) -> int:
        """How many times the bot has waited for a rate-limit reset."""
        broker = self.bot.broker
        return sum(b.waits for b in broker.budgets.values()) if broker is not None else 0

    async def wait(self, predicate: Callable[[], bool], what: str) -> None:
        """Wait until ``predicate()`` holds; while the bot waits for a rate-limit reset, move
        the market on a minute (time passes for a bot that waits, as it would live)."""
        deadline = time.monotonic() + WAIT_S
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError(f"gave up waiting for: {what}")
            if self.waiting_for_reset():
                waits = self.resets_awaited()
                self.market.advance(1)
                await until(
                    lambda w=waits: (
                        not self.waiting_for_reset() or self.resets_awaited() != w or predicate()
                    ),
                    "a reset",
                )
            await asyncio.sleep(0.002)

    def done(self) -> bool:
        """True once the bot's run has returned."""
        return self._task is not None and self._task.done()

    def check_alive(self) -> None:
        """Fail if the bot stopped on its own."""
        if self.done():
            assert self._task is not None
            raise AssertionError(f"the bot stopped on its own: {self._task.result()!r}")

    async def step(self, minutes: int = 1) -> None:
        """Move the market ``minutes`` one at a time, each time waiting for the bot's cycle."""
        for _ in range(minutes):
            await self.tick(timedelta(minutes=1))

    async def tick(self, delta: timedelta) -> None:
        """Move the market by ``delta`` (past the bot's next poll) and wait for that cycle."""
        before = self.cycles
        self.market.advance(delta / timedelta(minutes=1))
        await self.wait(lambda: self.cycles > before or self.done(), "the bot's poll cycle")
        self.check_alive()

    async def step_until(self, predicate: Callable[[], bool], what: str, limit: int = 240) -> int:
        """Step minute by minute until ``predicate()`` holds; returns the steps taken."""
        for taken in range(limit):
            if predicate():
                return taken
            await self.step()
        raise AssertionError(f"not within {limit} market minutes: {what}")

    async def stop(self, keep_market_moving: bool = True) -> int:
        """Ask for a graceful stop and return the exit code.

        The market keeps moving meanwhile (as it would), so that closing orders can fill.
        """
        assert self._task is not None
        self.bot.request_stop("test stop")
        while keep_market_moving and not self._task.done():
            self.market.advance(1)
            await asyncio.wait([self._task], timeout=0.05)
        self.exit_code = await self._task
        return self.exit_code


#: The real bot of the scenario at ``paths`` in paper mode against ``market``, started.
stepped_bot = SteppedBot.started


async def run_stepped(
    config: AppConfig, market: Market, minutes: int, *, keep_market_moving: bool = True
) -> SteppedBot:
    """Start a bot, step ``minutes`` market minutes, stop it gracefully; returns the harness."""
    harness = await SteppedBot(config, market).start()
    await harness.step(minutes)
    await harness.stop(keep_market_moving)
    return harness


# ---------------------------------------------------------------- the store, read as a user would


def query(db: Path, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
    """Run one read-only query on the store with a fresh connection."""
    with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
        conn.row_factory = sqlite3.Row
        return list(conn.execute(sql, params))


def integrity(db: Path) -> str:
    """``PRAGMA integrity_check`` of the store."""
    return str(query(db, "PRAGMA integrity_check")[0][0])


def exchange_fills(orders: Sequence[SimOrder]) -> set[tuple[str, str, str, int, float]]:
    """(client_order_id, symbol, side, qty, price) of every filled order."""
    return {
        (o.client_order_id, o.symbol, o.side.value, o.filled_qty, float(o.filled_avg_price or 0))
        for o in orders
        if o.filled_qty > 0
    }


def stored_fills(db: Path) -> set[tuple[str, str, str, int, float]]:
    """The same tuple for every ``trades`` row of the store."""
    rows = query(db, "SELECT client_order_id, symbol, side, qty, price FROM trades")
    return {(r[0], r[1], r[2], int(r[3]), float(r[4])) for r in rows}
