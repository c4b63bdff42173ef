"""Small builders for the exchange's specifications: bars, clocks, a served exchange."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

import httpx
from alpaca.data.historical import StockHistoricalDataClient
from alpaca.trading.client import TradingClient

from fleece.calendar import NEW_YORK, MarketCalendar
from fleece.clock import ScaledClock
from fleece.data.importer import load_bars_dir
from fleece.exchange import Engine, ExchangeServer, SimExchange
from fleece.exchange.market import BarStore
from fleece.exchange.orders import IdSource, OrderRequest, OrderType, SimOrder, TimeInForce
from fleece.models import Bar, Side

# The shared/ folder sits beside the repository root (in CI too).
SHARED_BARS = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "bars"
KEY, SECRET = "test-key-id", "test-secret-key"
AUTH = {"APCA-API-KEY-ID": KEY, "APCA-API-SECRET-KEY": SECRET}
DAY = date(2024, 1, 3)  # an ordinary Wednesday session, 09:30-16:00 New York


def ny(hhmm: str, day: date = DAY) -> datetime:
    """A New York wall-clock time on ``day``, as UTC."""
    hour, minute = map(int, hhmm.split(":")[:2])
    second = int(hhmm.split(":")[2]) if hhmm.count(":") == 2 else 0
    return datetime.combine(day, time(hour, minute, second), tzinfo=NEW_YORK).astimezone(UTC)


def bar(
    symbol: str,
    hhmm: str,
    o: float,
    h: float | None = None,
    l: float | None = None,  # noqa: E741
    c: float | None = None,
    day: date = DAY,
) -> Bar:
    """A minute bar starting at ``hhmm`` New York time; high/low/close default to the open."""
    high = h if h is not None else max(o, c or o)
    low = l if l is not None else min(o, c or o)
    return Bar(symbol, ny(hhmm, day), o, high, low, c if c is not None else o, 100)


def flat_bars(symbol: str, start: str, count: int, price: float, day: date = DAY) -> list[Bar]:
    """``count`` consecutive bars from ``start`` whose open/close walk up a cent a minute."""
    first = ny(start, day)
    bars = []
    for i in range(count):
        p = round(price + i * 0.01, 2)
        ts = first + timedelta(minutes=i)
        bars.append(Bar(symbol, ts, p, p + 0.05, p - 0.05, p + 0.01, 100))
    return bars


def scripted(
    symbol: str, start: str, rows: Sequence[tuple[float, float, float, float]], day: date = DAY
) -> list[Bar]:
    """Consecutive minute bars from ``start`` (New York), one per ``(open, high, low, close)``."""
    first = ny(start, day)
    return [
        Bar(symbol, first + timedelta(minutes=i), o, h, l, c, 1_000)
        for i, (o, h, l, c) in enumerate(rows)  # noqa: E741
    ]


def engine_over(
    bars: Mapping[str, Sequence[Bar]],
    start: datetime,
    *,
    cash: float = 100_000,
    slippage_bps: float = 0,
    seed: int = 0,
) -> Engine:
    """A pure engine over ``bars`` starting at ``start``."""
    calendar = MarketCalendar()
    return Engine(
        BarStore(bars, calendar),
        calendar,
        start=start,
        cash_cents=round(cash * 100),
        slippage_bps=slippage_bps,
        ids=IdSource(seed),
    )


def settle(engine: Engine) -> None:
    """The engine's next step at the same instant (the exchange's next request): what is due
    after an order's answer (routing, a fill at a bar that has opened) happens now."""
    engine.advance_to(engine.now)


def filled(engine: Engine, request: OrderRequest) -> SimOrder:
    """Submit ``request``, take the engine's next step, and return the order as it is then."""
    order = engine.submit(request)
    settle(engine)
    return engine.order(order.id)


def market(symbol: str, qty: int, side: Side = Side.BUY, **kw: Any) -> OrderRequest:
    """A market order request (day unless told otherwise)."""
    tif = kw.pop("tif", TimeInForce.DAY)
    return OrderRequest(symbol, qty, side, OrderType.MARKET, tif, None, **kw)


def limit(symbol: str, qty: int, price: float, side: Side = Side.BUY, **kw: Any) -> OrderRequest:
    """A limit order request (day unless told otherwise)."""
    tif = kw.pop("tif", TimeInForce.DAY)
    return OrderRequest(symbol, qty, side, OrderType.LIMIT, tif, price, **kw)


@cache
def fixture_bars() -> dict[str, list[Bar]]:
    """Real SPY and IBM minute bars, 2013-10-04..11, extended hours included."""
    return load_bars_dir(SHARED_BARS, ["SPY", "IBM"]).bars


def stepped(bars: Mapping[str, Sequence[Bar]], start: datetime, **kw: Any) -> SimExchange:
    """An exchange whose clock stands still at ``start`` until advanced."""
    return SimExchange(bars, clock=ScaledClock(start, 0), **kw)


@dataclass
class Served:
    """An exchange on a real loopback port, with the official clients pointed at it."""

    url: str
    exchange: SimExchange
    trading: TradingClient
    data: StockHistoricalDataClient
    http: httpx.Client

    def advance(self, minutes: float) -> dict[str, Any]:
        """Move the simulated clock through the admin route; return the sim state."""
        answer = self.http.post("/v1/sim/advance", json={"minutes": minutes})
        answer.raise_for_status()
        return dict(answer.json())

    def now(self) -> datetime:
        """The simulated now, read through the admin route."""
        stamp = self.http.get("/v1/sim/state").json()["now"]
        return datetime.fromisoformat(stamp.replace("Z", "+00:00"))

    def account_balances(self) -> tuple[Decimal, Decimal, Decimal]:
        """(equity, cash, sum of position market values) as exact decimals."""
        account = self.trading.get_account()
        positions = self.trading.get_all_positions()
        values = sum((Decimal(p.market_value) for p in positions), Decimal(0))
        return Decimal(account.equity), Decimal(account.cash), values


@contextmanager
def serve(exchange: SimExchange) -> Iterator[Served]:
    """Serve ``exchange`` on a free loopback port for the duration of the block."""
    with (
        ExchangeServer(exchange, KEY, SECRET) as server,
        httpx.Client(base_url=server.url, headers=AUTH, timeout=10) as http,
    ):
        url = server.url
        yield Served(
            url=url,
            exchange=exchange,
            trading=TradingClient(KEY, SECRET, paper=True, url_override=url),
            data=StockHistoricalDataClient(KEY, SECRET, url_override=url),
            http=http,
        )
