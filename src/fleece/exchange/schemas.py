"""Alpaca's JSON shapes: what each answer of the exchange looks like on the wire.

Every shape satisfies both alpaca-py 0.44's models and the OpenAPI spec where they agree
(money and prices as strings, ``notional`` present and null, calendar ``open``/``close`` as
``"HH:MM"``, the asset's class under the key ``class``). Where they disagree, see SOURCE.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from fleece.accounting import cents_text as money
from fleece.calendar import NEW_YORK, MarketCalendar, Session, session_date
from fleece.data.iex import estimated_trades, estimated_vwap
from fleece.exchange.assets import Asset
from fleece.exchange.ledger import AccountView, PositionView
from fleece.exchange.orders import SimOrder, asset_id
from fleece.models import MAX_CLIENT_ORDER_ID, Bar
from fleece.prices import TICK

Json = dict[str, Any]
_RATIO = Decimal("0.000001")


def rfc3339(ts: datetime) -> str:
    """``ts`` in UTC as RFC 3339 with a ``Z`` (microseconds only when there are any)."""
    return ts.astimezone(UTC).isoformat().replace("+00:00", "Z")


def price(value: float | Decimal) -> str:
    """A price with at most 4 decimals and no trailing zeros, e.g. ``"167.43"``."""
    exact = Decimal(str(value)) if isinstance(value, float) else value
    text = format(exact.quantize(TICK, rounding=ROUND_HALF_UP), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def ratio(numerator: Decimal | int, denominator: Decimal | int) -> str:
    """``numerator / denominator`` with 6 decimals (``"0"`` when the denominator is 0)."""
    if denominator == 0:
        return "0"
    return str((Decimal(numerator) / Decimal(denominator)).quantize(_RATIO, ROUND_HALF_UP))


def error_body(code: int, message: str) -> Json:
    """Alpaca's error body."""
    return {"code": code, "message": message}


def order_json(order: SimOrder, legs: Sequence[SimOrder] | None = None) -> Json:
    """An order as ``GET /v2/orders/{id}`` answers it; ``legs``: its legs, nested (a bracket's
    take-profit and stop-loss, an OCO's stop-loss), or null."""
    return {
        "id": order.id,
        "client_order_id": order.client_order_id,
        "created_at": rfc3339(order.submitted_at),
        "updated_at": rfc3339(order.updated_at),
        "submitted_at": rfc3339(order.submitted_at),
        "filled_at": _maybe_time(order.filled_at),
        "expired_at": _maybe_time(order.expired_at),
        # The spec types expires_at as a non-nullable string, so gtc orders simply omit it.
        **({"expires_at": rfc3339(order.expires_at)} if order.expires_at else {}),
        "canceled_at": _maybe_time(order.canceled_at),
        "failed_at": None,
        "replaced_at": _maybe_time(order.replaced_at),
        "replaced_by": order.replaced_by,
        "replaces": order.replaces,
        "asset_id": asset_id(order.symbol),
        "symbol": order.symbol,
        "asset_class": "us_equity",
        "notional": None,
        "qty": str(order.qty),
        "filled_qty": str(order.filled_qty),
        "filled_avg_price": (
            price(order.filled_avg_price) if order.filled_avg_price is not None else None
        ),
        "order_class": order.order_class.value,
        "order_type": order.type.value,
        "type": order.type.value,
        "side": order.side.value,
        "time_in_force": order.time_in_force.value,
        "limit_price": _maybe_price(order.limit_price),
        "stop_price": _maybe_price(order.stop_price),
        "status": order.status.value,
        "extended_hours": False,
        "legs": [order_json(leg) for leg in legs] if legs else None,
        "trail_percent": _maybe_price(order.trail_percent),
        "trail_price": _maybe_price(order.trail_price),
        "hwm": _maybe_price(order.hwm),
    }


def _maybe_price(value: float | None) -> str | None:
    return price(value) if value is not None else None


def _maybe_time(ts: datetime | None) -> str | None:
    return rfc3339(ts) if ts is not None else None


def position_json(view: PositionView, exchange: str) -> Json:
    """A position (long, or short with negative quantities and values) as Alpaca answers it.

    Args:
        view: the position.
        exchange: the asset's listing venue.
    """
    lastday = Decimal(str(view.lastday_price))
    values = {
        "avg_entry_price": price(view.avg_entry_price),
        "market_value": money(view.market_value_cents),
        "cost_basis": money(view.cost_basis_cents),
        "unrealized_pl": money(view.unrealized_pl_cents),
        "unrealized_plpc": ratio(view.unrealized_pl_cents, view.cost_basis_cents),
        "unrealized_intraday_pl": money(view.unrealized_intraday_pl_cents),
        "unrealized_intraday_plpc": ratio(view.unrealized_intraday_pl_cents, view.day_basis_cents),
        "current_price": price(view.current_price),
        "lastday_price": price(view.lastday_price),
        "change_today": ratio(Decimal(str(view.current_price)) - lastday, lastday),
    }
    return {
        "asset_id": asset_id(view.symbol),
        "symbol": view.symbol,
        "exchange": exchange,
        "asset_class": "us_equity",
        "asset_marginable": True,
        "qty": str(view.qty),
        "qty_available": str(view.qty_available),
        "side": view.side,
        **values,
    }


def account_json(
    view: AccountView, *, account_id: str, account_number: str, created_at: datetime, now: datetime
) -> Json:
    """The margin account as ``GET /v2/account`` answers it (see :mod:`fleece.exchange.ledger`).

    PDT-era fields (``daytrade_count``, ``daytrading_buying_power``, ``pattern_day_trader``) are
    served as a paper account still shows them: zero and false.
    """
    buying_power = money(view.buying_power_cents)
    return {
        "id": account_id,
        "account_number": account_number,
        "status": "ACTIVE",
        "currency": "USD",
        "cash": money(view.cash_cents),
        "equity": money(view.equity_cents),
        "portfolio_value": money(view.equity_cents),
        "last_equity": money(view.last_equity_cents),
        "long_market_value": money(view.long_market_value_cents),
        "short_market_value": money(view.short_market_value_cents),
        "position_market_value": money(view.gross_exposure_cents),
        "buying_power": buying_power,
        "regt_buying_power": buying_power,
        "non_marginable_buying_power": money(max(0, min(view.cash_cents, view.buying_power_cents))),
        "options_buying_power": money(max(0, min(view.cash_cents, view.buying_power_cents))),
        "daytrading_buying_power": "0.00",
        "initial_margin": money(view.initial_margin_cents),
        "maintenance_margin": money(view.maintenance_margin_cents),
        "last_maintenance_margin": money(view.maintenance_margin_cents),
        "sma": "0.00",
        "accrued_fees": "0.00",
        "pending_transfer_in": "0.00",
        "pending_transfer_out": "0.00",
        "multiplier": str(view.multiplier),
        "shorting_enabled": view.shorting_enabled,
        "pattern_day_trader": False,
        "daytrade_count": 0,
        "trading_blocked": False,
        "transfers_blocked": False,
        "account_blocked": False,
        "trade_suspended_by_user": False,
        "options_approved_level": 0,
        "options_trading_level": 0,
        "created_at": rfc3339(created_at),
        "balance_asof": session_date(now).isoformat(),
    }


def clock_json(now: datetime, calendar: MarketCalendar) -> Json:
    """The market clock, in New York time as Alpaca serves it."""
    return {
        "timestamp": now.astimezone(NEW_YORK).isoformat(),
        "is_open": calendar.is_open(now),
        "next_open": calendar.next_open(now).astimezone(NEW_YORK).isoformat(),
        "next_close": calendar.next_close(now).astimezone(NEW_YORK).isoformat(),
    }


def calendar_json(session: Session, settlement: date) -> Json:
    """One trading day of ``GET /v2/calendar`` (extended session 04:00 to close + 4 h)."""
    opened, closed = session.open.astimezone(NEW_YORK), session.close.astimezone(NEW_YORK)
    return {
        "date": session.day.isoformat(),
        "open": opened.strftime("%H:%M"),
        "close": closed.strftime("%H:%M"),
        "session_open": "0400",
        "session_close": f"{closed.hour + 4:02d}{closed.minute:02d}",
        "settlement_date": settlement.isoformat(),
    }


def asset_json(asset: Asset) -> Json:
    """A US equity as ``GET /v2/assets/{symbol}`` answers it (see :mod:`fleece.exchange.assets`)."""
    return {
        "id": asset.id,
        "class": "us_equity",
        "exchange": asset.exchange,
        "symbol": asset.symbol,
        "name": f"{asset.symbol} (built-in exchange)",
        "status": "active" if asset.active else "inactive",
        "tradable": asset.tradable,
        "marginable": asset.tradable,
        "shortable": asset.shortable,
        "easy_to_borrow": asset.shortable,
        "fractionable": asset.fractionable,
        "attributes": [],
    }


def bar_json(bar: Bar) -> Json:
    """A minute bar in the market-data API's short keys.

    ``n`` and ``vw`` are always numbers, as Alpaca serves them: a bar recorded without them gets
    its volume over an average trade size and its typical price (see :mod:`fleece.data.iex`).
    """
    return {
        "t": rfc3339(bar.timestamp),
        "o": bar.open,
        "h": bar.high,
        "l": bar.low,
        "c": bar.close,
        "v": bar.volume,
        "n": estimated_trades(bar),
        "vw": estimated_vwap(bar),
    }


_TEXT_OR_NUMBER: Json = {"anyOf": [{"type": "string"}, {"type": "number"}]}
#: ``POST /v2/orders``'s body as Alpaca's spec describes it, for the exchange's own OpenAPI (so a
#: fuzzer sends real order fields). The route reads the body itself and answers 422 for anything
#: it cannot fill; see :func:`fleece.exchange.trading_api.order_request`.
ORDER_REQUEST_BODY: Json = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "required": ["symbol", "side", "type", "time_in_force"],
                "properties": {
                    "symbol": {"type": "string"},
                    "qty": _TEXT_OR_NUMBER,
                    "notional": _TEXT_OR_NUMBER,
                    "side": {"type": "string", "enum": ["buy", "sell"]},
                    "type": {
                        "type": "string",
                        "enum": ["market", "limit", "stop", "stop_limit", "trailing_stop"],
                    },
                    "time_in_force": {
                        "type": "string",
                        "enum": ["day", "gtc", "opg", "cls", "ioc", "fok"],
                    },
                    "limit_price": _TEXT_OR_NUMBER,
                    "stop_price": _TEXT_OR_NUMBER,
                    "extended_hours": {"type": "boolean"},
                    "client_order_id": {"type": "string", "maxLength": MAX_CLIENT_ORDER_ID},
                    "order_class": {
                        "type": "string",
                        "enum": ["simple", "bracket", "oco", "oto", ""],
                    },
                    "trail_price": _TEXT_OR_NUMBER,
                    "trail_percent": _TEXT_OR_NUMBER,
                    "take_profit": {
                        "type": "object",
                        "properties": {"limit_price": _TEXT_OR_NUMBER},
                    },
                    "stop_loss": {
                        "type": "object",
                        "properties": {
                            "stop_price": _TEXT_OR_NUMBER,
                            "limit_price": _TEXT_OR_NUMBER,
                        },
                    },
                },
            }
        }
    },
}
