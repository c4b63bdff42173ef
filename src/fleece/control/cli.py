"""``fleece flatten`` and ``fleece notify test`` (registered on the main app in :mod:`fleece.cli`).

``fleece flatten`` never trades itself: only the running bot's own session sends orders. It
queues a ``flatten`` in the store's command log, and the bot closes its positions on its next
cycle with the graceful shutdown's close-out routine (open orders cancelled, then one closing
market order per position, through intents with deterministic client_order_ids). The command
waits for the bot's outcome and prints it. With no bot running it does nothing (there is no
session to send orders through) and says so, exit 1; the refusal is recorded all the same.
"""

from __future__ import annotations

import getpass
import os
import socket
from pathlib import Path
from typing import Annotated

import typer

from fleece.bot_process import DEFAULT_PID_FILE
from fleece.cli_options import EnvFile, PidFile
from fleece.cli_support import user_errors
from fleece.clock import SystemClock
from fleece.control import commands
from fleece.notify.messages import duration_text

NO_BOT = (
    "no bot is running on this store: nothing was done (flatten closes positions through the "
    "running bot's own session; start it, or close them at the broker)"
)

notify_app = typer.Typer(help="Notifications (NOTIFY_URLS, HEARTBEAT_URL).", no_args_is_help=True)


def _who() -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = f"uid {os.getuid()}"
    return f"cli {user}@{socket.gethostname()} pid {os.getpid()}"


def flatten_command(
    env_file: EnvFile = Path(".env"),
    pid_file: PidFile = DEFAULT_PID_FILE,
    wait: Annotated[
        float, typer.Option(min=1, max=3600, help="seconds to wait for the bot's outcome")
    ] = commands.DEFAULT_WAIT_S,
) -> None:
    """Close the running bot's positions now, through its normal order path."""
    from fleece.bot_process import find_bot_process
    from fleece.config import load_config
    from fleece.read_model import last_run
    from fleece.state_store import StateStore

    clock = SystemClock()
    with user_errors():
        config = load_config(env_file, os.environ, require_keys=False)
        db = Path(config.settings.database_path)
        if not db.exists():
            typer.echo(f"error: {NO_BOT}", err=True)
            raise typer.Exit(1)
        with StateStore(db) as store:
            run = last_run(store)
            process = find_bot_process(pid_file, run.unfinished_pid if run else None)
            if not process.running:
                store.add_command(clock.now(), "cli", _who(), "flatten", "", "refused", "no bot")
                typer.echo(f"error: {NO_BOT}", err=True)
                raise typer.Exit(1)
            command_id = commands.request(
                store, commands.FLATTEN, source="cli", sender=_who(), now=clock.now()
            )
            typer.echo(
                f"flatten #{command_id} queued for the bot (PID {process.pid}); waiting up to "
                f"{duration_text(wait)} for its next cycle..."
            )
            record = commands.wait_for(store, command_id, wait, clock.now)
    typer.echo(commands.outcome_line(record))
    raise typer.Exit(0 if record is not None and record.status == "done" else 1)


@notify_app.command("test")
def notify_test_command(env_file: EnvFile = Path(".env")) -> None:
    """Send a test message to every NOTIFY_URLS destination (and ping HEARTBEAT_URL)."""
    from fleece.config import load_config, secret_texts
    from fleece.logs import Redactor
    from fleece.notify.delivery import failure_text
    from fleece.notify.destinations import destinations, split_urls
    from fleece.notify.events import Level
    from fleece.notify.heartbeat import TIMEOUT_S, get_url
    from fleece.notify.messages import Message, when

    with user_errors():
        settings = load_config(env_file, os.environ, require_keys=False).settings
    redact = Redactor(secret_texts(settings))
    urls = split_urls(settings.notify_urls.get_secret_value()) if settings.notify_urls else []
    if not urls and settings.heartbeat_url is None:
        typer.echo(
            "error: nothing to test: set NOTIFY_URLS (and/or HEARTBEAT_URL) in .env", err=True
        )
        raise typer.Exit(1)
    message = Message(
        "alpaca-fleece test message",
        f"Notifications from {socket.gethostname()} reach you "
        f"(sent by `fleece notify test` at {when(SystemClock().now())}).",
        Level.INFO,
    )
    failures = 0
    for destination in destinations(urls):
        try:
            ok, why = destination.deliver(message), "the service did not accept it"
        except Exception as exc:  # report it, whatever it is, and try the next one
            ok, why = False, failure_text(exc, redact)
        failures += not ok
        typer.echo(
            f"{'ok    ' if ok else 'FAILED'} {destination.label}" + ("" if ok else f": {why}")
        )
    if settings.heartbeat_url is not None:
        try:
            get_url(settings.heartbeat_url.get_secret_value(), TIMEOUT_S)
            typer.echo("ok     heartbeat ping (HEARTBEAT_URL)")
        except (OSError, ValueError) as exc:
            failures += 1
            typer.echo(f"FAILED heartbeat ping (HEARTBEAT_URL): {type(exc).__name__}")
    raise typer.Exit(1 if failures else 0)
