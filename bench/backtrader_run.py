"""Benchmark process for backtrader: the same strategy and risk rules, written the backtrader way,
on the same minute grid.

The minute grid, as alpaca-fleece documents it (src/fleece/minute_grid.py, the README's strategy
section), built here independently with numpy and pandas (:func:`on_grid`), so that the
cross-check tests the rule and not one shared function:

* Every regular-session minute is one step of every window; extended-hours bars never enter
  the grid.
* A symbol joins the grid at its first regular bar ever and stays on it from then on, across
  sessions and nights.
* A minute in which a symbol has no bar repeats that symbol's last regular close (a *carried*
  bar: open = high = low = close = that close, volume 0): nothing traded, so the price did not
  change.
* Signals are judged at every grid minute, with or without a bar, by the same exact rule (the
  SMA crossover or the Donchian channel breakout; see bt_rules.py). A signal on the session's
  last minute is not acted on.
* A market order (day) fills at the open of the symbol's next real bar in the session (never on
  a carried minute), or expires at the session's close.

The grid is built in bt_grid.py, the rules are in bt_rules.py. Indicators are backtrader's own
(``SumN`` over each grid bar's close in ticks, so that, as in alpaca-fleece, equal averages
compare equal: sums of integers are exact in float64 and the averages are compared
cross-multiplied; ``Highest`` and ``Lowest`` over the highs and lows in ticks). Orders are
backtrader market orders with no commission; a volume filler (``bt_grid.real_bars_only``) gives
an order nothing on a carried bar (volume 0), so it waits in backtrader's pending queue for the
next real bar, and the strategy cancels what is still pending at the session's last minute
(backtrader never expires market orders, whatever their ``valid``). The risk rules (sizing at
10% of equity, 20 orders a day, 10 positions, the 5% daily loss latch, buying power net of open
buys, open orders cancelled after 15 minutes) are coded in the strategy in the order
alpaca-fleece's risk manager and housekeeping apply them, with exact arithmetic where
alpaca-fleece is exact. Cerebro runs in its default mode (``runonce``, indicators precomputed).

``--csv DIR`` reads ``<SYMBOL>.csv`` files with pandas instead of building a data set: the
whole-process benchmark (start-up, reading, replay, output) beside ``fleece backtest``.
"""

from __future__ import annotations

import time
from pathlib import Path

from common import (
    CASH,
    STRATEGIES,
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

from fleece.calendar import MarketCalendar  # noqa: F401 (imported by both engines' processes)

BASELINE = rss_mb()

import backtrader as bt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from bt_grid import (  # noqa: E402
    MINUTE,
    ChannelBars,
    TickBars,
    grid_frames,
    real_bars_only,
    session_bounds,
)
from bt_rules import DonchianRules, GridRules, SmaCrossoverRules  # noqa: E402

__all__ = ["grid_frames", "read_csv_columns", "run", "session_bounds"]

RULES: dict[str, type[GridRules]] = {
    "sma_crossover": SmaCrossoverRules,
    "donchian_breakout": DonchianRules,
}


def run(
    frames: dict[str, pd.DataFrame], bounds: np.ndarray, strategy: str = STRATEGIES[0]
) -> list[Trade]:
    """Replay the grid frames through cerebro with ``strategy``'s rules; the fills
    (:func:`common.in_order`)."""
    # Cheat-on-open: orders sent at a poll fill at the open of the bar that just started.
    cerebro = bt.Cerebro(stdstats=False, cheat_on_open=True)
    cerebro.broker.setcash(CASH)
    cerebro.broker.set_filler(real_bars_only)
    # The strategy checks orders as alpaca-fleece's risk manager does; backtrader's own check
    # at submission would price them at the new bar's close, which no poll can know.
    cerebro.broker.set_checksubmit(False)
    feed = ChannelBars if strategy == "donchian_breakout" else TickBars
    for symbol, df in sorted(frames.items()):
        cerebro.adddata(feed(dataname=df), name=symbol)
    last_bars = frozenset(int(close) - MINUTE for close in bounds[:, 1].tolist())
    cerebro.addstrategy(RULES[strategy], last_bars=last_bars)
    rules = cerebro.run()[0]
    return in_order(rules.fills)


def read_csv_columns(directory: Path) -> list[Columns]:
    """Every ``<SYMBOL>.csv`` of ``directory`` (timestamp,open,high,low,close,volume; ISO-8601
    UTC bar starts), read with pandas: the whole-process benchmark's input."""
    out = []
    for path in sorted(directory.glob("*.csv")):
        frame = pd.read_csv(path)
        stamps = pd.to_datetime(frame["timestamp"], utc=True)
        out.append(
            Columns(
                path.stem.upper(),
                stamps.dt.tz_convert(None).to_numpy().astype("datetime64[s]").astype(np.int64),
                frame["open"].to_numpy(np.float64),
                frame["high"].to_numpy(np.float64),
                frame["low"].to_numpy(np.float64),
                frame["close"].to_numpy(np.float64),
                frame["volume"].to_numpy(np.int64),
            )
        )
    return out


def main() -> None:
    args = arguments(__doc__ or "")
    if args.csv is not None:
        columns = iter(read_csv_columns(args.csv))
    else:
        columns = dataset_columns(args.dataset, args.days, args.symbols.split(","), args.seed)
    channels = args.strategy == "donchian_breakout"
    frames, bounds, real = grid_frames(columns, channels)
    began, cpu = time.perf_counter(), time.process_time()
    trades = run(frames, bounds, args.strategy)
    seconds, cpu = time.perf_counter() - began, time.process_time() - cpu
    write_result(
        EngineResult(
            engine="backtrader",
            dataset=dataset_name(args),
            bars=real,
            seconds=seconds,
            cpu_seconds=cpu,
            baseline_rss_mb=BASELINE,
            peak_rss_mb=peak_rss_mb(),
            trades=trades,
            grid_bars=sum(len(df) for df in frames.values()),
            carried_share={s: float((df["volume"] == 0).mean()) for s, df in frames.items()},
            strategy=args.strategy,
        ),
        args.out,
    )


if __name__ == "__main__":
    main()
