"""The answers to ``/status``, ``/positions`` and ``/daily``, from the bot's snapshot.

The same :class:`~fleece.read_model.BotSnapshot` the dashboard and ``fleece status`` show; the
store gives the day's summary.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fleece.notify.messages import (
    kill_switch_text,
    money,
    price_text,
    render,
    state_text,
    when,
)
from fleece.notify.reports import daily_summary

if TYPE_CHECKING:
    from fleece.read_model import BotSnapshot
    from fleece.state_store import StateStore

HELP = (
    "/status: trading state, equity, today's P&L\n"
    "/positions: open positions with unrealised P&L\n"
    "/halt [reason]: no new orders until /resume\n"
    "/resume: lift the kill switch\n"
    "/flatten: close the bot's positions now (cancels open orders first)\n"
    "/daily: today's summary"
)


def status_text(snap: BotSnapshot) -> str:
    """Mode, trading state, equity, today's P&L, positions and orders."""
    breaker = "TRIPPED" if snap.breaker_tripped else "ok"
    kill = kill_switch_text(snap.kill_switch, snap.kill_switch_reason)
    lines = [
        f"alpaca-fleece ({snap.mode}) at {when(snap.as_of)}",
        f"state {state_text(snap.state, snap.state_reason)}",
        f"kill switch {kill} · circuit breaker {breaker}",
        f"equity {money(snap.equity)} · today P&L {money(snap.pnl_today, signed=True)}",
        f"positions {len(snap.positions)} · open orders {len(snap.open_orders)}"
        f" · trades today {snap.trades_today}/{snap.max_trades_per_day}",
    ]
    return "\n".join(lines)


def positions_text(snap: BotSnapshot) -> str:
    """One line per position: quantity, average cost, last price, unrealised P&L."""
    if not snap.positions:
        return "no open positions"
    lines = []
    for h in snap.positions:
        line = f"{h.symbol} {h.qty}"
        if h.avg_cost is not None:
            line += f" @ avg {price_text(h.avg_cost)}"
        if h.last_price is not None:
            line += f" · last {price_text(h.last_price)}"
        if h.unrealised is not None:
            line += f" · {money(h.unrealised, signed=True)}"
        lines.append(line)
    return "\n".join(lines)


def daily_text(snap: BotSnapshot, store: StateStore) -> str:
    """Today's summary, worded like the notification sent after the close."""
    summary = daily_summary(
        store,
        snap.session_date,
        equity=snap.equity,
        positions=len(snap.positions),
        last_equity=snap.start_equity,  # the snapshot's start, by the same rule: one P&L
    )
    message = render(summary)
    return f"{message.title}\n{message.body}"
