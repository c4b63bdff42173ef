"""Benchmark process for alpaca-fleece: the full decision path of ``fleece backtest``.

Strategy, risk manager, order manager, the simulated broker over the exchange's matching engine
and the minute-by-minute equity accounting: :func:`fleece.backtest.runner.run_backtest` on the
fast path (sma_crossover: vectorised crossover candidates on the minute grid; donchian_breakout,
which has no vectorised path: stepped bar by bar, polled only where it signals or an order is
open; both proven equal to the exact path by the tests). The timer covers the replay from bars
in memory to the result; building the bars does not count, as for backtrader.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from common import (
    CASH,
    DONCHIAN_ENTRY,
    DONCHIAN_EXIT,
    FAST,
    MAX_CONCURRENT_POSITIONS,
    MAX_DAILY_LOSS_PCT,
    MAX_POSITION_PCT,
    MAX_TRADES_PER_DAY,
    MEDIUM,
    SLOW,
    STALE_ORDER_MINUTES,
    Columns,
    EngineResult,
    Trade,
    arguments,
    dataset_columns,
    dataset_name,
    in_order,
    peak_rss_mb,
    rss_mb,
    write_result,
)

from fleece.calendar import MarketCalendar  # imported by both engines' processes

# The libraries both sides load are in; no bar exists yet.
BASELINE = rss_mb()

from fleece.backtest.data import (  # noqa: E402
    MarketData,
    SymbolBars,
    shared,
    symbol_bars_from_columns,
)
from fleece.backtest.runner import BacktestConfig, BacktestResult, run_backtest  # noqa: E402
from fleece.risk_limits import RiskLimits  # noqa: E402
from fleece.strategy.registry import resolve  # noqa: E402


def config_for(strategy: str) -> BacktestConfig:
    """The benchmark's rules with ``strategy`` (its parameters from common.py)."""
    params = (
        {"fast": FAST, "medium": MEDIUM, "slow": SLOW}
        if strategy == "sma_crossover"
        else {"entry": DONCHIAN_ENTRY, "exit": DONCHIAN_EXIT}
    )
    return BacktestConfig(
        limits=RiskLimits(
            max_position_pct=MAX_POSITION_PCT,
            max_daily_loss_pct=MAX_DAILY_LOSS_PCT,
            max_trades_per_day=MAX_TRADES_PER_DAY,
            max_concurrent_positions=MAX_CONCURRENT_POSITIONS,
        ),
        strategy=resolve(strategy, params),
        cash=CASH,
        stale_order_minutes=STALE_ORDER_MINUTES,
    )


CONFIG = config_for("sma_crossover")


def market_of(columns: Iterable[Columns]) -> MarketData:
    """The bars in alpaca-fleece's columnar form (ticks, one shared timestamp column)."""
    calendar = MarketCalendar()
    out: dict[str, SymbolBars] = {}
    for c in columns:
        built = symbol_bars_from_columns(
            c.symbol, c.ts, c.open, c.high, c.low, c.close, c.volume, calendar
        )
        out[c.symbol] = shared(built, out.values())
    return MarketData(out)


def trades_of(result: BacktestResult) -> list[Trade]:
    """The run's fills in the form both engines report."""
    return in_order(
        [
            Trade(
                f.timestamp.isoformat().replace("+00:00", "Z"),
                f.symbol,
                f.side.value,
                f.qty,
                f.price,
            )
            for f in result.fills
        ]
    )


def main() -> None:
    args = arguments(__doc__ or "")
    columns = dataset_columns(args.dataset, args.days, args.symbols.split(","), args.seed)
    market = market_of(columns)
    started, cpu = time.perf_counter(), time.process_time()
    result = run_backtest(market, config_for(args.strategy))
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    write_result(
        EngineResult(
            engine="alpaca-fleece",
            dataset=dataset_name(args),
            bars=result.bars,
            seconds=seconds,
            cpu_seconds=cpu,
            baseline_rss_mb=BASELINE,
            peak_rss_mb=peak_rss_mb(),
            trades=trades_of(result),
            strategy=args.strategy,
        ),
        args.out,
    )


if __name__ == "__main__":
    main()
