"""The answers to ``/status``, ``/positions`` and ``/daily``, read from the running bot.

They run on the bot's event loop (Telegram's handlers do), so they read the trader's objects
between its steps, like the dashboard does; the store gives what the trader does not hold.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fleece.accounting import realised_pnl
from fleece.models import to_ticks
from fleece.notify.messages import money, render, when
from fleece.notify.reports import daily_summary
from fleece.trader import session_date

if TYPE_CHECKING:
    from fleece.runtime import Bot

HELP = (
    "/status: trading state, equity, today's P&L\n"
    "/positions: open positions with unrealised P&L\n"
    "/halt [reason]: no new orders until /resume\n"
    "/resume: lift the kill switch\n"
    "/flatten: close the bot's positions now (cancels open orders first)\n"
    "/daily: today's summary"
)


def status_text(bot: Bot) -> str:
    """Mode, trading state, equity, today's P&L, positions and orders."""
    assert bot.trader is not None and bot.store is not None
    trader, store = bot.trader, bot.store
    now = bot.clock.now()
    state, why = trader.state
    day = session_date(now)
    account = trader.account
    start = store.start_equity(day)
    pnl = account.equity - start if account is not None and start else None
    kill, kill_why = store.kill_switch()
    breaker = "TRIPPED" if trader.breaker.tripped else "ok"
    limits = bot.config.trading.risk
    lines = [
        f"alpaca-fleece ({bot.config.settings.fleece_mode}) at {when(now)}",
        f"state {state.value}{f' ({why})' if why else ''}",
        f"kill switch {'on (' + kill_why + ')' if kill else 'off'} · circuit breaker {breaker}",
        f"equity {money(account.equity if account else None)} · "
        f"today P&L {money(pnl, signed=True)}",
        f"positions {len(trader.portfolio.qty)} · open orders {len(store.unfinished_intents())}"
        f" · orders today {store.trades_submitted(day)}/{limits.max_trades_per_day}",
    ]
    return "\n".join(lines)


def positions_text(bot: Bot) -> str:
    """One line per position: quantity, average cost, last price, unrealised P&L."""
    assert bot.trader is not None and bot.store is not None
    held = bot.trader.portfolio.qty
    if not held:
        return "no open positions"
    book = realised_pnl(bot.store.fills())
    lines = []
    for symbol, qty in sorted(held.items()):
        line = f"{symbol} {qty}"
        own = book.positions.get(symbol)
        last = bot.trader.last_price.get(symbol)
        if own is not None:
            line += f" @ avg {own.cost_cents / own.qty / 100:,.4f}"
        if last is not None:
            line += f" · last {last:,.4f}"
        if own is not None and own.qty == qty and last is not None:
            unrealised = own.unrealised_cents(to_ticks(last)) / 100
            line += f" · {money(unrealised, signed=True)}"
        lines.append(line)
    return "\n".join(lines)


def daily_text(bot: Bot) -> str:
    """Today's summary, worded like the notification sent after the close."""
    assert bot.trader is not None and bot.store is not None
    account = bot.trader.account
    summary = daily_summary(
        bot.store,
        session_date(bot.clock.now()),
        equity=account.equity if account else None,
        positions=len(bot.trader.portfolio.qty),
    )
    message = render(summary)
    return f"{message.title}\n{message.body}"
