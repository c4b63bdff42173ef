"""Builders for the reliability specifications: a faulty exchange, the real bot, the invariants.

The bot under test is always the real one (:class:`fleece.runtime.Bot` in this process, or
``fleece run`` as a child process) talking HTTP through alpaca-py to the built-in exchange,
which sits behind its fault layer. Sizes are small by default (``make test``); with
``FLEECE_RELIABILITY=full`` (``make reliability``) the same specifications run at full size, and
each writes its figures to the JSON file named by ``FLEECE_RELIABILITY_REPORT`` for the table.

Configs, the stepped bot, waiting and reading the store are the runtime's builders
(``tests/runtime/runtime_helpers.py``, on the path by this folder's ``conftest.py``).
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import runtime_helpers
import yaml
from runtime_helpers import (
    AUTH,
    EIGHT_SYMBOLS,
    FIRST_DAY,
    KEY,
    QUICK_STRATEGY,
    SECOND_DAY,
    SECRET,
    WAIT_S,
    Paths,
    config_from,
    integrity,
    ny,
    paper_env,
    query,
    synthetic,
    until,
    wait_for,
)

from fleece.calendar import NEW_YORK
from fleece.clock import ScaledClock
from fleece.config import load_trading_config
from fleece.exchange import ExchangeServer, SimExchange
from fleece.exchange.fault_plan import FaultPlan
from fleece.exchange.faults import FaultInjector
from fleece.exchange.orders import SimOrder
from fleece.models import Bar

# The runtime's builders the reliability specifications import from here.
__all__ = [
    "AUTH",
    "EIGHT_SYMBOLS",
    "FIRST_DAY",
    "KEY",
    "SECOND_DAY",
    "SECRET",
    "WAIT_S",
    "config_from",
    "ny",
    "paper_env",
    "synthetic",
    "until",
    "wait_for",
]

FULL = os.environ.get("FLEECE_RELIABILITY", "") == "full"
# The seed's 31 symbols, as config/trading.yaml lists them.
SEED_SYMBOLS = list(
    load_trading_config(Path(__file__).resolve().parents[2] / "config" / "trading.yaml").tickers
)
FINAL = ("filled", "canceled", "expired", "rejected", "failed")


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


# ---------------------------------------------------------------- the bot, stepped


@dataclass
class SteppedBot(runtime_helpers.SteppedBot):
    """The runtime's stepped bot against a faulty exchange.

    ``minute_requests`` holds the requests the exchange saw during each step (every request
    the bot made in that simulated minute, faulty ones included).
    """

    market: Served  # type: ignore[assignment]
    minute_requests: list[int] = field(default_factory=list)

    async def step(self, minutes: int = 1) -> None:
        """Move the market ``minutes`` one at a time, each time waiting for the bot's cycle."""
        for _ in range(minutes):
            seen = self.market.faults.counts()["requests"]
            try:
                await self.tick(timedelta(minutes=1))
            except AssertionError:
                _dump_tasks()
                raise
            self.minute_requests.append(self.market.faults.counts()["requests"] - seen)


#: The real bot of the scenario at ``paths`` against the faulty ``market``, started.
stepped_bot = SteppedBot.started


def _dump_tasks() -> None:
    """Print every task's stack (why a bot stopped cycling) to stderr."""
    import sys

    for task in asyncio.all_tasks():
        print(f"--- task {task.get_name()}", file=sys.stderr)
        task.print_stack(file=sys.stderr)


# ---------------------------------------------------------------- the store, read as a user would


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
