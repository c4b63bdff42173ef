"""Builders for the reliability specifications: a faulty exchange, the real bot, the invariants.

The bot under test is always the real one (:class:`fleece.runtime.Bot` in this process, or
``fleece run`` as a child process) talking HTTP through alpaca-py to the built-in exchange,
which sits behind its fault layer. Sizes are small by default (``make test``); with
``FLEECE_RELIABILITY=full`` (``make reliability``) the same specifications run at full size, and
each writes its figures to the JSON file named by ``FLEECE_RELIABILITY_REPORT`` for the table.
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import os
import sqlite3
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from datetime import time as day_time
from pathlib import Path
from typing import Any

import httpx
import yaml

from fleece.calendar import NEW_YORK
from fleece.clock import ScaledClock
from fleece.config import AppConfig, load_config, load_trading_config
from fleece.data.synthetic import generate_bars
from fleece.exchange import ExchangeServer, SimExchange
from fleece.exchange.faults import FaultInjector, FaultPlan
from fleece.exchange.orders import SimOrder
from fleece.models import Bar
from fleece.runtime import Bot

KEY, SECRET = "reliability-key-7Q2f", "reliability-secret-8Hx4"
AUTH = {"APCA-API-KEY-ID": KEY, "APCA-API-SECRET-KEY": SECRET}
FULL = os.environ.get("FLEECE_RELIABILITY", "") == "full"
FIRST_DAY = date(2024, 11, 25)  # Monday; the 26th is an ordinary session
SECOND_DAY = date(2024, 11, 26)
# The seed's 31 symbols, as config/trading.yaml lists them.
SEED_SYMBOLS = list(
    load_trading_config(Path(__file__).resolve().parents[2] / "config" / "trading.yaml").tickers
)
EIGHT_SYMBOLS = ("AAPL", "MSFT", "SPY", "NVDA", "TSLA", "AMD", "AMZN", "META")
# Short windows: crossovers within minutes, so a short session is busy (the rules are the same).
QUICK_STRATEGY = {"fast": 2, "medium": 4, "slow": 8}
WAIT_S = 60.0  # a guard against hangs, never a measured expectation
FINAL = ("filled", "canceled", "expired", "rejected", "failed")


def ny(hhmm: str, day: date = SECOND_DAY) -> datetime:
    """A New York wall-clock time on ``day``, as UTC."""
    hour, minute = map(int, hhmm.split(":"))
    return datetime.combine(day, day_time(hour, minute), tzinfo=NEW_YORK).astimezone(UTC)


def synthetic(symbols: Sequence[str], days: int = 2, seed: int = 7) -> dict[str, list[Bar]]:
    """Seeded synthetic bars for ``days`` sessions from :data:`FIRST_DAY`."""
    return generate_bars(symbols, FIRST_DAY, days, seed)


# ---------------------------------------------------------------- the report for the table


def record(name: str, **figures: Any) -> None:
    """Add ``figures`` under ``name`` to the run's report file (when one is named)."""
    target = os.environ.get("FLEECE_RELIABILITY_REPORT")
    if not target:
        return
    path = Path(target)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a+", encoding="utf-8") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        handle.write(json.dumps({"name": name, **figures}, default=str) + "\n")


# ---------------------------------------------------------------- a served, faulty exchange


@dataclass
class Served:
    """An exchange served on loopback behind its fault layer."""

    exchange: SimExchange
    server: ExchangeServer
    url: str

    @property
    def faults(self) -> FaultInjector:
        """The server's fault injector."""
        return self.server.faults

    def advance(self, minutes: float = 1) -> datetime:
        """Move the simulated clock forward (stepped mode)."""
        return self.exchange.advance(minutes)

    def orders(self) -> list[SimOrder]:
        """Every order the exchange accepted, in submission order."""
        with self.exchange.synced():
            return list(self.exchange.engine.orders())

    def positions(self) -> dict[str, int]:
        """Shares held per symbol."""
        with self.exchange.synced():
            return {p.symbol: p.qty for p in self.exchange.engine.positions()}

    def counts(self) -> dict[str, Any]:
        """The fault layer's counters (injected faults, order attempts, duplicates)."""
        return self.faults.counts()

    def http(self, timeout: float = 10.0) -> httpx.Client:
        """An authenticated client of the exchange (close it after use)."""
        return httpx.Client(base_url=self.url, headers=AUTH, timeout=timeout)


@contextmanager
def serve(
    bars: Mapping[str, Sequence[Bar]],
    start: datetime,
    *,
    plan: FaultPlan | None = None,
    state_path: Path | None = None,
    port: int = 0,
    speed: float = 0.0,
    account: Mapping[str, Any] | None = None,
) -> Iterator[Served]:
    """Serve an exchange over ``bars`` from ``start`` (standing still unless ``speed``);
    ``account`` holds options of :class:`~fleece.exchange.SimExchange` (its market-data
    ``plan``, ``partial_fills``, ...)."""
    exchange = SimExchange(bars, clock=ScaledClock(start, speed), seed=11, **(account or {}))
    server = ExchangeServer(
        exchange, KEY, SECRET, port=port, faults=FaultInjector(plan), state_path=state_path
    )
    url = server.start()
    try:
        yield Served(server.exchange, server, url)
    finally:
        server.stop()


# ---------------------------------------------------------------- configuration


@dataclass(frozen=True)
class Paths:
    """Where one scenario keeps its files."""

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


def scenario(root: Path, symbols: Sequence[str], **sections: Mapping[str, Any]) -> Paths:
    """Write a ``trading.yaml`` for ``symbols`` under ``root``; ``sections`` override."""
    document: dict[str, Any] = {
        "symbols": {"mode": "explicit", "list": list(symbols)},
        "strategy": dict(QUICK_STRATEGY),
        "shutdown": {"grace_seconds": 20.0},
    }
    for name, values in sections.items():
        document[name] = {**document.get(name, {}), **values}
    paths = Paths(root)
    root.mkdir(parents=True, exist_ok=True)
    paths.config.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return paths


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
    """The bot's configuration from ``env`` alone (no .env file)."""
    return load_config(None, dict(env))


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

    A counter around the bot's poll cycle lets a step wait for the cycle it caused; nothing
    else of the bot is touched. ``minute_requests`` holds the requests the exchange saw during
    each step (every request the bot made in that simulated minute, faulty ones included).
    """

    config: AppConfig
    market: Served
    bot: Bot = field(init=False)
    cycles: int = 0
    minute_requests: list[int] = field(default_factory=list)
    _task: asyncio.Task[int] | None = None

    async def start(self) -> SteppedBot:
        """Start the bot and wait until its poll loop runs."""
        self.bot = Bot(self.config, install_signal_handlers=False)
        cycle = self.bot._cycle

        async def counted(bus: Any) -> None:
            await cycle(bus)
            self.cycles += 1

        self.bot._cycle = counted  # type: ignore[method-assign]
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
            before, seen = self.cycles, self.market.faults.counts()["requests"]
            self.market.advance(1)
            try:
                await self.wait(lambda b=before: self.cycles > b or self.done(), "the bot's cycle")
            except AssertionError:
                _dump_tasks()
                raise
            self.check_alive()
            self.minute_requests.append(self.market.faults.counts()["requests"] - seen)

    async def step_until(self, predicate: Callable[[], bool], what: str, limit: int = 240) -> int:
        """Step minute by minute until ``predicate()`` holds; returns the steps taken."""
        for taken in range(limit):
            if predicate():
                return taken
            await self.step()
        raise AssertionError(f"not within {limit} market minutes: {what}")

    async def stop(self) -> int:
        """Ask for a graceful stop (the market keeps moving) and return the exit code."""
        assert self._task is not None
        self.bot.request_stop("test stop")
        while not self._task.done():
            self.market.advance(1)
            await asyncio.wait([self._task], timeout=0.05)
        return await self._task


def _dump_tasks() -> None:
    """Print every task's stack (why a bot stopped cycling) to stderr."""
    import sys

    for task in asyncio.all_tasks():
        print(f"--- task {task.get_name()}", file=sys.stderr)
        task.print_stack(file=sys.stderr)


# ---------------------------------------------------------------- the store, read as a user would


def query(db: Path, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
    """Run one read-only query on the store with a fresh connection."""
    with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
        conn.row_factory = sqlite3.Row
        return list(conn.execute(sql, params))


def integrity(db: Path) -> str:
    """``PRAGMA integrity_check`` of the store."""
    return str(query(db, "PRAGMA integrity_check")[0][0])


Fill = tuple[str, str, int, float]


def exchange_fills(orders: Sequence[SimOrder]) -> dict[str, Fill]:
    """(symbol, side, cumulative qty, average price) of every order with fills, by cid."""
    return {
        o.client_order_id: (o.symbol, o.side.value, o.filled_qty, float(o.filled_avg_price or 0))
        for o in orders
        if o.filled_qty > 0
    }


def stored_fills(db: Path) -> dict[str, Fill]:
    """The same from ``trades`` (partial fills summed, the average price weighted)."""
    rows = query(
        db,
        "SELECT client_order_id, symbol, side, SUM(qty), SUM(qty * price) FROM trades"
        " GROUP BY client_order_id, symbol, side",
    )
    return {r[0]: (r[1], r[2], int(r[3]), float(r[4]) / int(r[3])) for r in rows}


def lost_fills(exchange: Mapping[str, Fill], stored: Mapping[str, Fill]) -> list[str]:
    """Orders whose fills the store lacks or got wrong (a price may differ by one tick)."""
    lost = []
    for cid, (symbol, side, qty, price) in exchange.items():
        mine = stored.get(cid)
        if mine is None or mine[:3] != (symbol, side, qty) or abs(mine[3] - price) > 1.01e-4:
            lost.append(cid)
    return sorted(lost + [cid for cid in stored if cid not in exchange])


def stored_positions(db: Path) -> dict[str, int]:
    """Shares held according to the fills in ``trades``."""
    rows = query(
        db,
        "SELECT symbol, SUM(CASE side WHEN 'buy' THEN qty ELSE -qty END) FROM trades"
        " GROUP BY symbol",
    )
    return {r[0]: int(r[1]) for r in rows if int(r[1]) != 0}


def intents(db: Path) -> dict[str, str]:
    """Status of every (not dry-run) intent, by client_order_id."""
    return {r[0]: r[1] for r in query(db, "SELECT client_order_id, status FROM order_intents")}


@dataclass(frozen=True)
class Verdict:
    """The invariants of one run, as figures (each test asserts them, the table shows them)."""

    intents: int
    exchange_orders: int
    duplicates: int
    fills_lost: int
    unmatched_intents: list[str]
    unmatched_orders: list[str]
    open_intents: list[str]
    position_mismatches: dict[str, tuple[int, int]]
    integrity: str
    # Session day -> (trades counted, orders the trader wrote): equal unless a crash lost a count.
    miscounted_days: dict[str, tuple[int, int]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when every invariant holds."""
        return (
            self.duplicates == 0
            and self.fills_lost == 0
            and not self.unmatched_intents
            and not self.unmatched_orders
            and not self.position_mismatches
            and not self.miscounted_days
            and self.integrity == "ok"
        )


def miscounted_days(db: Path) -> dict[str, tuple[int, int]]:
    """Session days whose ``trades_submitted`` differs from the orders the trader wrote that day.

    Every order intent but the shutdown's closing sells is the trader's, and counts one trade.
    """
    written: dict[str, int] = {}
    for (created,) in query(
        db, "SELECT created_at_utc FROM order_intents WHERE strategy != 'shutdown'"
    ):
        day = datetime.fromisoformat(created).astimezone(NEW_YORK).date().isoformat()
        written[day] = written.get(day, 0) + 1
    counted = {
        str(day): int(n)
        for day, n in query(db, "SELECT session_date, trades_submitted FROM daily_counters")
    }
    return {
        day: (counted.get(day, 0), written.get(day, 0))
        for day in set(written) | set(counted)
        if counted.get(day, 0) != written.get(day, 0)
    }


def verdict(
    db: Path, orders: Sequence[SimOrder], positions: Mapping[str, int], attempts: Mapping[str, Any]
) -> Verdict:
    """Compare the store with the exchange: one order per intent that reached it, same fills.

    ``attempts`` is the fault layer's ``counts()``: its duplicate count is every order
    submission seen twice for one client_order_id, whether the exchange processed it or not.
    """
    mine = intents(db)
    reached = {cid for cid, status in mine.items() if status not in ("failed", "rejected")}
    at_exchange = {o.client_order_id for o in orders}
    lost = lost_fills(exchange_fills(orders), stored_fills(db))
    held = stored_positions(db)
    mismatched = {
        s: (positions.get(s, 0), held.get(s, 0))
        for s in set(held) | set(positions)
        if positions.get(s, 0) != held.get(s, 0)
    }
    return Verdict(
        intents=len(mine),
        exchange_orders=len(orders),
        duplicates=int(attempts["duplicate_submissions"]),
        fills_lost=len(lost),
        unmatched_intents=sorted(reached - at_exchange),
        unmatched_orders=sorted(at_exchange - set(mine)),
        open_intents=sorted(c for c, s in mine.items() if s not in FINAL),
        position_mismatches=mismatched,
        integrity=integrity(db),
        miscounted_days=miscounted_days(db),
    )
