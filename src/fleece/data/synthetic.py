"""Seeded synthetic 1-minute bars for the built-in exchange, backtests and tests.

Every regular minute of the requested NYSE sessions gets a bar (holidays and early closes come
from :class:`~fleece.calendar.MarketCalendar`). The series is built column-wise with numpy, so
a year of 31 symbols (about 3 million bars) takes a few seconds.

How a symbol's prices are made, and why:

* **Level and volatility** come from :data:`PROFILES` (approximate recent figures), so SPY
  trades near $570 and moves ~1% a day while MSTR moves ~5%. Unknown symbols get a level and
  volatility derived from a hash of their name: stable across runs and machines.
* **Regimes** switch every 25-110 minutes between trending up, trending down and mean
  reverting, so a 10/30/90-minute SMA crossover strategy sees both runs and chop and trades
  several times a day.
* **Intraday shape**: volatility and volume are U-shaped (heavy at the open and the close);
  each day has its own calm-or-busy multiplier; volume grows with the size of the move.
* **Overnight gaps** open each session away from the previous close, with a weak pull toward
  the profile level so a year-long series stays in a realistic range.
* **Invariants**: prices are positive with at most 4 decimals (cents above $1);
  ``low <= min(open, close) <= max(open, close) <= high``; a bar opens near the previous close.

Determinism: the random generator of a symbol is derived from ``(seed, symbol)`` with SHA-256
(not Python's salted ``hash()``), so the same seed gives the same bars on every machine and a
symbol's series does not depend on which other symbols are requested.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from types import MappingProxyType

import numpy as np
from numpy.typing import NDArray

from fleece.calendar import MarketCalendar, Session
from fleece.config_bounds import MINUTES_PER_SESSION
from fleece.data.arrays import SymbolArrays
from fleece.models import Bar
from fleece.prices import TICK, round_prices


@dataclass(frozen=True, slots=True)
class SymbolProfile:
    """What a symbol roughly looks like.

    Attributes:
        price: an approximate recent price, where the series starts.
        daily_vol: standard deviation of a day's return (0.01 = 1%).
        daily_volume: shares traded in a full regular session, on average.
    """

    price: float
    daily_vol: float
    daily_volume: int


def _p(price: float, daily_vol: float, daily_volume_millions: float) -> SymbolProfile:
    return SymbolProfile(price, daily_vol, int(daily_volume_millions * 1_000_000))


# Approximate levels (late 2024 / 2025); close enough for realistic sizing and risk limits.
PROFILES: Mapping[str, SymbolProfile] = MappingProxyType(
    {
        "AAPL": _p(230.0, 0.015, 50),
        "MSFT": _p(420.0, 0.013, 20),
        "GOOGL": _p(170.0, 0.017, 25),
        "NVDA": _p(130.0, 0.030, 250),
        "QQQ": _p(480.0, 0.012, 40),
        "SPY": _p(570.0, 0.009, 60),
        "TSLA": _p(250.0, 0.035, 90),
        "AMD": _p(150.0, 0.030, 45),
        "AMZN": _p(190.0, 0.018, 40),
        "META": _p(580.0, 0.020, 14),
        "NFLX": _p(700.0, 0.020, 3),
        "UBER": _p(75.0, 0.022, 18),
        "COIN": _p(220.0, 0.045, 10),
        "MSTR": _p(300.0, 0.055, 15),
        "ARKK": _p(55.0, 0.025, 8),
        "IWM": _p(220.0, 0.013, 30),
        "EEM": _p(44.0, 0.010, 25),
        "GLD": _p(240.0, 0.009, 8),
        "TLT": _p(92.0, 0.008, 35),
        "USO": _p(75.0, 0.018, 4),
        "RTX": _p(120.0, 0.013, 5),
        "LMT": _p(540.0, 0.012, 1.3),
        "NOC": _p(500.0, 0.012, 0.9),
        "BA": _p(160.0, 0.022, 8),
        "GD": _p(290.0, 0.011, 1.2),
        "GOLD": _p(18.0, 0.022, 20),
        "SLV": _p(28.0, 0.018, 20),
        "PAAS": _p(22.0, 0.028, 4),
        "HL": _p(6.0, 0.035, 15),
        "SCCO": _p(100.0, 0.023, 1.2),
        "FCX": _p(44.0, 0.025, 13),
    }
)

# Model constants (per-minute quantities are in units of the symbol's per-minute volatility).
_SEGMENT_MINUTES = (25, 110)  # regime lengths
_REGIME_ODDS = (0.35, 0.35, 0.30)  # trend up, trend down, mean reverting
_TREND_DRIFT = (0.08, 0.20)  # |drift| per minute in trending regimes
_CHOP_NOISE = 0.6  # random-walk share left in mean-reverting regimes
_SWING_AMPLITUDE = {"trend": 0.8, "chop": 4.0}  # size of the smooth back-and-forth swings
_SWING_MINUTES = 15  # half-width of the swing kernel: swings of roughly half an hour
_GAP_VOL = 0.4  # overnight gap, in daily volatilities
_LEVEL_PULL = 0.03  # per session, fraction of the distance to the profile level closed
_DAY_MOOD = 0.25  # log-sd of the calm-or-busy multiplier of a day
# Trends, swings and gaps add to the minute noise: this factor (measured over 31 symbols x
# 500 sessions x 3 seeds) brings the realised close-to-close daily volatility to daily_vol.
_CALIBRATION = 1 / 1.58


def profile_for(symbol: str) -> SymbolProfile:
    """The symbol's profile from :data:`PROFILES`, or one derived from its name."""
    known = PROFILES.get(symbol.upper())
    if known is not None:
        return known
    digest = hashlib.sha256(f"fleece-profile:{symbol.upper()}".encode()).digest()
    u_price, u_vol, u_volume = (int.from_bytes(digest[i : i + 4], "big") / 2**32 for i in (0, 4, 8))
    price = round(math.exp(math.log(10.0) + u_price * math.log(500.0 / 10.0)), 2)
    return SymbolProfile(price, 0.012 + 0.03 * u_vol, int(2_000_000 + u_volume * 18_000_000))


DEFAULT_SYNTHETIC_START = date(2024, 1, 2)
"""Where synthetic bars start when no day is given: the exchange, the backtest and the sweep."""


def symbol_rng(symbol: str, seed: int) -> np.random.Generator:
    """A generator that depends only on ``(seed, symbol)``, identically on every machine."""
    digest = hashlib.sha256(f"fleece-synthetic:{seed}:{symbol.upper()}".encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:16], "big"))


def generate_bars(
    symbols: Sequence[str],
    start: date,
    days: int,
    seed: int = 0,
    calendar: MarketCalendar | None = None,
) -> dict[str, list[Bar]]:
    """Minute bars for every regular minute of ``days`` NYSE sessions.

    Args:
        symbols: the symbols (upper-cased in the result).
        start: the first session, or the day after which the first session is looked for.
        days: how many sessions.
        seed: same seed, same bars.
        calendar: the market calendar (a fresh NYSE one by default).

    Returns:
        Bars per symbol, in time order.
    """
    sessions = synthetic_sessions(start, days, calendar)
    return {s.upper(): generate_arrays(s.upper(), sessions, seed).to_bars() for s in symbols}


def synthetic_sessions(
    start: date, days: int, calendar: MarketCalendar | None = None
) -> list[Session]:
    """The ``days`` NYSE sessions from ``start`` that synthetic bars cover (none for 0 days,
    where the calendar itself would refuse a window of 0)."""
    return (calendar or MarketCalendar()).sessions_from(start, days) if days > 0 else []


def generate_arrays(symbol: str, sessions: Sequence[Session], seed: int) -> SymbolArrays:
    """The columnar form of :func:`generate_bars` for one symbol (fast: numpy throughout).

    Args:
        symbol: the symbol; its profile sets the level, volatility and volume.
        sessions: consecutive sessions, as :class:`MarketCalendar` gives them.
        seed: same seed, same arrays.

    Returns:
        One row per regular minute of the sessions, in time order.
    """
    layout = _Layout.of(sessions)
    if layout.size == 0:
        empty = np.zeros(0)
        return SymbolArrays(symbol, layout.ts, empty, empty, empty, empty, np.zeros(0, np.int64))
    profile = profile_for(symbol)
    rng = symbol_rng(symbol, seed)
    n, n_days = layout.size, len(sessions)
    sigma_min = _CALIBRATION * profile.daily_vol / math.sqrt(MINUTES_PER_SESSION)
    mood = rng.lognormal(0.0, _DAY_MOOD, n_days)[layout.day]
    sigma = (
        sigma_min
        * mood
        * _u_shape(
            layout, floor=0.75, open_boost=0.9, open_decay=20.0, close_boost=0.35, close_decay=25.0
        )
    )
    drift, chop = _regimes(rng, n)
    shocks = rng.standard_normal(n)
    steps = sigma * (drift + np.where(chop, _CHOP_NOISE, 1.0) * shocks)
    swing_size = np.where(chop, _SWING_AMPLITUDE["chop"], _SWING_AMPLITUDE["trend"])
    swings = sigma_min * mood * _smooth(swing_size) * _swing_path(rng, n)
    gaps = _gaps(rng, steps, layout, profile.daily_vol)
    steps[layout.first] += gaps
    log_close = math.log(profile.price) + np.cumsum(steps) + swings
    # A bar opens a hair away from the previous close, or across the night's gap.
    log_open = np.concatenate(([math.log(profile.price)], log_close[:-1]))
    log_open += 0.1 * sigma * rng.standard_normal(n)
    log_open[layout.first] += gaps
    log_high = np.maximum(log_open, log_close) + np.abs(rng.normal(0.0, 0.6, n)) * sigma
    log_low = np.minimum(log_open, log_close) - np.abs(rng.normal(0.0, 0.6, n)) * sigma
    volume = _volumes(rng, layout, profile.daily_volume, shocks)
    return SymbolArrays(
        symbol=symbol,
        ts=layout.ts,
        open=_to_price(log_open),
        high=_to_price(log_high),
        low=_to_price(log_low),
        close=_to_price(log_close),
        volume=volume,
    )


@dataclass(frozen=True)
class _Layout:
    """Where each minute sits: its session, its place since the open and before the close."""

    ts: NDArray[np.int64]
    day: NDArray[np.intp]
    since_open: NDArray[np.float64]
    to_close: NDArray[np.float64]
    first: NDArray[np.intp]

    @property
    def size(self) -> int:
        return len(self.ts)

    @staticmethod
    def of(sessions: Sequence[Session]) -> _Layout:
        minutes = np.array([s.minutes for s in sessions], dtype=np.intp)
        opens = np.array([int(s.open.timestamp()) for s in sessions], dtype=np.int64)
        first = np.cumsum(minutes) - minutes
        day = np.repeat(np.arange(len(sessions), dtype=np.intp), minutes)
        since_open = np.arange(int(minutes.sum()), dtype=np.intp) - first[day]
        ts = opens[day] + 60 * since_open.astype(np.int64)
        to_close = minutes[day] - 1 - since_open
        return _Layout(ts, day, since_open.astype(np.float64), to_close.astype(np.float64), first)


def _u_shape(
    layout: _Layout,
    *,
    floor: float,
    open_boost: float,
    open_decay: float,
    close_boost: float,
    close_decay: float,
) -> NDArray[np.float64]:
    """A U-shaped intraday profile scaled so a full session averages 1."""

    def shape(since: NDArray[np.float64], left: NDArray[np.float64]) -> NDArray[np.float64]:
        return (
            floor
            + open_boost * np.exp(-since / open_decay)
            + close_boost * np.exp(-left / close_decay)
        )

    full = np.arange(MINUTES_PER_SESSION, dtype=np.float64)
    mean = float(shape(full, full[::-1]).mean())
    return shape(layout.since_open, layout.to_close) / mean


def _regimes(rng: np.random.Generator, n: int) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    """Per minute: the drift (in sigmas) and whether the regime is mean reverting."""
    low, high = _SEGMENT_MINUTES
    lengths = rng.integers(low, high, size=n // low + 2)
    segment = np.repeat(np.arange(len(lengths)), lengths)[:n]
    kind = rng.choice(3, size=len(lengths), p=_REGIME_ODDS)
    direction = np.select([kind == 0, kind == 1], [1.0, -1.0], 0.0)
    drift = direction * rng.uniform(*_TREND_DRIFT, size=len(lengths))
    return drift[segment], (kind == 2)[segment]


def _swing_path(rng: np.random.Generator, n: int) -> NDArray[np.float64]:
    """Smooth stationary swings with unit variance, about an hour from crest to crest."""
    half = np.bartlett(2 * _SWING_MINUTES + 1)[1:-1]
    kernel = half / np.sqrt(np.sum(half**2))
    noise = rng.standard_normal(n + len(kernel) - 1)
    return np.convolve(noise, kernel, mode="valid")


def _smooth(values: NDArray[np.float64]) -> NDArray[np.float64]:
    """A centred moving average, so swing sizes change gradually between regimes."""
    width = _SWING_MINUTES
    padded = np.pad(values, (width // 2, width - 1 - width // 2), mode="edge")
    return np.convolve(padded, np.full(width, 1.0 / width), mode="valid")


def _gaps(
    rng: np.random.Generator, steps: NDArray[np.float64], layout: _Layout, daily_vol: float
) -> NDArray[np.float64]:
    """Overnight gaps (log), each with a weak pull back toward the profile level."""
    n_days = len(layout.first)
    noise = rng.normal(0.0, _GAP_VOL * daily_vol, n_days)
    day_moves = np.add.reduceat(steps, layout.first) if n_days else np.zeros(0)
    gaps = np.empty(n_days)
    level = 0.0  # log distance from the profile price; a loop over days, not minutes
    for d in range(n_days):
        gaps[d] = noise[d] - _LEVEL_PULL * level
        level += gaps[d] + float(day_moves[d])
    return gaps


def _volumes(
    rng: np.random.Generator, layout: _Layout, daily_volume: int, shocks: NDArray[np.float64]
) -> NDArray[np.int64]:
    """U-shaped volume, busier on big moves and busy days; at least one share."""
    shape = _u_shape(
        layout, floor=0.55, open_boost=2.4, open_decay=18.0, close_boost=1.5, close_decay=15.0
    )
    busy_day = rng.lognormal(0.0, 0.3, len(layout.first))[layout.day]
    noise = rng.lognormal(0.0, 0.45, layout.size)
    per_minute = daily_volume / MINUTES_PER_SESSION
    raw = per_minute * shape * busy_day * noise * (1.0 + 0.6 * np.abs(shocks))
    return np.maximum(np.rint(raw), 1).astype(np.int64)


def _to_price(log_price: NDArray[np.float64]) -> NDArray[np.float64]:
    """Exponentiate and round to Alpaca's price grid (:func:`fleece.prices.round_prices`), never
    below one tick.

    The rounding is monotone, so ``high >= max(open, close)`` and ``low <= min(open, close)``
    survive it.
    """
    return np.maximum(round_prices(np.exp(log_price)), float(TICK))
