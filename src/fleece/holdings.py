"""The bot's holdings as every viewer shows them, and the stored bars that price them.

A holding is valued by the one accounting rule (:mod:`fleece.accounting`) at the last price
seen: the running bot's, else the latest bar its store holds, looked for near ``now`` first.
:func:`~fleece.read_model.build_snapshot` puts them in the read model.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Protocol

from fleece.accounting import PnL, cents_of
from fleece.models import Bar, to_ticks

if TYPE_CHECKING:
    from fleece.state_store import StateStore

FAR_FUTURE = datetime(9999, 1, 1, tzinfo=UTC)
FAR_PAST = datetime(1970, 1, 1, tzinfo=UTC)
# Where the latest stored bar is looked for first: recent minutes, then a long weekend, then
# a month; all of history only as a last resort (the bars table is indexed by time).
_BAR_WINDOWS = (timedelta(minutes=10), timedelta(days=4), timedelta(days=31))


@dataclass(frozen=True, slots=True)
class Holding:
    """A position, valued at the last price seen, with its average cost from our fills.

    ``avg_cost`` is None when the holding is not (only) ours: the fills do not explain it.
    """

    symbol: str
    qty: int
    avg_cost: float | None
    last_price: float | None
    last_price_at: datetime | None
    market_value: float | None
    unrealised: float | None
    unrealised_pct: float | None


class LiveHoldings(Protocol):
    """What the running bot holds in memory that its holdings are valued by
    (:class:`~fleece.read_model.LiveFacts`)."""

    @property
    def holdings(self) -> Mapping[str, int]: ...

    @property
    def last_prices(self) -> Mapping[str, float]: ...


def valued_holdings(
    store: StateStore, ledger: PnL, now: datetime, live: LiveHoldings | None
) -> tuple[Holding, ...]:
    """The holdings a snapshot shows: the running bot's (``live``), else what our fills leave."""
    held = dict(live.holdings) if live is not None else dict(ledger.open_qty)
    out = []
    for symbol in sorted(held):
        qty = held[symbol]
        if not qty:
            continue
        # Valued by the one accounting rule (fleece.accounting): market value and unrealised
        # P&L in cents; the average cost only when our fills explain the whole holding, and
        # then the average entry price as the broker reports it (the basis over the shares can
        # differ from it below a cent).
        own = ledger.positions.get(symbol)
        mine = own if own is not None and own.qty == qty else None
        cost = mine.cost_cents / 100 if mine is not None else None
        price, price_at = _last_price(store, symbol, now, live)
        mark = to_ticks(price) if price is not None else None
        value = cents_of(mark, qty) / 100 if mark is not None else None
        pl = mine.unrealised_cents(mark) / 100 if mine is not None and mark is not None else None
        out.append(
            Holding(
                symbol=symbol,
                qty=qty,
                avg_cost=float(round(mine.avg_entry, 4)) if mine is not None else None,
                last_price=price,
                last_price_at=price_at,
                market_value=value,
                unrealised=pl,
                unrealised_pct=pl / cost if pl is not None and cost else None,
            )
        )
    return tuple(out)


def _last_price(
    store: StateStore, symbol: str, now: datetime, live: LiveHoldings | None
) -> tuple[float | None, datetime | None]:
    if live is not None and symbol in live.last_prices:
        return live.last_prices[symbol], None
    bar = latest_bar(store, symbol, now)
    return (bar.close, bar.timestamp) if bar is not None else (None, None)


def latest_bar(store: StateStore, symbol: str | None, now: datetime) -> Bar | None:
    """The newest stored bar of ``symbol`` (of any symbol when None), looked for near ``now``."""
    for window in _BAR_WINDOWS:
        found = store.bars_between(symbol, now - window, FAR_FUTURE)
        if found:
            return found[-1]
    found = store.bars_between(symbol, FAR_PAST, FAR_FUTURE) if symbol is not None else []
    return found[-1] if found else None


def latest_bar_at(store: StateStore, now: datetime) -> datetime | None:
    """The minute of the newest stored bar of any symbol, looked for in the days before ``now``."""
    # Any symbol: only the recent windows (all of history for every symbol is too much to read).
    for window in _BAR_WINDOWS[:2]:
        found = store.bars_between(None, now - window, now + timedelta(minutes=1))
        if found:
            return found[-1].timestamp
    return None
