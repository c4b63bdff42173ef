"""Serving the exchange: in-process (a daemon thread) and as the ``fleece exchange`` command."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from datetime import date
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated, Any, Self

import typer

from fleece.accounting import OPENING_CASH
from fleece.cli_options import BarsFolder, Cash, FirstDay, SlippageBps, Synthetic
from fleece.closable import Closable
from fleece.errors import EXIT_CONFIG_ERROR, FleeceError
from fleece.exchange.fault_layer import FaultLayer
from fleece.exchange.fault_plan import FAULT_KINDS, FaultPlan
from fleece.exchange.faults import FaultInjector
from fleece.exchange.limits import RequestLimits
from fleece.exchange.rate_limit import RateLimitLayer
from fleece.exchange.state_file import StateFile
from fleece.listening import base_url, tcp_socket
from fleece.models import REQUESTS_PER_MINUTE
from fleece.paper_lock import is_loopback_host

if TYPE_CHECKING:
    import uvicorn

    from fleece.exchange.sim import SimExchange, build_exchange

__all__ = ["ExchangeServer", "SimExchange", "build_exchange", "exchange_command"]


def __getattr__(name: str) -> Any:
    # The simulation pulls in pandas and exchange-calendars (seconds); importing this module for
    # the CLI's command table must stay cheap, so those names load on first use.
    if name in {"SimExchange", "build_exchange"}:
        import fleece.exchange.sim

        return getattr(fleece.exchange.sim, name)
    raise AttributeError(name)


STARTUP_TIMEOUT_S = 10.0


class ExchangeServer(Closable):
    """The exchange served over HTTP by uvicorn in a daemon thread (no signal handlers).

    Args:
        exchange: the simulated exchange.
        key: the API key id clients must send.
        secret: the API secret clients must send.
        host: a loopback address to bind.
        port: the port; 0 picks a free one.
        faults: the fault injector (default: one that injects nothing until told to through
            ``POST /v1/sim/faults``).
        state_path: a state file: restored now if it exists, then kept current (see
            :mod:`fleece.exchange.state_file`); the exchange restarts where it stopped.

    Use as a context manager (``with ExchangeServer(...) as server: server.url``), or call
    :meth:`start` and :meth:`stop`.
    """

    def __init__(
        self,
        exchange: SimExchange,
        key: str,
        secret: str,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        faults: FaultInjector | None = None,
        state_path: Path | None = None,
    ) -> None:
        if not is_loopback_host(host):  # the paper lock's rule: the bot reaches what it binds
            raise ValueError(f"the exchange binds loopback addresses only, not {host!r}")
        from fleece.exchange.app import create_app  # lazily, like __getattr__ below

        self.exchange = exchange
        self.faults = faults or FaultInjector()
        self.state = StateFile(state_path, exchange, self.faults) if state_path else None
        # Before the app is built: its routes hold the (restored) engine.
        self.restored = self.state.load() if self.state else False
        exchange.engine.fill_split = self.faults
        # Outermost: body bounds before anything reads a request (authentication included);
        # then the rate limit: every answer carries its headers, and a request beyond it never
        # reaches the fault layer or the exchange.
        self._app = RequestLimits(
            RateLimitLayer(
                FaultLayer(
                    create_app(exchange, key, secret, self.faults),
                    self.faults,
                    self.state.after_request if self.state else None,
                ),
                exchange.limiter,
            )
        )
        self._host = host
        self._port = port
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.url = ""

    def start(self) -> str:
        """Bind, serve in the background and return the base URL once connections are accepted.

        Raises:
            OSError: the address cannot be bound.
            RuntimeError: the server did not come up in time.
        """
        sock = tcp_socket(self._host)
        try:
            sock.bind((self._host, self._port))
        except OSError:
            sock.close()
            raise
        url = base_url(sock, self._host)
        import uvicorn  # lazily: only a started server needs it

        config = uvicorn.Config(self._app, log_level="warning", access_log=False, lifespan="off")
        server = uvicorn.Server(config)
        thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name="fleece-exchange", daemon=True
        )
        self._server, self._thread = server, thread
        thread.start()
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the exchange server did not start")
            time.sleep(0.01)
        self.url = url
        return self.url

    def stop(self) -> None:
        """Stop serving and wait for the thread (idempotent); save the state file if any."""
        running = self._server is not None
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=STARTUP_TIMEOUT_S)
        self._server, self._thread = None, None
        if running and self.state is not None:
            self.state.save()

    close = stop  # what ``with`` calls on the way out (Closable)

    def __enter__(self) -> Self:
        self.start()
        return super().__enter__()


def _fail(message: str) -> typer.Exit:
    print(f"fleece exchange: {message}", file=sys.stderr, flush=True)
    return typer.Exit(code=EXIT_CONFIG_ERROR)


_FAULTS = FaultPlan()  # the fault options' defaults are the plan's
_FAULT_KINDS = ",".join(kind for kind in FAULT_KINDS if kind in _FAULTS.kinds)


def exchange_command(  # noqa: PLR0917 (typer maps each parameter to an option)
    host: Annotated[str, typer.Option(help="loopback address to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port (0 picks a free one)")] = 8765,
    data: BarsFolder = None,
    synthetic: Synthetic = False,
    symbols: Annotated[
        str | None, typer.Option(help="comma-separated symbols, e.g. SPY,IBM")
    ] = None,
    start: FirstDay = None,
    days: Annotated[int, typer.Option(help="sessions of synthetic bars")] = 5,
    speed: Annotated[float, typer.Option(help="simulated seconds per second; 0 = stepped")] = 1.0,
    seed: Annotated[int, typer.Option(help="seed of synthetic bars and ids")] = 0,
    cash: Cash = OPENING_CASH,
    slippage_bps: SlippageBps = 0,
    key: Annotated[
        str | None, typer.Option(help="API key id clients must send (env ALPACA_API_KEY)")
    ] = None,
    secret: Annotated[
        str | None, typer.Option(help="API secret clients must send (env ALPACA_SECRET_KEY)")
    ] = None,
    fault_rate: Annotated[
        float, typer.Option(help="fraction of answers made faulty (0 to 1; 0 = none)")
    ] = _FAULTS.rate,
    fault_seed: Annotated[
        int, typer.Option(help="seed of the fault decisions (replayable)")
    ] = _FAULTS.seed,
    fault_order_rate: Annotated[
        float | None,
        typer.Option(help="fraction of order submissions made faulty (default: rate)"),
    ] = _FAULTS.order_rate,
    faults: Annotated[
        str,
        typer.Option(help=f"fault kinds, comma-separated or 'all': {','.join(FAULT_KINDS)}"),
    ] = _FAULT_KINDS,
    fault_slow_seconds: Annotated[
        float, typer.Option(help="how long a 'slow' answer is held (beyond the client timeout)")
    ] = _FAULTS.slow_seconds,
    fault_retry_after: Annotated[
        float, typer.Option(help="Retry-After seconds of an injected 429")
    ] = _FAULTS.retry_after_seconds,
    state: Annotated[
        Path | None,
        typer.Option(help="state file: restored at start if present, kept current, saved at exit"),
    ] = None,
    market_plan: Annotated[
        str,
        typer.Option(
            "--plan",
            help="market-data plan: free (IEX in real time, SIP only 15 min old; orders fill on "
            "the IEX tape) or unlimited",
        ),
    ] = "free",
    data_feed: Annotated[
        str,
        typer.Option(help="what the bars are: sip (feed=iex gets a seeded thinning) or iex"),
    ] = "sip",
    partial_fills: Annotated[
        float, typer.Option(help="fraction of fills split in two, as on paper (about 0.1)")
    ] = 0.0,
    rate_limit: Annotated[
        int, typer.Option(help="requests per simulated minute per API before 429s")
    ] = REQUESTS_PER_MINUTE,
    inactive: Annotated[
        str | None, typer.Option(help="symbols whose asset is inactive, e.g. GOLD")
    ] = None,
    late_bars: Annotated[
        float,
        typer.Option(help="share of bars published 30 s after their minute (late re-issues)"),
    ] = 0.0,
) -> None:
    """Serve the built-in Alpaca-compatible paper exchange on a loopback address."""
    if not is_loopback_host(host):
        raise _fail(f"refusing to bind {host}: the exchange serves loopback addresses only")
    api_key = key or os.environ.get("ALPACA_API_KEY")
    api_secret = secret or os.environ.get("ALPACA_SECRET_KEY")
    if not api_key or not api_secret:
        raise _fail(
            "a key and secret are required: --key/--secret or ALPACA_API_KEY/ALPACA_SECRET_KEY"
        )
    try:
        first_day = date.fromisoformat(start) if start else None
    except ValueError:
        raise _fail(f"--start must be YYYY-MM-DD, got {start!r}") from None
    wanted = [s.strip().upper() for s in symbols.split(",") if s.strip()] if symbols else None
    try:
        plan = FaultPlan(
            rate=fault_rate,
            seed=fault_seed,
            kinds=FaultPlan.parse_kinds(faults),
            slow_seconds=fault_slow_seconds,
            retry_after_seconds=fault_retry_after,
            order_rate=fault_order_rate,
        )
    except FleeceError as exc:
        raise _fail(str(exc)) from None
    from fleece.exchange.sim import build_exchange  # after the cheap checks: it is slow

    try:
        exchange = build_exchange(
            wanted,
            data_dir=data,
            synthetic=synthetic,
            start=first_day,
            days=days,
            speed=speed,
            seed=seed,
            cash=cash,
            slippage_bps=slippage_bps,
            plan=market_plan,
            data_feed=data_feed,
            partial_fills=partial_fills,
            rate_limit=rate_limit,
            inactive=[s.strip().upper() for s in (inactive or "").split(",") if s.strip()],
            late_bars=late_bars,
        )
        server = ExchangeServer(
            exchange, api_key, api_secret, host, port, faults=FaultInjector(plan), state_path=state
        )
        url = server.start()
    except (FleeceError, OSError, ValueError, RuntimeError) as exc:
        raise _fail(str(exc).splitlines()[0] if str(exc) else type(exc).__name__) from None
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    if server.restored:
        print(f"state restored from {state} (simulated now {exchange.clock.now().isoformat()})")
    if plan.rate > 0:
        kinds = ",".join(sorted(plan.kinds))
        print(f"faults rate={plan.rate:g} seed={plan.seed} kinds={kinds}", flush=True)
    print(f"listening on {url}", flush=True)
    print(f"plan={exchange.plan} data_feed={exchange.data_feed} rate_limit={rate_limit}/min")
    while not stop.wait(0.2):
        pass
    server.stop()
