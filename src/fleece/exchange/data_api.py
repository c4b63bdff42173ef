"""Market Data API v2 routes: minute bars, one symbol or many, paginated like Alpaca.

NO LOOK-AHEAD: every answer is cut at the simulated now, so a bar is served only once its
minute has finished (``bar start + 1 min <= now``), whatever ``end`` the client asked for.

Feeds: ``feed=iex`` serves the IEX tape, ``feed=sip`` the consolidated one, ``delayed_sip`` the
consolidated tape up to 15 minutes ago; without ``feed`` the best the plan allows (``iex`` on
``free``, ``sip`` on ``unlimited``). On the free plan a ``sip`` request whose end is within 15
minutes of the simulated now is refused as Alpaca refuses it: 403 ``subscription does not permit
querying recent SIP data``. See :mod:`fleece.exchange.sim` for the plans and tapes.

Pagination: symbols are served in alphabetical order, each symbol's bars in time order (or
reversed with ``sort=desc``); ``limit`` counts bars across all symbols of a page, and the
``next_page_token`` names the symbol and bar start to resume from.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from fleece.calendar import day_start, session_date
from fleece.exchange.market import BarStore
from fleece.exchange.orders import CODE_FORBIDDEN, CODE_UNPROCESSABLE, ExchangeError
from fleece.exchange.params import RawQuery, parse_time, shown
from fleece.exchange.schemas import bar_json
from fleece.exchange.sim import SIP_DELAY, SimExchange
from fleece.models import FEEDS, Bar

DEFAULT_LIMIT = 1000
MAX_LIMIT = 10_000
TIMEFRAMES = frozenset({"1Min", "1T"})
RECENT_SIP_REFUSED = "subscription does not permit querying recent SIP data"


class BarsQuery(RawQuery):
    """The query of both bars routes, checked by :func:`data_router`."""

    timeframe: str | None = None
    start: str | None = None
    end: str | None = None
    limit: str | None = None
    page_token: str | None = None
    sort: str | None = None
    feed: str | None = None
    adjustment: str | None = None  # accepted as alpaca-py sends it; the bars are never adjusted


class ManyBarsQuery(BarsQuery):
    """The query of ``/v2/stocks/bars``: the bars query and the comma-separated symbols."""

    symbols: str


def _refuse(message: str) -> ExchangeError:
    return ExchangeError(422, CODE_UNPROCESSABLE, message)


def encode_token(symbol: str, ts: datetime) -> str:
    """The page token resuming at ``symbol``'s bar starting at ``ts``."""
    return base64.urlsafe_b64encode(f"{symbol}|{ts.isoformat()}".encode()).decode()


def decode_token(token: str) -> tuple[str, datetime]:
    """The symbol and bar start a page token resumes at (422 if it is not one of ours)."""
    try:
        symbol, _, stamp = base64.urlsafe_b64decode(token.encode()).decode().partition("|")
        resume = datetime.fromisoformat(stamp)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise _refuse("invalid page_token") from None
    if resume.tzinfo is None:  # ours always carry one; a naive time cannot be compared
        raise _refuse("invalid page_token")
    return symbol, resume


def tape_for(
    exchange: SimExchange, feed: str | None, end: datetime, now: datetime
) -> tuple[BarStore, datetime]:
    """The tape ``feed`` reads on the exchange's plan, and the end it may read up to.

    Raises:
        ExchangeError: 403 for recent SIP data on the free plan; 422 for an unknown feed.
    """
    wanted = feed or exchange.default_feed()
    if wanted == "delayed_sip":
        return exchange.tapes["sip"], min(end, now - SIP_DELAY)
    if wanted not in exchange.tapes:
        served = ", ".join((*FEEDS, "delayed_sip"))
        raise _refuse(f"invalid feed {feed!r}: the built-in exchange serves {served}")
    if wanted == "sip" and exchange.plan == "free" and end > now - SIP_DELAY:
        raise ExchangeError(403, CODE_FORBIDDEN, RECENT_SIP_REFUSED)
    return exchange.tapes[wanted], end


def page_of_bars(
    store: BarStore,
    symbols: Sequence[str],
    *,
    start: datetime,
    end: datetime,
    now: datetime,
    limit: int,
    descending: bool = False,
    token: str | None = None,
    published: Callable[[Bar, datetime], bool] | None = None,
) -> tuple[dict[str, list[Bar]], str | None]:
    """One page of closed bars for ``symbols`` and the token of the next page (or None).

    ``published`` leaves out bars not published yet at ``now`` (a late re-issue).
    """
    resume = decode_token(token) if token else None
    page: dict[str, list[Bar]] = {}
    room = limit
    for symbol in sorted(set(symbols)):
        lo, hi = start, end
        if resume is not None:
            if symbol < resume[0]:
                continue
            if symbol == resume[0]:
                lo, hi = (lo, min(hi, resume[1])) if descending else (max(lo, resume[1]), hi)
        bars = store.closed_range(symbol, lo, hi, now)
        if published is not None:
            bars = [b for b in bars if published(b, now)]
        if descending:
            bars = bars[::-1]
        if room == 0:
            if bars:
                return page, encode_token(symbol, bars[0].timestamp)
            continue
        taken = list(bars[:room])
        if taken:
            page[symbol] = taken
            room -= len(taken)
        if len(bars) > len(taken):
            return page, encode_token(symbol, bars[len(taken)].timestamp)
    return page, None


def data_router(exchange: SimExchange) -> APIRouter:
    """The market-data routes over ``exchange``'s bars."""
    router = APIRouter()

    def serve(symbols: list[str], query: BarsQuery) -> tuple[dict[str, list[Bar]], str | None]:
        if query.timeframe not in TIMEFRAMES:
            raise _refuse(
                f"unsupported timeframe {shown(query.timeframe)}: the built-in exchange serves 1Min"
            )
        limit = _limit(query.limit)
        sort = query.sort or "asc"
        if sort not in {"asc", "desc"}:
            raise _refuse(f"invalid sort {shown(sort)}")
        with exchange.synced() as now:
            start = _time(query.start, "start") if query.start else _midnight(now)
            end = _time(query.end, "end") if query.end else now
            store, end = tape_for(exchange, query.feed, end, now)
            return page_of_bars(
                store,
                symbols,
                start=start,
                end=end,
                now=now,
                limit=limit,
                descending=sort == "desc",
                token=query.page_token or None,
                published=exchange.published if exchange.late_bars else None,
            )

    @router.get("/v2/stocks/bars")
    def get_bars(query: Annotated[ManyBarsQuery, Query()]) -> JSONResponse:
        wanted = [s.strip().upper() for s in query.symbols.split(",") if s.strip()]
        page, token = serve(wanted, query)
        bars = {symbol: [bar_json(b) for b in series] for symbol, series in page.items()}
        return JSONResponse({"bars": bars, "next_page_token": token, "currency": "USD"})

    @router.get("/v2/stocks/{symbol}/bars")
    def get_symbol_bars(symbol: str, query: Annotated[BarsQuery, Query()]) -> JSONResponse:
        wanted = symbol.strip().upper()
        page, token = serve([wanted], query)
        body: dict[str, Any] = {"bars": [bar_json(b) for b in page.get(wanted, [])]}
        body |= {"symbol": wanted, "next_page_token": token, "currency": "USD"}
        return JSONResponse(body)

    return router


def _limit(value: str | None) -> int:
    if value is None or value == "":
        return DEFAULT_LIMIT
    try:
        limit = int(value)
    except ValueError:
        raise _refuse(f"invalid limit {shown(value)}") from None
    if not 1 <= limit <= MAX_LIMIT:
        raise _refuse(f"limit must be between 1 and {MAX_LIMIT}")
    return limit


def _time(value: str, name: str) -> datetime:
    return parse_time(value, name, CODE_UNPROCESSABLE)


def _midnight(now: datetime) -> datetime:
    # Alpaca's default start: the beginning of the current day (New York).
    return day_start(session_date(now))
