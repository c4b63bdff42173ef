"""Serving the dashboard: inside the running bot's event loop, or over a stopped bot's store.

In the bot, :meth:`DashboardServer.for_live` builds the app over the snapshots the bot publishes
(:class:`~fleece.publisher.SnapshotPublisher`) and watches its polls; the runtime binds it
(:meth:`~DashboardServer.bind`, so a busy port fails the start with one clear line) and runs
:meth:`~DashboardServer.serve` as one more supervised task of its event loop. uvicorn's own
signal handling is switched off: the bot owns SIGTERM and SIGINT.

``fleece dashboard`` (:func:`serve_store`) serves the same page over a stopped bot's store.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import uvicorn
from pydantic import SecretStr

from fleece.config import FILE_KEY, check_dashboard_binding, load_config, secret_texts
from fleece.dashboard.app import create_app
from fleece.dashboard.metrics import Metrics
from fleece.dashboard.view import DashboardView
from fleece.errors import ConfigError
from fleece.listening import base_url, tcp_socket
from fleece.state_store import StateStore

if TYPE_CHECKING:
    from fleece.publisher import SnapshotPublisher

log = logging.getLogger(__name__)

SAMPLE_EVERY_S = 1.0
GRACEFUL_SHUTDOWN_S = 2
BACKLOG = 128


class _Server(uvicorn.Server):
    """uvicorn without its signal handlers (it would replace the bot's SIGTERM handling)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class DashboardServer:
    """The dashboard app served by uvicorn on the current event loop.

    Args:
        view: the read model.
        host: the address to bind.
        port: the port; 0 picks a free one.
        token: ``DASHBOARD_TOKEN`` (None: read-only page).
    """

    def __init__(
        self, view: DashboardView, *, host: str, port: int, token: SecretStr | None
    ) -> None:
        self.view = view
        self.metrics = Metrics(view)
        self.app = create_app(view, token=token, host=host, metrics=self.metrics)
        self.host = host
        self.port = port
        self.url: str | None = None
        self._sock: socket.socket | None = None
        self._server: _Server | None = None

    @classmethod
    def for_live(cls, live: SnapshotPublisher) -> DashboardServer:
        """The dashboard of the bot in this process (its snapshots), watching its polls."""
        s = live.config.settings
        server = cls(
            DashboardView.for_live(live),
            host=s.dashboard_host,
            port=s.dashboard_port,
            token=s.dashboard_token,
        )
        live.watch_polls(server.on_poll)
        return server

    def on_poll(self, seconds: float, ok: bool) -> None:
        """The poller's hook: latency histogram and the health check's last attempt."""
        self.metrics.observe_poll(seconds, ok)
        self.view.record_poll(seconds, ok)

    def bind(self) -> str:
        """Bind the listening socket now; return the dashboard's URL (with the real port).

        Raises:
            ConfigError: the address cannot be bound (port in use, unknown host).
        """
        if self._sock is not None:
            return self.url or ""
        sock = tcp_socket(self.host)
        try:
            sock.bind((self.host, self.port))
        except OSError as exc:
            sock.close()
            reason = exc.strerror or type(exc).__name__
            raise ConfigError(
                "dashboard",
                "DASHBOARD_PORT",
                f"cannot listen on {self.host}:{self.port} ({reason}); free the port, "
                "set DASHBOARD_PORT (0 picks a free one) or DASHBOARD_ENABLED=false",
            ) from None
        sock.listen(BACKLOG)  # from now on clients queue until the server accepts them
        sock.setblocking(False)
        self.port = sock.getsockname()[1]
        self._sock = sock
        self.url = base_url(sock, self.host)
        return self.url

    async def serve(self) -> None:
        """Serve until :meth:`stop` or cancellation; binds first if :meth:`bind` was not called."""
        self.bind()
        sock = self._sock
        assert sock is not None
        config = uvicorn.Config(
            self.app,
            log_config=None,  # the bot's logging stays as it is
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
        )
        server = self._server = _Server(config)
        sampler = asyncio.create_task(self._sample())
        try:
            await server.serve(sockets=[sock])
        except asyncio.CancelledError:
            if server.started:
                # Close the listener and open connections before leaving (the bot is stopping).
                await server.shutdown(sockets=[sock])
            raise
        finally:
            sampler.cancel()
            sock.close()
            self._sock = None  # a restart by the supervisor binds the same port again

    def stop(self) -> None:
        """Ask the server to finish (thread-safe enough: uvicorn polls the flag)."""
        if self._server is not None:
            self._server.should_exit = True

    async def _sample(self) -> None:
        while True:
            self.metrics.sample_requests()
            await asyncio.sleep(SAMPLE_EVERY_S)


def serve_store(
    *,
    host: str | None = None,
    port: int | None = None,
    db: Path | None = None,
    env_file: Path | None = Path(".env"),
) -> None:
    """Serve the dashboard over a stopped bot's store until SIGINT/SIGTERM (``fleece dashboard``).

    Args:
        host: the address (default ``DASHBOARD_HOST``).
        port: the port (default ``DASHBOARD_PORT``; 0 picks a free one).
        db: the store (default ``DATABASE_PATH``).
        env_file: the ``.env`` to read (token, limits, paths).

    Raises:
        ConfigError: a bad setting, a non-loopback host without ``DASHBOARD_TOKEN``, a missing
            database or an address that cannot be bound.
    """
    from fleece.logs import setup_logging

    config = load_config(env_file, os.environ, require_keys=False)
    s = config.settings
    if host is not None:
        check_dashboard_binding(host, s.dashboard_token, "command line", "--host")
    path = (db or s.database_path).absolute()
    if not path.is_file():
        raise ConfigError(str(path), FILE_KEY, "no database here: run the bot first, or pass --db")
    setup_logging(s.log_level, None, secret_texts(s))
    with StateStore(path) as store:
        server = DashboardServer(
            DashboardView(store, config),
            host=host if host is not None else s.dashboard_host,
            port=port if port is not None else s.dashboard_port,
            token=s.dashboard_token,
        )
        url = server.bind()
        print(f"dashboard listening on {url} (store {path}); Ctrl+C stops", flush=True)
        asyncio.run(_until_signal(server))


async def _until_signal(server: DashboardServer) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, server.stop)
    await server.serve()
