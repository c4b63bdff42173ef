"""The exchange's assets: listing venue, status and the tradable, shortable, fractionable flags.

Alpaca's ``/v2/assets`` tells a client where a symbol is listed and what it may do with it. The
exchange reports, for the symbols it knows the listing of (the seed's 31 and IBM), the venue
Alpaca reports (ETFs on ``ARCA``) with every flag true as Alpaca shows them for these liquid
names; any other symbol is listed on ``NYSE``, tradable and shortable but not fractionable (the
exchange cannot know). ``--inactive SYM`` marks a symbol ``inactive`` and not tradable, as Alpaca
shows a delisted or renamed ticker (Barrick's ``GOLD`` became ``B`` in 2025). The exchange fills
whole shares only, whatever ``fractionable`` says.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from fleece.exchange.orders import asset_id

_NASDAQ = "NASDAQ"
_ARCA = "ARCA"
_NYSE = "NYSE"
#: Listing venues of the symbols the exchange knows, as Alpaca's assets answer them.
LISTINGS: dict[str, str] = {
    **dict.fromkeys(
        ("AAPL", "MSFT", "GOOGL", "NVDA", "QQQ", "TSLA", "AMD", "AMZN", "META", "NFLX"), _NASDAQ
    ),
    **dict.fromkeys(("COIN", "MSTR", "PAAS"), _NASDAQ),
    **dict.fromkeys(("SPY", "IWM", "EEM", "GLD", "TLT", "USO", "SLV", "ARKK"), _ARCA),
    **dict.fromkeys(
        ("UBER", "RTX", "LMT", "NOC", "BA", "GD", "GOLD", "HL", "SCCO", "FCX", "IBM"), _NYSE
    ),
}


@dataclass(frozen=True, slots=True)
class Asset:
    """One US equity as ``GET /v2/assets/{symbol}`` describes it."""

    symbol: str
    exchange: str
    active: bool
    shortable: bool
    fractionable: bool

    @property
    def tradable(self) -> bool:
        """An inactive asset cannot be traded."""
        return self.active

    @property
    def id(self) -> str:
        """The stable asset id."""
        return asset_id(self.symbol)


class AssetBook:
    """The assets of the exchange's symbols.

    Args:
        symbols: the symbols the exchange has bars for.
        inactive: symbols to report as inactive (not tradable).
    """

    def __init__(self, symbols: Iterable[str], inactive: Iterable[str] = ()) -> None:
        off = {s.upper() for s in inactive}
        self._assets = {s: _asset(s, s not in off) for s in sorted(symbols)}

    def get(self, symbol: str) -> Asset | None:
        """The asset of ``symbol``, or None when the exchange does not list it."""
        return self._assets.get(symbol)

    def all(self) -> list[Asset]:
        """Every asset, by symbol."""
        return list(self._assets.values())

    @property
    def inactive(self) -> list[str]:
        """Symbols reported as inactive."""
        return [a.symbol for a in self._assets.values() if not a.active]


def _asset(symbol: str, active: bool) -> Asset:
    listing = LISTINGS.get(symbol)
    return Asset(
        symbol=symbol,
        exchange=listing or _NYSE,
        active=active,
        shortable=True,
        fractionable=listing is not None,
    )
