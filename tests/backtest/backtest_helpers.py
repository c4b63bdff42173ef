"""Small builders shared by the backtest specifications."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

from fleece.backtest.data import MarketData, SymbolBars, load_market, synthetic_market
from fleece.backtest.runner import BacktestConfig, BacktestResult, run_backtest
from fleece.risk_limits import RiskLimits

# tests/backtest/<this file> -> parents[2] is the repository; shared/ sits beside it.
REAL_BARS = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "bars"
FIRST_DAY = date(2024, 1, 2)


def limits(**overrides: Any) -> RiskLimits:
    """The seed's limits (10%, 5%, 20 trades, 10 positions), with overrides."""
    values: dict[str, Any] = {
        "max_position_pct": 0.10,
        "max_daily_loss_pct": 0.05,
        "max_trades_per_day": 20,
        "max_concurrent_positions": 10,
    }
    values.update(overrides)
    return RiskLimits(**values)


def config(**overrides: Any) -> BacktestConfig:
    """A backtest configuration with the seed's limits; ``limits=`` or any field overrides."""
    return BacktestConfig(**{"limits": limits(), **overrides})


def synthetic(
    symbols: Sequence[str] = ("SPY", "AAPL", "TSLA"), days: int = 3, seed: int = 0
) -> MarketData:
    """A few seeded synthetic sessions."""
    return synthetic_market(symbols, FIRST_DAY, days, seed)


def real() -> MarketData:
    """The real SPY and IBM minute bars of October 2013 (extended hours, gaps)."""
    return load_market(REAL_BARS, ["SPY", "IBM"])


def without_rows(market: MarketData, symbol: str, rows: Iterable[int]) -> MarketData:
    """``market`` with some bars of ``symbol`` removed (to make gaps)."""
    bars = market.bars[symbol]
    keep = np.ones(len(bars), dtype=np.bool_)
    keep[list(rows)] = False
    thinned = SymbolBars(
        symbol,
        bars.ts[keep],
        bars.open[keep],
        bars.high[keep],
        bars.low[keep],
        bars.close[keep],
        bars.volume[keep],
        bars.regular[keep],
    )
    return MarketData({**market.bars, symbol: thinned})


def sparse(market: MarketData, seed: int = 5, most: float = 0.4) -> MarketData:
    """``market`` with minutes removed as IEX leaves them out: each symbol loses its own share
    (2 % to ``most``, chosen by ``seed``), so the minute grid carries closes everywhere."""
    rng = np.random.default_rng(seed)
    for symbol in market.symbols:
        share = rng.uniform(0.02, most)
        gone = np.flatnonzero(rng.random(len(market.bars[symbol])) < share)
        market = without_rows(market, symbol, gone.tolist())
    return market


def both_modes(market: MarketData, cfg: BacktestConfig) -> tuple[BacktestResult, BacktestResult]:
    """The same run on the fast path and on the exact (every bar) path."""
    fast = run_backtest(market, replace(cfg, mode="fast"))
    exact = run_backtest(market, replace(cfg, mode="exact"))
    return fast, exact


def outcome(result: BacktestResult) -> dict[str, Any]:
    """What a run decided and what happened, in comparable form."""
    return {
        "fills": [
            (f.timestamp, f.symbol, f.side, f.qty, f.price, f.client_order_id) for f in result.fills
        ],
        "intents": [
            (i.client_order_id, i.qty, i.status, i.created_at, i.last_error) for i in result.intents
        ],
        "refusals": [(r.timestamp, r.symbol, r.side, r.reason, r.detail) for r in result.refusals],
        "equity": result.equity.equity.tolist(),
        "cash": result.equity.cash.tolist(),
        "signals": result.signals,
    }
