"""Benchmark process for alpaca-fleece: the full decision path of ``fleece backtest``.

Strategy, risk manager, order manager, the simulated broker over the exchange's matching engine
and the minute-by-minute equity accounting: :func:`fleece.backtest.runner.run_backtest` on the
fast path (vectorised crossover candidates; proven equal to the bar-by-bar path by the tests).
The timer covers the replay from bars in memory to the result; generating the bars does not
count, as for backtrader.
"""

from __future__ import annotations

import time

from common import (
    CASH,
    FAST,
    FIRST_DAY,
    MAX_CONCURRENT_POSITIONS,
    MAX_DAILY_LOSS_PCT,
    MAX_POSITION_PCT,
    MAX_TRADES_PER_DAY,
    MEDIUM,
    REAL_BARS,
    SLOW,
    EngineResult,
    Trade,
    arguments,
    dataset_name,
    peak_rss_mb,
    rss_mb,
    write_result,
)

from fleece.calendar import MarketCalendar  # imported by both engines' processes

# The libraries both sides load are in; no bar exists yet.
BASELINE = rss_mb()

from fleece.backtest.data import load_market, synthetic_market  # noqa: E402
from fleece.backtest.runner import BacktestConfig, run_backtest  # noqa: E402
from fleece.risk_manager import RiskLimits  # noqa: E402


def main() -> None:
    args = arguments(__doc__ or "")
    symbols = args.symbols.split(",")
    if args.dataset == "real":
        market = load_market(REAL_BARS, ["SPY", "IBM"])
    else:
        market = synthetic_market(symbols, FIRST_DAY, args.days, args.seed, MarketCalendar())
    config = BacktestConfig(
        limits=RiskLimits(
            max_position_pct=MAX_POSITION_PCT,
            max_daily_loss_pct=MAX_DAILY_LOSS_PCT,
            max_trades_per_day=MAX_TRADES_PER_DAY,
            max_concurrent_positions=MAX_CONCURRENT_POSITIONS,
        ),
        fast=FAST,
        medium=MEDIUM,
        slow=SLOW,
        cash=CASH,
    )
    started, cpu = time.perf_counter(), time.process_time()
    result = run_backtest(market, config)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    trades = [
        Trade(
            f.timestamp.isoformat().replace("+00:00", "Z"),
            f.symbol,
            f.side.value,
            f.qty,
            f.price,
        )
        for f in result.fills
    ]
    write_result(
        EngineResult(
            engine="alpaca-fleece",
            dataset=dataset_name(args),
            bars=result.bars,
            seconds=seconds,
            cpu_seconds=cpu,
            baseline_rss_mb=BASELINE,
            peak_rss_mb=peak_rss_mb(),
            trades=trades,
        ),
        args.out,
    )


if __name__ == "__main__":
    main()
