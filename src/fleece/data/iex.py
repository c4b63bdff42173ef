"""The IEX tape: which minutes of the consolidated (SIP) tape have a bar on IEX alone.

A free Alpaca account reads IEX, one venue among sixteen. A minute bar exists only if a trade
printed on that venue in that minute, so IEX bars skip minutes, and the quieter the symbol (or
the minute) the more of them. The built-in exchange takes the bars it is given as the
consolidated tape and derives the IEX tape from them with this model, seeded and deterministic.

The model, and its figures:

* **Trades in the minute.** A bar's trade count ``n`` when it has one; otherwise its volume
  divided by :data:`AVG_TRADE_SIZE` (128 shares, about the consolidated tape's average trade).
* **IEX's share.** IEX prints about :data:`IEX_TRADE_SHARE` (2.5 %) of the consolidated trades
  (Alpaca's FAQ shows about 12,600 IEX trades against about 535,000 for AAPL on one day: 2.4 %).
  ``lam = 0.025 * trades`` is the expected number of IEX trades in the minute.
* **Bursty arrivals.** Trades come in clusters, not as a Poisson stream, so the number of IEX
  trades in a minute is drawn as geometric (a negative binomial with shape 1) with mean ``lam``.
  The minute is empty on IEX with probability ``1 / (1 + lam)``: a minute expected to hold 30 IEX
  trades is empty 3 % of the time, one expected to hold 1 is empty half the time.

On the synthetic market that gives, over a session (volume is U-shaped, so midday minutes are
emptier), over three sessions of seed 0: SPY (60 M shares a day) 4 % empty minutes, AAPL 4 %,
NVDA 1 %, MSFT 7 %, ARKK 15 %, GLD 20 %, and LMT, GD, SCCO and NOC (about a million shares a
day) between 52 and 63 %.
On real consolidated bars with trade counts the same rule applies to ``n``.

Determinism: whether a minute survives is a pure function of ``(seed, symbol, bar start)`` and
the bar itself (a SHA-256 draw, not Python's salted ``hash()``), so every process, the exchange's
and a backtest's, derives the same IEX tape from the same seed and data.

An IEX bar keeps the consolidated bar's prices (the venue trades at the national best prices, and
a minute's few IEX prints are modelled at those prices) and carries IEX's share of the volume
and trades, at least 1 of each.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import timedelta

from fleece.draws import uniform
from fleece.models import Bar

#: IEX's share of the consolidated tape's trades (and volume).
IEX_TRADE_SHARE = 0.025
#: Shares per trade assumed when a bar carries no trade count.
AVG_TRADE_SIZE = 128


def estimated_trades(bar: Bar) -> int:
    """The bar's trade count, or its volume over :data:`AVG_TRADE_SIZE` (at least 1)."""
    if bar.trade_count is not None and bar.trade_count > 0:
        return bar.trade_count
    return max(1, round(bar.volume / AVG_TRADE_SIZE))


def estimated_vwap(bar: Bar) -> float:
    """The bar's VWAP, or its typical price ``(high + low + close) / 3`` to the 1/10,000."""
    if bar.vwap is not None:
        return bar.vwap
    return round((bar.high + bar.low + bar.close) / 3, 4)


def empty_probability(bar: Bar) -> float:
    """The probability that no trade printed on IEX in the minute of ``bar``."""
    lam = IEX_TRADE_SHARE * estimated_trades(bar)
    return 1.0 / (1.0 + lam)


def _draw(seed: int, bar: Bar) -> float:
    return uniform(f"fleece-iex:{seed}:{bar.symbol}:{int(bar.timestamp.timestamp())}")


def on_iex(bar: Bar, seed: int) -> bool:
    """True when the minute of ``bar`` has an IEX bar under ``seed``."""
    return _draw(seed, bar) >= empty_probability(bar)


def iex_bar(bar: Bar) -> Bar:
    """The IEX bar of a consolidated minute that has one: same prices, IEX's share of the rest."""
    trades = max(1, round(estimated_trades(bar) * IEX_TRADE_SHARE))
    volume = max(1, round(bar.volume * IEX_TRADE_SHARE))
    return replace(bar, volume=volume, trade_count=trades, vwap=estimated_vwap(bar))


def iex_series(bars: Sequence[Bar], seed: int) -> list[Bar]:
    """The IEX tape of one symbol's consolidated bars."""
    return [iex_bar(bar) for bar in bars if on_iex(bar, seed)]


#: How late a re-issued bar is published (Alpaca re-issues a bar with late trades about 30 s
#: after its minute: ALPACA-FACTS.md, "Timing").
LATE_BY = timedelta(seconds=30)


def publish_delay(bar: Bar, seed: int, late_share: float) -> timedelta:
    """How long after its minute's end ``bar`` is published: 0, or :data:`LATE_BY` for a
    ``late_share`` of bars (a seeded draw per symbol and minute, independent of the IEX one).

    A bot that judged the minute empty before then meets the bar as a *late* one.
    """
    if late_share <= 0:
        return timedelta(0)
    draw = uniform(f"fleece-late:{seed}:{bar.symbol}:{int(bar.timestamp.timestamp())}")
    return LATE_BY if draw < late_share else timedelta(0)


def iex_tape(bars: Mapping[str, Sequence[Bar]], seed: int) -> dict[str, list[Bar]]:
    """The IEX tape of every symbol's consolidated bars (what ``feed=iex`` serves)."""
    return {symbol: iex_series(series, seed) for symbol, series in bars.items()}
