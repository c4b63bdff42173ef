"""Builders for the dashboard's specifications: configs, a stepped exchange, a bot in a thread.

The live specifications run the real bot (``FLEECE_MODE=paper`` against a loopback exchange whose
keys the test knows) in a background thread with its own event loop, and step the exchange's
simulated clock minute by minute from the test. The exchange is served by uvicorn like
``fleece exchange``, with one switch more: ``fail_bars`` makes the market-data routes answer 503,
a data-feed outage.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from typing import Any

import httpx
import pytest
import runtime_helpers
import uvicorn
from fastapi import Request, Response
from fastapi.responses import JSONResponse

from fleece.calendar import NEW_YORK
from fleece.config import AppConfig, load_config
from fleece.exchange.app import create_app as create_exchange_app
from fleece.exchange.sim import SimExchange, build_exchange
from fleece.runtime import Bot

KEY = "test-key-id-0123456789"
SECRET = "test-secret-key-0123456789abcdef"
TOKEN = "dashboard-token-for-tests-0123"
BEARER = {"Authorization": f"Bearer {TOKEN}"}
SYMBOLS = ("SPY", "QQQ", "IWM", "AAPL", "MSFT", "NVDA")
DAY = date(2024, 11, 26)  # a Tuesday session
WAIT_S = 60.0  # a guard against hangs, never a measured expectation


def ny(hhmm: str, day: date = DAY) -> datetime:
    """A New York wall-clock time on ``day``, as UTC."""
    hour, minute = map(int, hhmm.split(":"))
    return datetime.combine(day, clock_time(hour, minute), tzinfo=NEW_YORK).astimezone(UTC)


def write_trading_yaml(
    folder: Path,
    symbols: Sequence[str] = SYMBOLS,
    *,
    windows: tuple[int, int, int] = (2, 5, 12),
    max_trades: int = 20,
    max_positions: int = 10,
    close_positions: bool = True,
) -> Path:
    """A trading.yaml with short SMA windows, so a few simulated minutes bring trades."""
    fast, medium, slow = windows
    path = folder / "trading.yaml"
    path.write_text(
        f"symbols:\n  list: [{', '.join(symbols)}]\n"
        f"risk:\n  max_trades_per_day: {max_trades}\n  max_position_pct: 0.10\n"
        f"  max_concurrent_positions: {max_positions}\n"
        f"strategy:\n  fast: {fast}\n  medium: {medium}\n  slow: {slow}\n"
        f"shutdown:\n  grace_seconds: 5\n  close_positions: {str(close_positions).lower()}\n",
        encoding="utf-8",
    )
    return path


def config_for(folder: Path, environ: dict[str, str], **yaml: Any) -> AppConfig:
    """A validated config: ``environ`` plus a database, logs and trading.yaml in ``folder``."""
    env = {
        "DATABASE_PATH": str(folder / "trades.db"),
        "LOG_DIR": str(folder / "logs"),
        "DASHBOARD_PORT": "0",
        **environ,
    }
    return load_config(None, env, config_path=write_trading_yaml(folder, **yaml))


def wait_for(what: str, check: Callable[[], bool], timeout: float = WAIT_S) -> None:
    """Wait until ``check()`` is true (a condition, not a duration); fail naming ``what``."""
    runtime_helpers.wait_for(check, what, timeout)


# ------------------------------------------------------------------------ the exchange


@dataclass
class ServedExchange:
    """A stepped exchange on a loopback port; ``fail_bars`` simulates a data-feed outage."""

    exchange: SimExchange
    url: str = ""
    fail_bars: bool = False
    _server: uvicorn.Server | None = None
    _thread: threading.Thread | None = None

    def state(self) -> dict[str, Any]:
        """``GET /v1/sim/state`` over HTTP, with the keys (as any client would)."""
        headers = {"APCA-API-KEY-ID": KEY, "APCA-API-SECRET-KEY": SECRET}
        answer = httpx.get(f"{self.url}/v1/sim/state", headers=headers, timeout=10)
        answer.raise_for_status()
        result: dict[str, Any] = answer.json()
        return result

    def requests(self, route: str) -> int:
        """How many requests ``route`` (e.g. ``"POST /v2/orders"``) has served."""
        return int(self.exchange.state()["requests"].get(route, 0))


@contextmanager
def served_exchange(
    start: datetime, symbols: Sequence[str] = SYMBOLS, seed: int = 11
) -> Iterator[ServedExchange]:
    """Synthetic bars from ``start``'s day, the clock standing still at ``start``."""
    exchange = build_exchange(
        list(symbols), synthetic=True, start=start, days=2, speed=0.0, seed=seed
    )
    handle = ServedExchange(exchange)
    app = create_exchange_app(exchange, KEY, SECRET)

    @app.middleware("http")
    async def outage(request: Request, call_next: Callable[[Request], Any]) -> Response:
        if handle.fail_bars and request.url.path.startswith("/v2/stocks"):
            return JSONResponse({"code": 50300000, "message": "feed down"}, status_code=503)
        response: Response = await call_next(request)
        return response

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    wait_for("the exchange to start", lambda: server.started)
    handle.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    handle._server, handle._thread = server, thread
    try:
        yield handle
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def paper_env(exchange: ServedExchange, **extra: str) -> dict[str, str]:
    """The environment of a paper bot talking to ``exchange`` (a loopback URL)."""
    return {
        "FLEECE_MODE": "paper",
        "ALPACA_API_KEY": KEY,
        "ALPACA_SECRET_KEY": SECRET,
        "ALPACA_BASE_URL": exchange.url,
        "DASHBOARD_TOKEN": TOKEN,
        **extra,
    }


# ------------------------------------------------------------------------ the bot


@dataclass
class BotThread:
    """The real bot running ``asyncio.run(bot.run())`` in a background thread."""

    bot: Bot
    thread: threading.Thread | None = None
    loop: asyncio.AbstractEventLoop | None = None
    exit_code: int | None = None
    error: BaseException | None = field(default=None, repr=False)

    def start(self) -> str:
        """Start the bot; return its dashboard URL once it serves."""

        def main() -> None:
            async def run() -> int:
                self.loop = asyncio.get_running_loop()
                return await self.bot.run()

            try:
                self.exit_code = asyncio.run(run())
            except BaseException as exc:  # surfaced by the test through `error`
                self.error = exc

        self.thread = threading.Thread(target=main, name="bot", daemon=True)
        self.thread.start()
        wait_for("the dashboard URL", lambda: self.bot.dashboard_url is not None or self.done)
        assert self.bot.dashboard_url is not None, f"bot ended: {self.exit_code} {self.error}"
        url = self.bot.dashboard_url
        token = self.bot.config.settings.dashboard_token
        headers = {"Authorization": f"Bearer {token.get_secret_value()}"} if token else {}
        wait_for("the dashboard to answer", lambda: _answers(url, headers))
        return url

    @property
    def done(self) -> bool:
        """True once the bot's thread has finished."""
        return self.thread is not None and not self.thread.is_alive()

    def stop(self) -> int | None:
        """Ask for a graceful stop and wait for it; return the exit code."""
        if self.loop is not None and not self.done:
            self.loop.call_soon_threadsafe(self.bot.request_stop, "test finished")
        if self.thread is not None:
            self.thread.join(timeout=60)
        return self.exit_code


def _answers(url: str, headers: dict[str, str]) -> bool:
    try:
        return httpx.get(f"{url}/api/status", headers=headers, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@contextmanager
def running_bot(config: AppConfig) -> Iterator[tuple[BotThread, str]]:
    """The bot running in a thread, stopped gracefully afterwards."""
    handle = BotThread(Bot(config, install_signal_handlers=False))
    url = handle.start()
    try:
        yield handle, url
    finally:
        handle.stop()


def step(exchange: ServedExchange, handle: BotThread, minutes: float = 1.0) -> None:
    """Move the exchange's clock on and wait until the bot has finished the poll cycle it causes.

    The bot reads the exchange's clock (``GET /v2/clock``) only while it waits for the next
    poll, never during a cycle: so a clock request after the poll that saw the new time means
    the cycle (bars, orders, housekeeping) is over.
    """
    target = exchange.exchange.advance(minutes)
    poller = handle.bot.poller
    assert poller is not None
    wait_for(
        "the bot to poll at the new time",
        lambda: poller.last_success is not None and poller.last_success >= target,
    )
    seen = exchange.requests("GET /v2/clock")
    wait_for("the bot to finish its cycle", lambda: exchange.requests("GET /v2/clock") > seen)


@contextmanager
def paper_bot(folder: Path, **yaml: Any) -> Iterator[tuple[ServedExchange, BotThread, str]]:
    """The real bot in paper mode (with a ``DASHBOARD_TOKEN``) on a stepped exchange from
    10:30:05 New York, its files in ``folder`` (``yaml`` as :func:`write_trading_yaml` takes
    it); yields the exchange, the bot and its dashboard URL, and stops the bot gracefully."""
    with served_exchange(ny("10:30") + timedelta(seconds=5)) as exchange:
        config = config_for(folder, paper_env(exchange), **yaml)
        with running_bot(config) as (bot, url):
            yield exchange, bot, url


def step_until(
    exchange: ServedExchange, handle: BotThread, done: Callable[[], bool], what: str, limit: int
) -> None:
    """:func:`step` minute by minute until ``done()`` holds; fail naming ``what`` after
    ``limit`` simulated minutes."""
    for _ in range(limit):
        step(exchange, handle)
        if done():
            return
    pytest.fail(f"{what} not within {limit} simulated minutes")
