"""What the page says, worded here: the page only places these texts (``textContent``).

Every phrase is built from :mod:`fleece.notify.messages`, the wording ``fleece status``,
Telegram and the notifications use, so the page reads as they do; the page words nothing in
JavaScript. The page polls every two seconds, so a countdown worded here is at most one poll old.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from fleece.notify.messages import duration_text, money, percent_text, price_text, when

if TYPE_CHECKING:
    from fleece.holdings import Holding
    from fleece.models import Fill
    from fleece.read_model import BotSnapshot, OpenOrder


def _until(now: datetime, then: datetime | None) -> str:
    return "unknown" if then is None else duration_text((then - now).total_seconds())


def market_text(
    now: datetime, is_open: bool, next_open: datetime | None, next_close: datetime | None
) -> str:
    """The market chip: "market open · closes in 2 h 5 min" or "market closed · opens in ..."."""
    if is_open:
        return f"market open · closes in {_until(now, next_close)}"
    return f"market closed · opens in {_until(now, next_open)}"


def age_text(what: str, age_seconds: float | None) -> str:
    """An age on a chip: "last bar 45 s ago", or "last bar none yet"."""
    return f"{what} none yet" if age_seconds is None else f"{what} {duration_text(age_seconds)} ago"


def account_text(a: BotSnapshot, daily_loss_pct: float) -> dict[str, str]:
    """The account card's figures in words, by field name."""
    return {
        "equity": money(a.equity),
        "cash": money(a.cash),
        "buying_power": money(a.buying_power),
        "pnl_today": money(a.pnl_today, signed=True),
        "pnl_today_pct": percent_text(a.pnl_today_pct, signed=True),
        "realised_pnl": money(a.realised_pnl, signed=True),
        "daily_loss_pct": percent_text(daily_loss_pct),
        "max_daily_loss_pct": percent_text(a.max_daily_loss_pct),
    }


def position_text(h: Holding) -> dict[str, str]:
    """A position's figures in words, by the API's field names."""
    return {
        "avg_cost": price_text(h.avg_cost),
        "last_price": price_text(h.last_price),
        "market_value": money(h.market_value),
        "unrealized_pl": money(h.unrealised, signed=True),
        "unrealized_pl_pct": percent_text(h.unrealised_pct, signed=True),
    }


def fill_text(fill: Fill, value: float) -> dict[str, str]:
    """A fill's time, price and value in words."""
    return {
        "timestamp": when(fill.timestamp, seconds=True),
        "price": price_text(fill.price),
        "value": money(value),
    }


def order_text(order: OpenOrder) -> dict[str, str]:
    """An open order's time in words."""
    return {"created_at": when(order.created_at, seconds=True)}
