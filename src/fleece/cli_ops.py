"""Operations commands: ``fleece status`` (also the Docker health check) and ``systemd-dropin``.

``fleece status`` prints whether the bot runs and what its store says; ``--json`` prints the same
for scripts; ``--check`` is a health check that exits 1 unless the bot runs and shows a recent
sign of life. Registered on the main app in :mod:`fleece.cli`.
"""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from fleece.bot_process import DEFAULT_PID_FILE
from fleece.cli_options import AsJson, EnvFile, PidFile
from fleece.cli_support import user_errors
from fleece.clock import SystemClock
from fleece.errors import EXIT_CONFIG_ERROR
from fleece.models import TradingState
from fleece.notify.messages import (
    counts_text,
    duration_text,
    kill_switch_text,
    money,
    percent_text,
    price_text,
    state_text,
    stopped_text,
    when,
)
from fleece.risk_limits import has_daily_loss_stop
from fleece.status import (
    BotStatus,
    collect_status,
    default_max_age,
    health_problems,
    status_to_dict,
)
from fleece.systemd import owner_of, primary_group, render_dropin

EXIT_UNHEALTHY = 1


def status_command(
    env_file: EnvFile = Path(".env"),
    pid_file: PidFile = DEFAULT_PID_FILE,
    as_json: AsJson = False,
    check: Annotated[
        bool,
        typer.Option(
            "--check",
            help="health check: exit 1 unless the bot runs and its heartbeat is recent",
        ),
    ] = False,
    max_age: Annotated[
        float | None,
        typer.Option(help="seconds without a heartbeat before --check fails [3 heartbeats]"),
    ] = None,
) -> None:
    """Show whether the bot runs, its trading state, positions, orders and today's figures."""
    from fleece.config import load_config

    with user_errors():
        config = load_config(env_file, os.environ, require_keys=False)
        status = collect_status(config, pid_file=pid_file, now=SystemClock().now())
    limit = default_max_age(status) if max_age is None else max_age
    problems = health_problems(status, limit)
    if as_json:
        typer.echo(json.dumps(status_to_dict(status, limit), indent=2))
    elif check:
        if problems:
            typer.echo("unhealthy: " + "; ".join(problems))
        else:
            typer.echo(f"healthy: bot running (PID {status.process.pid})")
    else:
        print_status(Console(), status)
    if check and problems:
        raise typer.Exit(EXIT_UNHEALTHY)


def systemd_dropin_command(
    root: Annotated[
        Path | None, typer.Option(help="the installation directory, BOT_ROOT [current]")
    ] = None,
    user: Annotated[str | None, typer.Option(help="account to run as [owner of ROOT]")] = None,
    group: Annotated[str | None, typer.Option(help="group to run as [group of ROOT]")] = None,
) -> None:
    """Print the systemd drop-in pinning BOT_ROOT (used by `make systemd-install`)."""
    with user_errors():
        bot_root = (root or Path.cwd()).expanduser().resolve()
        owner, owner_group = owner_of(bot_root)
        if user is None and owner == "root":
            typer.echo(
                f"error: {bot_root} is owned by root; pass --user NAME (SERVICE_USER=NAME for "
                "make): the bot should run as an account that owns data/ and logs/",
                err=True,
            )
            raise typer.Exit(EXIT_CONFIG_ERROR)
        if user is not None and group is None:
            group = primary_group(user)
        typer.echo(render_dropin(bot_root, user or owner, group or owner_group), nl=False)


# --------------------------------------------------------------------------- rendering


def _when(ts: datetime | None, simulated: bool = False) -> str:
    return "unknown" if ts is None else when(ts, seconds=True, simulated=simulated)


def _process_line(status: BotStatus) -> str:
    p = status.process
    if p.running:
        line = f"[green]running[/] · PID {p.pid} (from the {p.source})"
    else:
        line = "[red]not running[/]"
    if p.stale_pid is not None:
        line += f" · stale PID {p.stale_pid} in {p.pid_file}"
    return line


def _state_line(status: BotStatus) -> str:
    colour = {"ACTIVE": "green", "REDUCING": "yellow", "HALTED": "red"}.get(
        status.trading_state, "white"
    )
    shown = state_text(TradingState(status.trading_state), status.state_reason)
    return f"[{colour}]{shown}[/]"


def _heartbeat_line(status: BotStatus) -> str:
    beat = status.heartbeat
    if beat is None:
        return "none recorded"
    line = _when(beat.at, status.simulated_time)
    if beat.age_seconds is not None:
        line += f" · {duration_text(beat.age_seconds)} ago"
    if status.store_written_age_seconds is not None:
        line += f" · store written {duration_text(status.store_written_age_seconds)} ago"
    return line


def _market_line(status: BotStatus) -> str:
    m = status.market
    if m.open is None:
        return "unknown (outside the NYSE calendar's range)"
    if m.open:
        line = f"open now (NYSE, wall clock) · closes {_when(m.next_close)}"
    else:
        line = f"closed now (NYSE, wall clock) · opens {_when(m.next_open)}"
    if m.at_heartbeat is not None:
        line += f" · {'open' if m.at_heartbeat else 'closed'} at the simulated heartbeat"
    return line


def _today_lines(status: BotStatus) -> list[tuple[str, str]]:
    d = status.today
    if d is None:
        return []
    label = f"today {d.session_date.isoformat()}" + (" (sim)" if status.simulated_time else "")
    pnl = f"P&L {money(d.pnl, signed=True)} (equity {money(d.equity)}, "
    pnl += f"start {money(d.start_equity)}) · loss limit "
    if has_daily_loss_stop(d.max_daily_loss_pct):
        pnl += f"-{money(d.loss_limit)} ({percent_text(d.max_daily_loss_pct)})"
    else:
        pnl += "none (max_daily_loss_pct 1.0)"
    rows = [(label, pnl), ("trades today", f"{d.trades_submitted} / {d.max_trades_per_day}")]
    if d.refusals:
        rows.append(("refusals today", counts_text(d.refusals)))
    return rows


def print_status(console: Console, status: BotStatus) -> None:
    """Print the status as tables for a terminal."""
    table = Table(title="alpaca-fleece status", show_header=False, title_justify="left")
    table.add_column("what", style="bold")
    table.add_column("value")
    table.add_row("bot", _process_line(status))
    mode = status.mode + (" (store times are simulated)" if status.simulated_time else "")
    table.add_row("mode", mode)
    table.add_row("trading state", _state_line(status))
    table.add_row("kill switch", kill_switch_text(status.kill_switch, status.kill_switch_reason))
    breaker = "[red]TRIPPED[/]" if status.breaker_tripped else "ok"
    table.add_row(
        "circuit breaker", f"{breaker} · {status.breaker_failures}/{status.breaker_limit} failures"
    )
    if status.dropped_symbols:
        table.add_row("symbols dropped", ", ".join(status.dropped_symbols))
    table.add_row("heartbeat", _heartbeat_line(status))
    table.add_row("market", _market_line(status))
    for label, value in _today_lines(status):
        table.add_row(label, value)
    if status.last_run is not None:
        run = status.last_run
        ended = stopped_text(run.stopped_at, run.exit_reason, status.simulated_time)
        started = _when(run.started_at, status.simulated_time)
        table.add_row("last run", f"#{run.id} {run.mode} · started {started} · {ended}")
    table.add_row("database", status.database + ("" if status.database_exists else " (missing)"))
    for note in status.notes:
        table.add_row("note", note)
    console.print(table)
    _print_positions(console, status)
    _print_orders(console, status)


def _print_positions(console: Console, status: BotStatus) -> None:
    if not status.positions:
        console.print("positions: none")
        return
    table = Table(title="positions (from fills; last price from stored bars)", title_justify="left")
    for column in ("symbol", "qty", "avg cost", "last", "unrealised P&L"):
        table.add_column(column, justify="left" if column == "symbol" else "right")
    for p in status.positions:
        table.add_row(
            p.symbol,
            str(p.qty),
            price_text(p.avg_cost),
            price_text(p.last_price),
            money(p.unrealised, True),
        )
    console.print(table)


def _print_orders(console: Console, status: BotStatus) -> None:
    if not status.open_orders:
        console.print("open orders: none")
        return
    table = Table(title="open orders", title_justify="left")
    for column in ("client_order_id", "symbol", "side", "qty", "filled", "status"):
        table.add_column(column)
    for o in status.open_orders:
        table.add_row(o.client_order_id, o.symbol, o.side, str(o.qty), str(o.filled_qty), o.status)
    console.print(table)
