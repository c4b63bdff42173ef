"""The dashboard's JSON answers: pydantic models, so FastAPI documents them in its OpenAPI schema.

Times are UTC instants (ISO 8601 with ``Z``); the page shows them in New York time. Money is in
dollars, fractions (``*_pct``) are fractions of 1 (0.05 is 5%). None means "not known yet".
Nothing here ever carries a secret: no API key, no token, no setting beyond the ones listed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from fleece.models import Side, TradingState
from fleece.read_model import OpenOrder

_FROZEN = ConfigDict(frozen=True)


class RunInfo(BaseModel):
    """The latest start of the bot recorded in the store."""

    model_config = _FROZEN
    started_at: datetime
    stopped_at: datetime | None = Field(description="None while running (or after a crash)")
    mode: str
    exit_reason: str | None


class Status(BaseModel):
    """The status bar: what the bot is doing and whether its data is fresh."""

    model_config = _FROZEN
    mode: str = Field(description="paper or sim")
    running: bool = Field(description="a bot runs in this process (False: a stopped bot's store)")
    now: datetime = Field(description="the bot's clock: simulated in sim mode")
    simulated_time: bool
    session_date: date = Field(description="the New York session date the figures refer to")
    state: TradingState
    state_reason: str = Field(description="kill_switch, circuit_breaker, daily_loss_limit or ''")
    kill_switch: bool
    kill_switch_reason: str
    circuit_breaker_tripped: bool
    circuit_breaker_failures: int = Field(description="consecutive order failures")
    dry_run: bool
    market_open: bool
    next_open: datetime | None
    next_close: datetime | None
    last_bar_at: datetime | None = Field(description="start of the newest bar received")
    last_bar_age_seconds: float | None = Field(description="since that bar closed")
    stale_after_seconds: float = Field(
        description="bot-clock seconds after which data counts as stale (as /healthz judges)"
    )
    last_poll_at: datetime | None = Field(description="last successful poll")
    last_heartbeat_at: datetime | None
    last_heartbeat_age_seconds: float | None
    controls_enabled: bool = Field(description="Halt/Resume accepted (DASHBOARD_TOKEN is set)")
    symbols: list[str]
    dropped_symbols: dict[str, str] = Field(
        default_factory=dict, description="configured symbols the broker would not trade, and why"
    )
    run: RunInfo | None
    # The page shows these as they are (fleece.notify.messages wording, as fleece status and
    # Telegram show the same facts); it words nothing itself.
    state_text: str = Field(description='the trading state and why: "HALTED (kill_switch)"')
    kill_switch_text: str = Field(description='"on (reason)" or "off"')
    market_text: str = Field(
        description='"market open · closes in 2 h 5 min" or "market closed · opens in ..."'
    )
    last_bar_text: str = Field(description='"last bar 45 s ago"')
    last_bar_stale: bool = Field(
        description="the last bar is older than stale_after_seconds while the market is open"
    )
    heartbeat_text: str = Field(description='"heartbeat 45 s ago"')
    now_text: str = Field(description='the bot\'s clock in New York: "2024-11-26 10:00:05 ET"')
    run_text: str = Field(description='how the latest run ended: "stopped ... (reason)"')
    dropped_text: str = Field(description='"GOLD (not tradable)", comma separated; "" if none')


class Account(BaseModel):
    """Equity, today's P&L and how close the day is to the risk limits."""

    model_config = _FROZEN
    as_of: datetime | None
    session_date: date
    equity: float | None
    cash: float | None
    buying_power: float | None = Field(description="None when read from a stopped bot's store")
    start_equity: float | None = Field(description="equity at the session's start")
    pnl_today: float | None
    pnl_today_pct: float | None
    realised_pnl: float = Field(description="all fills in the store, average-cost method")
    trades_today: int = Field(description="orders submitted this session")
    max_trades_per_day: int
    daily_loss_pct: float = Field(description="fraction of start equity lost today (0 if up)")
    max_daily_loss_pct: float
    stop_outs: int = Field(
        0, description="protective stops (fixed or trailing) that sold, all time"
    )
    take_profits: int = Field(0, description="protective take-profits that sold, all time")
    text: dict[str, str] = Field(
        default_factory=dict,
        description="figures above as fleece status and Telegram word them, by field name",
    )


class PositionOut(BaseModel):
    """One open position, valued at the last price the bot saw."""

    model_config = _FROZEN
    symbol: str
    qty: int
    avg_cost: float | None = Field(
        description="average entry price of our fills, as Alpaca reports it; None if unknown"
    )
    last_price: float | None
    market_value: float | None
    unrealized_pl: float | None
    unrealized_pl_pct: float | None
    text: dict[str, str] = Field(
        default_factory=dict,
        description="figures above as fleece status and Telegram word them, by field name",
    )


@dataclass(frozen=True, slots=True)
class OrderOut(OpenOrder):
    """An order intent the broker may still act on."""

    # The read model's frozen dataclass, served with its times in words: its fields are
    # declared once, there.
    text: dict[str, str] = field(default_factory=dict)


class FillOut(BaseModel):
    """One execution, as recorded in ``trades``."""

    model_config = _FROZEN
    timestamp: datetime
    symbol: str
    side: Side
    qty: int
    price: float
    value: float
    client_order_id: str
    text: dict[str, str] = Field(
        default_factory=dict,
        description="figures above as fleece status and Telegram word them, by field name",
    )


class EquitySeries(BaseModel):
    """The equity curve, oldest first (all time is thinned to at most ``max_points``)."""

    model_config = _FROZEN
    range: Literal["today", "all"]
    max_points: int
    t: list[datetime]
    equity: list[float]
    cash: list[float]


class RefusalOut(BaseModel):
    """A signal the risk manager refused."""

    model_config = _FROZEN
    timestamp: datetime
    symbol: str
    side: Side
    reason: str
    detail: str


class Refusals(BaseModel):
    """Refusals by reason, today and since the store began, and the latest ones."""

    model_config = _FROZEN
    session_date: date
    today: dict[str, int]
    total: dict[str, int]
    recent: list[RefusalOut]


class Marker(BaseModel):
    """An entry (buy) or exit (sell) fill on the price chart."""

    model_config = _FROZEN
    t: datetime
    side: Side
    price: float
    qty: int
    text: str = Field("", description='the fill in words: "BUY 10 SPY @ 101.2500"')


class BarSeries(BaseModel):
    """One symbol's minutes of a session on the grid, with the strategy's indicators.

    A minute without a bar repeats the last close (``carried``), as the strategy met it; the
    indicators are the strategy's own (None where undefined).
    """

    model_config = _FROZEN
    symbol: str
    session_date: date | None
    strategy: str = Field(description="the configured strategy's name")
    t: list[datetime]
    open: list[float]
    high: list[float]
    low: list[float]
    close: list[float]
    volume: list[int]
    carried: list[bool] = Field(description="True for a minute without a bar")
    indicators: dict[str, list[float | None]] = Field(
        description="the strategy's indicators by name, one value per minute"
    )
    markers: list[Marker]


class Health(BaseModel):
    """The answer of ``/healthz``."""

    model_config = _FROZEN
    ok: bool
    reason: str
    now: datetime | None
    market_open: bool | None
    last_poll_at: datetime | None
    last_success_at: datetime | None
