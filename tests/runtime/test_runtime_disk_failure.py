"""A disk that fills up or fails while the bot trades: HALTED, one ERROR line, no crash loop, a
shutdown without a traceback, and nothing committed lost.

Three proofs, each with the real bot against the built-in exchange:

* a real full filesystem: the store on a tiny tmpfs, filled by the test while ``fleece run``
  trades (a separate process, against an exchange the test steps minute by minute);
* a real I/O error: the store on a small ext4 image (loop mount), which the test shuts down
  under the bot (``EXT4_IOC_SHUTDOWN``: from then on every read and write gets EIO);
* an injected ``disk I/O error`` at COMMIT through the real store, in this process and on a
  stepped market, deterministic to the minute (no mount needed, so it runs everywhere).

The mounts need root (CAP_SYS_ADMIN) and, for ext4, a loop device; without them those two skip
with the reason, and the injected proof still runs.
"""

from __future__ import annotations

import asyncio
import errno
import fcntl
import logging
import os
import shutil
import signal
import sqlite3
import struct
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from runtime_helpers import (
    EIGHT_SYMBOLS,
    Market,
    Paths,
    ny,
    paper_env,
    query,
    scenario_files,
    sim_env,
    stepped_bot,
    stepped_market_of,
    wait_for,
)
from runtime_processes import Process, fleece_command, log_text, wait_for_log

from fleece.risk_manager import STORE_FAILURE
from fleece.state_store import StateStore

EXT4_IOC_SHUTDOWN = 0x8004587D  # _IOR('X', 125, __u32)
EXT4_GOING_FLAGS_NOLOGFLUSH = 2  # like a disk dying: no more writes, not even the journal's
WAIT_S = 120.0
STORE_FAILURE_LINE = "ERROR fleece.disk_guard store failure: "


# ---------------------------------------------------------------------------- tiny filesystems


def _mount(argv: list[str]) -> str | None:
    """Run a mount command; None when it worked, else why not (for the skip)."""
    if os.geteuid() != 0:
        return "mounting needs root"
    done = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=60)
    return None if done.returncode == 0 else f"{' '.join(argv[:3])}: {done.stderr.strip()}"


def _unmount(point: Path) -> None:
    subprocess.run(["umount", str(point)], capture_output=True, check=False, timeout=60)
    if os.path.ismount(point):
        subprocess.run(["umount", "-l", str(point)], capture_output=True, check=False, timeout=60)


@pytest.fixture
def tiny_tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A 16 MiB tmpfs, mounted for the test."""
    point = tmp_path / "tmpfs"
    point.mkdir()
    why = _mount(["mount", "-t", "tmpfs", "-o", "size=16m,mode=0755", "tmpfs", str(point)])
    if why:
        pytest.skip(f"cannot mount a tmpfs here ({why})")
    try:
        yield point
    finally:
        _unmount(point)


@pytest.fixture
def small_ext4(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    """A 32 MiB ext4 image, loop-mounted; yields (mount point, image)."""
    # The sbin folders too: a PATH without them (a user's, a fresh clone's) still has the tool.
    mkfs = shutil.which("mkfs.ext4", path=f"{os.environ.get('PATH', '')}:/usr/sbin:/sbin")
    if mkfs is None:
        pytest.skip("mkfs.ext4 is not installed")
    image, point = tmp_path / "ext4.img", tmp_path / "ext4"
    point.mkdir()
    with image.open("wb") as file:
        file.truncate(32 * 1024 * 1024)
    subprocess.run([mkfs, "-q", "-F", str(image)], check=True, timeout=120)
    why = _mount(["mount", "-o", "loop", str(image), str(point)])
    if why:
        pytest.skip(f"cannot loop-mount an ext4 image here ({why})")
    try:
        yield point, image
    finally:
        _unmount(point)


def fill_up(folder: Path) -> Path:
    """Write zeros into ``folder`` until its filesystem has no block left; returns the file."""
    filler = folder / "filler"
    chunk = bytes(1024 * 1024)
    with filler.open("wb", buffering=0) as file:
        for size in (len(chunk), 4096, 1):
            try:
                while True:
                    file.write(chunk[:size])
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise
    return filler


def shut_down_ext4(point: Path) -> None:
    """Make every later read or write on the ext4 at ``point`` fail with EIO."""
    fd = os.open(point, os.O_RDONLY)
    try:
        fcntl.ioctl(fd, EXT4_IOC_SHUTDOWN, struct.pack("I", EXT4_GOING_FLAGS_NOLOGFLUSH))
    finally:
        os.close(fd)


# ---------------------------------------------------------------------------- the store's facts


def fills(db: Path) -> set[tuple[Any, ...]]:
    """Every ``trades`` row (they are never changed once written)."""
    rows = query(db, "SELECT id, client_order_id, qty, price, cumulative_qty FROM trades")
    return {tuple(r) for r in rows}


def intent_ids(db: Path) -> set[str]:
    """Every order intent's client_order_id."""
    return {str(r[0]) for r in query(db, "SELECT client_order_id FROM order_intents")}


def error_lines(log: str) -> list[str]:
    """The log's ERROR lines."""
    return [line for line in log.splitlines() if " ERROR " in line]


# ---------------------------------------------------------------------------- the real process


def step_one_cycle(market: Market) -> None:
    """Move the stepped market one minute and wait until the bot process's cycle is over.

    The bot reads the exchange's clock only between its cycles (every 50 ms or so while it
    waits), trading or halted: of the reads that arrive after the step, the first may be the one
    that starts the cycle, the second comes after it.
    """
    market.advance(1)
    reads = market.requests("GET /v2/clock")
    wait_for(lambda: market.requests("GET /v2/clock") >= reads + 2, "the bot's cycle", WAIT_S)


def step_until(market: Market, done: Callable[[], bool], what: str, minutes: int = 120) -> None:
    """Step the market cycle by cycle until ``done()``."""
    for _ in range(minutes):
        if done():
            return
        step_one_cycle(market)
    raise AssertionError(f"not within {minutes} market minutes: {what}")


def trade_then_break(
    tmp_path: Path, store_folder: Path, breaker: Callable[[], None]
) -> dict[str, Any]:
    """``fleece run`` trades with its store in ``store_folder``; ``breaker()`` breaks the disk.

    The market is served by the test and moves a minute when the test says so, the bot's cycle
    done each time: what the bot does is the same whatever the load. Returns what was seen.
    """
    paths = scenario_files(tmp_path, EIGHT_SYMBOLS)
    db = store_folder / "trades.db"
    seen: dict[str, Any] = {}
    with stepped_market_of(EIGHT_SYMBOLS, ny("09:30")) as market:
        env = {**paper_env(paths, market.url), "DATABASE_PATH": str(db)}
        bot = Process.start(fleece_command("run"), env, tmp_path, "bot")
        try:
            wait_for_log(paths.log_file, r"bot running mode=", bot, timeout=WAIT_S)
            step_until(market, lambda: len(fills(db)) >= 2, "the bot's first fills")
            seen["fills"], seen["intents"] = fills(db), intent_ids(db)
            breaker()
            step_until(market, lambda: STORE_FAILURE_LINE in log_text(paths.log_file), "failure")
            seen["orders_at_failure"] = len(market.orders())
            for _ in range(10):  # minutes more: the bot keeps following the market, halted
                step_one_cycle(market)
            seen["alive"] = bot.popen.poll() is None
            seen["orders_after"] = len(market.orders())
            bot.signal(signal.SIGTERM)
            seen["code"] = bot.wait(timeout=WAIT_S)
            seen["stderr"] = bot.stderr()
            seen["log"] = log_text(paths.log_file)
            seen["exchange_orders"] = {o.client_order_id for o in market.orders()}
        finally:
            bot.stop()
    return seen


def assert_halted_loudly_once_and_lost_nothing(seen: dict[str, Any], db: Path) -> None:
    """The shared verdict of the two real-disk proofs (the store readable again at ``db``)."""
    assert seen["alive"], "the bot died instead of staying up HALTED"
    assert seen["orders_after"] == seen["orders_at_failure"], "an order was sent after the failure"
    assert seen["code"] == 1
    errors = error_lines(seen["log"])
    assert len(errors) == 1 and STORE_FAILURE_LINE in errors[0], errors
    assert "trading HALTED until restart" in errors[0]
    assert "Traceback" not in seen["log"] and "Traceback" not in seen["stderr"]
    assert "task crashed" not in seen["log"]
    assert "shutdown complete state=HALTED" in seen["log"]
    with StateStore(db) as store:
        assert store.integrity_check() == "ok"
    assert seen["fills"] <= fills(db), "a committed fill was lost"
    assert seen["intents"] <= intent_ids(db), "a committed intent was lost"
    assert seen["exchange_orders"] <= intent_ids(db), "an order was sent without its intent"


def test_a_full_disk_halts_the_bot_once_loudly_and_loses_nothing(
    tmp_path: Path, tiny_tmpfs: Path
) -> None:
    filler: list[Path] = []

    seen = trade_then_break(tmp_path, tiny_tmpfs, lambda: filler.append(fill_up(tiny_tmpfs)))
    filler[0].unlink()  # space again, to read the store back

    assert "the disk is full (database or disk is full)" in error_lines(seen["log"])[0]
    assert_halted_loudly_once_and_lost_nothing(seen, tiny_tmpfs / "trades.db")


def test_a_disk_io_error_halts_the_bot_once_loudly_and_loses_nothing(
    tmp_path: Path, small_ext4: tuple[Path, Path]
) -> None:
    point, image = small_ext4

    seen = trade_then_break(tmp_path, point, lambda: shut_down_ext4(point))
    _unmount(point)  # the dead filesystem goes; mounted again, its journal is replayed
    assert _mount(["mount", "-o", "loop", str(image), str(point)]) is None

    assert_halted_loudly_once_and_lost_nothing(seen, point / "trades.db")


# ---------------------------------------------------------------------------- injected, in-process


class FailingCommits:
    """The store's real connection, except that COMMIT fails with a disk I/O error when told.

    SQLite reports a failing disk at COMMIT (when the WAL is written and synced); the store must
    roll back, tell its guard, and go on failing quietly.
    """

    def __init__(self, real: sqlite3.Connection) -> None:
        self._real = real
        self.failing = False
        self.failed = 0

    def execute(self, sql: str, params: Any = ()) -> sqlite3.Cursor:
        if self.failing and sql.strip().upper() == "COMMIT":
            self.failed += 1
            raise sqlite3.OperationalError("disk I/O error")
        return self._real.execute(sql, params)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


@pytest.fixture
def market() -> Iterator[Market]:
    """Eight symbols one minute before the second session opens."""
    with stepped_market_of(EIGHT_SYMBOLS, ny("09:29")) as served:
        yield served


def test_an_io_error_at_commit_halts_trading_and_the_loop_lives_on(
    paths: Paths, market: Market, caplog: pytest.LogCaptureFixture
) -> None:
    async def scenario() -> dict[str, Any]:
        harness = await stepped_bot(paths, market)
        store = harness.bot.store
        assert store is not None and harness.bot.trader is not None
        await harness.step_until(lambda: len(store.fills()) >= 2, "the first fills")
        committed = set(store.fills()), {r.client_order_id for r in store.all_intents()}
        conn = FailingCommits(store._conn)
        store._conn = conn  # type: ignore[assignment]
        conn.failing = True
        await harness.step_until(lambda: harness.bot.disk.tripped, "the first failed commit")
        orders_at_failure = len(market.orders())
        cycles = harness.cycles
        await harness.step(30)
        found = {
            "committed": committed,
            "orders": (orders_at_failure, len(market.orders())),
            "cycles": harness.cycles - cycles,
            "state": harness.bot.trader.state,
            "failed_commits": conn.failed,
        }
        found["code"] = await harness.stop()
        return found

    with caplog.at_level(logging.INFO, logger="fleece"):
        found = asyncio.run(scenario())

    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert [r.getMessage() for r in errors] == [
        f"store failure: {paths.db}: a disk I/O error (disk I/O error); trading HALTED until "
        "restart, no new orders (free the disk or fix the file, then restart the bot)"
    ]
    assert found["state"] == (found["state"][0].HALTED, STORE_FAILURE)
    assert found["orders"][1] == found["orders"][0]
    assert found["cycles"] >= 30  # no crash, no restart: a cycle every minute, as before
    assert found["failed_commits"] >= 1
    assert found["code"] == 1
    with StateStore(paths.db) as reopened:
        assert found["committed"][0] <= set(reopened.fills())
        assert found["committed"][1] <= {r.client_order_id for r in reopened.all_intents()}
        assert {o.client_order_id for o in market.orders()} <= {
            r.client_order_id for r in reopened.all_intents()
        }


def test_a_full_disk_at_start_stops_the_bot_in_one_line_before_anything_is_sent(
    tmp_path: Path, tiny_tmpfs: Path
) -> None:
    paths = scenario_files(tmp_path, EIGHT_SYMBOLS)
    db = tiny_tmpfs / "trades.db"
    with StateStore(db):
        pass
    fill_up(tiny_tmpfs)
    env = {**sim_env(paths), "DATABASE_PATH": str(db)}

    bot = Process.start(fleece_command("run"), env, tmp_path, "bot")
    code = bot.wait(timeout=WAIT_S)

    lines = bot.stderr().strip().splitlines()
    assert code == 1  # not 2: once there is room again, a restart (systemd's) succeeds
    assert len(lines) == 1, lines
    assert f"bot stopped: {db}: the disk is full" in lines[0]
    assert "built-in exchange started" not in log_text(paths.log_file)
