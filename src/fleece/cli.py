"""The ``fleece`` command line (typer): thin, every command calls into the package.

Errors a user can fix (bad config, refused live endpoint, bad data) end as one line on stderr and
exit code 2, never a traceback.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import threading
from collections.abc import Mapping
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from fleece.calendar import NEW_YORK
from fleece.cli_config import config_app
from fleece.cli_options import EnvFile
from fleece.cli_support import user_errors
from fleece.clock import SystemClock
from fleece.config import AppConfig, Settings, load_config, load_settings, secret_texts
from fleece.config_bounds import MAX_SIM_DAYS, MAX_SIM_SPEED
from fleece.config_errors import DEFAULT_SOURCE
from fleece.exchange.server import exchange_command
from fleece.logs import log_file, setup_logging
from fleece.state_store import StateStore
from fleece.store_lock import StoreLock

if TYPE_CHECKING:
    from fleece.runtime import Bot

app = typer.Typer(
    help="alpaca-fleece: a paper-only trading bot for Alpaca, with a built-in exchange.",
    no_args_is_help=True,
    add_completion=False,
)
app.add_typer(config_app, name="config")
app.command("exchange", help="Serve the built-in Alpaca-compatible paper exchange.")(
    exchange_command
)
console = Console()
err = Console(stderr=True)


def _secrets_of(config: AppConfig) -> list[str]:
    return secret_texts(config.settings)


def build_bot(
    config: AppConfig,
    *,
    stop_after_sessions: int | None = None,
    store_lock: StoreLock | None = None,
) -> Bot:
    """Set up logging (secrets masked) and build the bot (holding ``store_lock`` if given)."""
    from fleece.runtime import Bot

    s = config.settings
    setup_logging(
        s.log_level,
        Path(s.log_dir),
        _secrets_of(config),
        max_bytes=s.log_max_bytes,
        backups=s.log_backups,
    )
    return Bot(config, stop_after_sessions=stop_after_sessions, store_lock=store_lock)


def run_bot(bot: Bot, *, quiet: bool = False) -> int:
    """Run the bot until it stops; returns the exit code.

    ``quiet`` keeps stderr to warnings and shows a one-line live status instead (the demo);
    the log file still gets every line.
    """
    if not quiet:
        return asyncio.run(bot.run())
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.StreamHandler) and handler.stream is sys.stderr:
            handler.setLevel(logging.WARNING)
    done = threading.Event()
    with err.status("starting the built-in exchange...") as status:

        def report() -> None:
            while not done.wait(0.25):
                # The bot's published snapshot (read model): never its live objects.
                snap = bot.published.current if bot.published is not None else None
                if snap is None or snap.activity is None:
                    continue
                now = snap.as_of.astimezone(NEW_YORK)
                board = f"  dashboard {bot.dashboard_url}" if bot.dashboard_url else ""
                counts = snap.activity
                status.update(
                    f"simulated {now:%a %Y-%m-%d %H:%M} ET  orders {counts.orders_submitted}"
                    f"  signals {counts.signals}  refusals {counts.refusals}{board}"
                )

        watcher = threading.Thread(target=report, daemon=True)
        watcher.start()
        try:
            return asyncio.run(bot.run())
        finally:
            done.set()


@app.command()
def run(env_file: EnvFile = Path(".env")) -> None:
    """Run the trading bot in the foreground (Ctrl+C stops it gracefully)."""
    with user_errors():
        config = _load(env_file)
    raise typer.Exit(run_bot(build_bot(config)))


def _load(env_file: Path, overrides: Mapping[str, str] | None = None) -> AppConfig:
    """The configuration a bot starts with, refused in one line unless it can start with it."""
    from fleece.preflight import preflight

    # API keys are required in paper mode only; load_config knows the mode.
    config = load_config(env_file, {**os.environ, **(overrides or {})})
    preflight(config)
    return config


DEMO_DB = Path("data/demo/trades.db")
DEMO_START = date(2024, 11, 25)
"""The demo's first session over synthetic bars, unless ``SIM_START`` is set."""


def demo_overrides(days: int, speed: float, seed: int, settings: Settings) -> dict[str, str]:
    """The settings ``fleece demo`` puts over the environment and ``.env``.

    ``settings`` are the loaded ones (``.env`` and environment, as for every command).
    Synthetic bars start on ``SIM_START`` if set, else on :data:`DEMO_START`; with ``SIM_DATA``
    the bars' own days decide, as for ``fleece run``. The dashboard listens where
    ``DASHBOARD_HOST`` and ``DASHBOARD_PORT`` say; on any free port when the port is the
    default one and taken (a port set on purpose is kept: taken, the start refuses it).
    """
    overrides = {
        "FLEECE_MODE": "sim",
        "DATABASE_PATH": str(DEMO_DB),
        # One more session than traded: the bot stops 30 minutes into it (see runtime).
        "SIM_DAYS": str(days + 1),
        "SIM_SPEED": str(speed),
        "SIM_SEED": str(seed),
        "KILL_SWITCH": "false",
        "DRY_RUN": "false",
    }
    if settings.sim_data is None:
        overrides["SIM_START"] = (settings.sim_start or DEMO_START).isoformat()
    if _default_port_taken(settings):
        overrides["DASHBOARD_PORT"] = "0"  # any free port will do
    return overrides


def _default_port_taken(settings: Settings) -> bool:
    from fleece.listening import can_listen

    # A port set on purpose (.env or environment) is kept; only the default one gives way.
    if not settings.dashboard_enabled or settings.source_of("DASHBOARD_PORT") != DEFAULT_SOURCE:
        return False
    return not can_listen(settings.dashboard_host, settings.dashboard_port)


@app.command()
def demo(
    env_file: EnvFile = Path(".env"),
    days: Annotated[
        int, typer.Option(help="full simulated sessions to trade", min=1, max=MAX_SIM_DAYS - 1)
    ] = 1,
    speed: Annotated[
        float,
        typer.Option(help="simulated seconds per real second", min=1, max=MAX_SIM_SPEED),
    ] = 600.0,
    seed: Annotated[
        int, typer.Option(help="seed of the synthetic market", min=0, max=2**63 - 1)
    ] = 7,
) -> None:
    """Run the bot on the built-in exchange over a simulated day, then print a summary."""
    from fleece.summary import print_summary

    db = DEMO_DB
    with user_errors():
        # One demo per store: a second one must neither delete the first one's store nor run.
        lock = StoreLock.acquire(db.absolute())
    for stale in (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")):
        stale.unlink(missing_ok=True)
    try:
        with user_errors():
            settings = load_settings(env_file, os.environ)
            config = _load(env_file, demo_overrides(days, speed, seed, settings))
    except typer.Exit:
        lock.release()
        raise
    console.print(
        f"[bold]alpaca-fleece demo[/]: {len(config.trading.tickers)} symbols, "
        f"{days} simulated session(s) at {speed:g}x on the built-in exchange "
        f"(log: {log_file(Path(config.settings.log_dir))})"
    )
    started = datetime.now().astimezone()
    bot = build_bot(config, stop_after_sessions=days, store_lock=lock)
    code = run_bot(bot, quiet=True)
    requests = (bot.stats.requests_total, bot.stats.requests_per_market_minute)
    log_path = log_file(Path(config.settings.log_dir))
    print_summary(
        console,
        db,
        log_path,
        started,
        requests if bot.stats.polls else None,
        grid=(bot.stats.grid_minutes, bot.stats.empty_minutes),
    )
    raise typer.Exit(code)


def _store(env_file: Path) -> tuple[StateStore, AppConfig]:
    config = load_config(env_file, os.environ, require_keys=False)
    return StateStore(Path(config.settings.database_path)), config


@app.command()
def halt(
    reason: Annotated[str, typer.Option(help="why trading is halted")] = "operator",
    env_file: EnvFile = Path(".env"),
) -> None:
    """Set the persisted kill switch: the bot sends no new orders until `fleece resume`."""
    with user_errors():
        store, config = _store(env_file)
        with store:
            store.set_kill_switch(True, reason, SystemClock().now())
            console.print(_switch_reply(store, config), soft_wrap=True)


@app.command()
def resume(env_file: EnvFile = Path(".env")) -> None:
    """Lift the persisted kill switch (KILL_SWITCH=true in the environment still halts)."""
    with user_errors():
        store, config = _store(env_file)
        with store:
            store.set_kill_switch(False, "resumed", SystemClock().now())
            console.print(_switch_reply(store, config), soft_wrap=True)


def _switch_reply(store: StateStore, config: AppConfig) -> str:
    """The switch and the trading state the bot takes at its next check, as Telegram says it:
    lifting the switch leaves it HALTED by KILL_SWITCH=true or a tripped breaker."""
    from fleece.notify.messages import kill_switch_set_text
    from fleece.read_model import build_snapshot, stopped_now

    judged_at, _ = stopped_now(store, config, SystemClock().now())
    snap = build_snapshot(store, config, judged_at)
    return kill_switch_set_text(
        snap.kill_switch, snap.kill_switch_reason, snap.state, snap.state_reason
    )


@app.command("reset-breaker")
def reset_breaker(env_file: EnvFile = Path(".env")) -> None:
    """Reset a tripped circuit breaker (persisted across restarts until reset)."""
    with user_errors():
        store, _ = _store(env_file)
        with store:
            store.set_breaker(False, 0, SystemClock().now())
    console.print("circuit breaker reset")


# --- operations commands (cli_ops) ---
from fleece.cli_ops import status_command, systemd_dropin_command  # noqa: E402

app.command("status")(status_command)
app.command("systemd-dropin")(systemd_dropin_command)
# --- end operations commands ---


# --- control commands (fleece.control: flatten, notify test) ---
from fleece.control.cli import flatten_command, notify_app  # noqa: E402

app.command("flatten")(flatten_command)
app.add_typer(notify_app, name="notify")
# --- end control commands ---


# --- dashboard commands ---
_HOST = Settings.model_fields["dashboard_host"].default
_PORT = Settings.model_fields["dashboard_port"].default


@app.command()
def dashboard(
    host: Annotated[
        str | None, typer.Option(help=f"address to bind (default: DASHBOARD_HOST, {_HOST})")
    ] = None,
    port: Annotated[
        int | None,
        typer.Option(
            help=f"port, 0 picks a free one (default: DASHBOARD_PORT, {_PORT})", min=0, max=65535
        ),
    ] = None,
    db: Annotated[
        Path | None, typer.Option(help="the store (default: DATABASE_PATH, data/trades.db)")
    ] = None,
    env_file: EnvFile = Path(".env"),
) -> None:
    """Serve the web dashboard over a stopped bot's store (the running bot serves its own)."""
    from fleece.dashboard.server import serve_store

    with user_errors():
        serve_store(host=host, port=port, db=db, env_file=env_file)


# --- end dashboard commands ---


# --- backtest commands ---
from fleece.backtest.cli import (  # noqa: E402 (kept inside this block)
    backtest_command,
    download_command,
    replay_command,
)

app.command("backtest")(backtest_command)
app.command("replay")(replay_command)
data_app = typer.Typer(help="Market data for backtests.", no_args_is_help=True)
data_app.command("download")(download_command)
app.add_typer(data_app, name="data")
# --- end backtest commands ---


# --- sweep commands ---
from fleece.sweep.cli import sweep_command  # noqa: E402

app.command("sweep")(sweep_command)
# --- end sweep commands ---


# --- strategy commands (cli_strategy: list, new) ---
from fleece.cli_strategy import strategy_app  # noqa: E402

app.add_typer(strategy_app, name="strategy")
# --- end strategy commands ---


if __name__ == "__main__":
    app()
