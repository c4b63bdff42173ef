"""The wording of every notification: an event (or a batch of fills) becomes a title and a body.

Plain text, short lines, times in New York (the market's time; simulated in sim mode). Nothing
here reads a secret: messages are built from the events' figures alone, and the hub masks every
configured secret once more before delivery (see :mod:`fleece.notify.hub`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from fleece.calendar import NEW_YORK
from fleece.models import Side, TradingState
from fleece.notify.events import (
    BotStarted,
    BotStopped,
    BreakerTripped,
    BrokerBack,
    BrokerDown,
    DailySummary,
    Discrepancy,
    ErrorRaised,
    Event,
    FillNotice,
    Level,
    RunFigures,
    StateChanged,
)

APP = "alpaca-fleece"
#: Fills listed one per line in a batch; the rest are counted.
MAX_FILL_LINES = 20
#: Symbols named in the start message; the rest are counted.
MAX_SYMBOLS_SHOWN = 12
MAX_ERROR_CHARS = 300

_STATE_MEANING = {
    TradingState.ACTIVE: "entries and exits allowed",
    TradingState.REDUCING: "exits only, no new entries",
    TradingState.HALTED: "no orders at all",
}


@dataclass(frozen=True, slots=True)
class Message:
    """One notification as it is delivered."""

    title: str
    body: str
    level: Level


def money(value: float | None, signed: bool = False) -> str:
    """Dollars with thousands separators, to the cent ("unknown" for None)."""
    if value is None:
        return "unknown"
    return f"{value + 0.0:+,.2f}" if signed else f"{value:,.2f}"


def percent_text(fraction: float | None, signed: bool = False) -> str:
    """A fraction as a percent to two decimals (0.025 -> "2.50%", "+2.50%" when ``signed``;
    "unknown" for None): the limits and returns wherever they are shown."""
    if fraction is None:
        return "unknown"
    return f"{fraction + 0.0:+.2%}" if signed else f"{fraction:.2%}"


def price_text(value: float | None) -> str:
    """A share price to the tick (four decimals) with thousands separators ("unknown" for
    None): fills, average costs and last prices alike, wherever they are shown."""
    return "unknown" if value is None else f"{value:,.4f}"


def counts_text(counts: Mapping[str, int]) -> str:
    """Counts by name, sorted by name ("max_positions 2, stale_bar 1"; "none" when empty): the
    refusals by reason and the orders by status wherever they are listed."""
    return ", ".join(f"{name} {n}" for name, n in sorted(counts.items())) or "none"


def kill_switch_text(on: bool, reason: str) -> str:
    """The kill switch as every text viewer words it: ``on (reason)`` or ``off``."""
    if not on:
        return "off"
    return f"on ({reason})" if reason else "on"


def state_text(state: TradingState, why: str) -> str:
    """The trading state and why, as every viewer words it: ``HALTED (kill_switch)`` or
    ``ACTIVE`` (``fleece status``, Telegram, the notifications, the dashboard's page)."""
    return f"{state.value} ({why})" if why else state.value


def kill_switch_set_text(on: bool, reason: str, state: TradingState, why: str) -> str:
    """What setting or lifting the kill switch answers (``fleece halt``/``resume``, Telegram's
    ``/halt``/``/resume``): the switch as status words it, then the trading state it leaves,
    which lifting it need not make ACTIVE (the environment's switch, a tripped breaker)."""
    return f"kill switch {kill_switch_text(on, reason)}: trading {state_text(state, why)}"


def when(ts: datetime, *, seconds: bool = False, simulated: bool = False) -> str:
    """A timestamp as the market's local time ("2024-11-26 10:00 ET"), to the second when
    ``seconds``, marked "(simulated)" when it is a simulated clock's: messages, replies,
    ``fleece status`` and the dashboard's page alike."""
    shown = ts.astimezone(NEW_YORK).strftime(
        "%Y-%m-%d %H:%M:%S ET" if seconds else "%Y-%m-%d %H:%M ET"
    )
    return f"{shown} (simulated)" if simulated else shown


def stopped_text(stopped_at: datetime | None, reason: str | None, simulated: bool) -> str:
    """How a run ended, as ``fleece status`` and the dashboard's banner word it."""
    if stopped_at is None:
        return "no stop recorded"
    shown = when(stopped_at, seconds=True, simulated=simulated)
    return f"stopped {shown} ({reason or 'no reason recorded'})"


def symbol_reasons(reasons: Mapping[str, str]) -> list[str]:
    """Symbols with why, sorted ("GOLD (not tradable)"): the symbols a start dropped."""
    return [f"{symbol} ({why})" for symbol, why in sorted(reasons.items())]


def duration_text(seconds: float) -> str:
    """A span of time for a person ("45 s", "6 min 40 s", "3 h 5 min", "2 d 17 h"): an outage,
    an age and the limit it is judged by, a wait, wherever one is shown.

    The dashboard's page shows it as the API words it (nothing is worded in JavaScript).

    Whole seconds below two hours, so an age and its limit never read alike when they differ
    ("6 min 40 s ago (limit 6 min)"); whole minutes below two days, whole hours from then on.
    Halves round up, as JavaScript's Math.round does.
    """
    whole = math.floor(max(seconds, 0.0) + 0.5)
    if whole < 120:
        return f"{whole} s"
    if whole < 7200:
        minutes, rest = divmod(whole, 60)
        return f"{minutes} min {rest} s" if rest else f"{minutes} min"
    if whole < 172_800:
        hours, minutes = divmod((whole + 30) // 60, 60)
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod((whole + 1800) // 3600, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


def one_line(text: str, limit: int = MAX_ERROR_CHARS) -> str:
    """``text`` on one line, cut to ``limit`` characters."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def render(event: Event) -> Message:
    """The message for one event (a batch of fills: see :func:`render_fills`)."""
    title, body = _wording(event)
    return Message(title, body, event.level)


def _wording(event: Event) -> tuple[str, str]:
    """The title and the body of ``event``'s message."""
    if isinstance(event, FillNotice):
        return _one_fill(event)
    if isinstance(event, BotStarted):
        return _started(event)
    if isinstance(event, BotStopped):
        return _stopped(event)
    if isinstance(event, StateChanged):
        return _state(event)
    if isinstance(event, BreakerTripped):
        return (
            f"{APP}: circuit breaker tripped",
            f"{event.failures} consecutive order failures (last: {one_line(event.last_error)}).\n"
            "Trading is HALTED until `fleece reset-breaker`.",
        )
    if isinstance(event, Discrepancy):
        symbol = f" {event.symbol}" if event.symbol else ""
        return (
            f"{APP}: reconciliation found {event.what}{symbol}",
            f"{one_line(event.detail)} ({when(event.at)})",
        )
    if isinstance(event, BrokerDown):
        return (
            f"{APP}: broker unreachable for {duration_text(event.seconds)}",
            f"No request to the broker has succeeded since then. Last error: "
            f"{one_line(event.last_error)}",
        )
    if isinstance(event, BrokerBack):
        return (
            f"{APP}: broker reachable again",
            f"The broker answers again after {duration_text(event.seconds)}.",
        )
    if isinstance(event, ErrorRaised):
        return (f"{APP}: error in {event.where}", f"{one_line(event.error)} ({when(event.at)})")
    return _daily(event)


def _started(event: BotStarted) -> tuple[str, str]:
    shown = ", ".join(event.symbols[:MAX_SYMBOLS_SHOWN])
    more = len(event.symbols) - MAX_SYMBOLS_SHOWN
    if more > 0:
        shown += f" and {more} more"
    lines = [
        f"mode {event.mode}{' (dry run: no orders sent)' if event.dry_run else ''}",
        f"{len(event.symbols)} symbols: {shown}",
        f"equity {money(event.equity)}",
        f"trading state {event.state.value}",
        f"at {when(event.at)}",
    ]
    return f"{APP} started ({event.mode})", "\n".join(lines)


def figure_lines(figures: RunFigures) -> list[str]:
    """The run summary's lines (the stop message)."""
    lines = [
        f"orders {figures.orders} · fills {figures.fills} "
        f"({figures.buys} buys, {figures.sells} sells)",
        f"realised P&L {money(figures.realised_pnl, signed=True)}",
    ]
    if figures.equity_start is not None and figures.equity_end is not None:
        lines.append(f"equity {money(figures.equity_start)} -> {money(figures.equity_end)}")
    lines += [
        f"refusals: {counts_text(figures.refusals)}",
        f"open positions {figures.open_positions}",
    ]
    return lines


def _stopped(event: BotStopped) -> tuple[str, str]:
    lines = [f"reason: {one_line(event.reason)}", f"exit code {event.exit_code}"]
    if event.figures is not None:
        lines += figure_lines(event.figures)
    lines.append(f"at {when(event.at)}")
    return f"{APP} stopped: {one_line(event.reason, 80)}", "\n".join(lines)


def _state(event: StateChanged) -> tuple[str, str]:
    now = state_text(event.new, event.why)
    body = f"{event.old.value} -> {now} at {when(event.at)}: {_STATE_MEANING[event.new]}."
    if event.new is TradingState.HALTED and event.why == "kill_switch":
        body += " `fleece resume` (or /resume) lifts it."
    return f"{APP}: trading {now}", body


def _daily(event: DailySummary) -> tuple[str, str]:
    lines = [
        f"P&L {money(event.pnl, signed=True)} · equity {money(event.equity)}",
        f"trades {event.trades} · fills {event.fills} · "
        f"realised P&L {money(event.realised_pnl, signed=True)}",
        f"refusals: {counts_text(event.refusals)}",
        f"open positions {event.positions}",
    ]
    return f"{APP}: daily summary {event.day.isoformat()}", "\n".join(lines)


def fill_text(side: Side, qty: int, symbol: str, price: float) -> str:
    """A fill as every viewer words it: "BUY 10 SPY @ 101.2500" (the notifications, the
    dashboard's markers)."""
    return f"{side.value.upper()} {qty} {symbol} @ {price_text(price)}"


def _fill_line(notice: FillNotice) -> str:
    fill = notice.fill
    line = fill_text(fill.side, fill.qty, fill.symbol, fill.price)
    if notice.pnl is not None:
        line += f" · P&L {money(notice.pnl, signed=True)}"
    return line


def _one_fill(notice: FillNotice) -> tuple[str, str]:
    line = _fill_line(notice)
    return f"{APP} fill: {line}", f"{line} at {when(notice.fill.timestamp)}"


def render_fills(notices: Sequence[FillNotice]) -> Message:
    """One message for a batch of fills (one line each, the exits' P&L summed)."""
    if len(notices) == 1:
        return render(notices[0])
    buys = sum(1 for n in notices if n.fill.side is Side.BUY)
    lines = [_fill_line(n) for n in notices[:MAX_FILL_LINES]]
    if len(notices) > MAX_FILL_LINES:
        lines.append(f"... and {len(notices) - MAX_FILL_LINES} more")
    exits = [n.pnl for n in notices if n.pnl is not None]
    if exits:
        lines.append(f"P&L of the exits {money(sum(exits), signed=True)}")
    first, last = notices[0].fill.timestamp, notices[-1].fill.timestamp
    span = when(first) if first == last else f"{when(first)} to {when(last)}"
    lines.append(f"at {span}")
    title = f"{APP}: {len(notices)} fills ({buys} buys, {len(notices) - buys} sells)"
    return Message(title, "\n".join(lines), Level.INFO)
