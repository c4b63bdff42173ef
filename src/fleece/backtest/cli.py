"""The backtest commands: ``fleece backtest``, ``fleece replay`` and ``fleece data download``.

Thin typer command functions: options are checked and turned into calls of the package; errors a
user can fix end as one line (exit 2 for configuration, 1 for other expected failures). The
wall clock is read here only (the default output folder's name); nothing below it reads time.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Sequence
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from fleece.backtest.data import MarketData, load_market, synthetic_market
from fleece.backtest.outputs import REPORT_HTML, write_outputs
from fleece.backtest.report import stats_table
from fleece.backtest.runner import BacktestConfig, BacktestResult, Mode, run_backtest
from fleece.calendar import MarketCalendar
from fleece.cli_support import user_errors
from fleece.clock import SystemClock
from fleece.config import TradingConfig, load_trading_config
from fleece.errors import ConfigError
from fleece.risk_manager import RiskLimits

console = Console()
DEFAULT_CONFIG = Path("config/trading.yaml")
DEFAULT_SYNTHETIC_START = date(2024, 1, 2)
#: Sessions of synthetic bars without --end: about one year.
DEFAULT_SYNTHETIC_SESSIONS = 252
#: Loggers whose normal trading events (a latched loss limit, a refused order) are results of a
#: backtest, not problems: quiet below ERROR while it runs.
_RUN_LOGGERS = ("fleece.trader", "fleece.order_manager")

Symbols = Annotated[
    str | None, typer.Option("--symbols", help="comma-separated symbols (overrides the config's)")
]
ConfigOpt = Annotated[Path, typer.Option("--config", help="trading config (risk limits, SMAs)")]


def parse_day(value: str | None, option: str) -> date | None:
    """A ``YYYY-MM-DD`` option value as a date (None stays None).

    Raises:
        ConfigError: the value is not a date.
    """
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ConfigError("command line", option, f"expected YYYY-MM-DD, got {value!r}") from None


def parse_symbols(value: str | None) -> list[str] | None:
    """``"spy, ibm"`` -> ``["SPY", "IBM"]``; None stays None.

    Raises:
        ConfigError: the list is empty.
    """
    if value is None:
        return None
    symbols = [s.strip().upper() for s in value.split(",") if s.strip()]
    if not symbols:
        raise ConfigError("command line", "--symbols", "list at least one symbol")
    return list(dict.fromkeys(symbols))


def backtest_config(
    trading: TradingConfig, cash: float, slippage_bps: float, mode: Mode
) -> BacktestConfig:
    """The run's configuration from the trading config and the command-line options.

    Raises:
        ConfigError: cash or slippage out of range.
    """
    if not cash > 0:
        raise ConfigError("command line", "--cash", f"must be > 0, got {cash}")
    if not slippage_bps >= 0:
        raise ConfigError("command line", "--slippage-bps", f"must be >= 0, got {slippage_bps}")
    risk = trading.risk
    limits = RiskLimits(
        max_position_pct=risk.max_position_pct,
        max_daily_loss_pct=risk.max_daily_loss_pct,
        max_trades_per_day=risk.max_trades_per_day,
        max_concurrent_positions=risk.max_concurrent_positions,
        circuit_breaker_failures=risk.circuit_breaker_failures,
    )
    return BacktestConfig(
        limits=limits,
        fast=trading.strategy.fast,
        medium=trading.strategy.medium,
        slow=trading.strategy.slow,
        cash=cash,
        slippage_bps=slippage_bps,
        stale_order_minutes=trading.orders.stale_order_minutes,
        time_in_force=trading.orders.time_in_force,
        mode=mode,
    )


def _data_symbols(data: Path, wanted: list[str] | None, configured: Sequence[str]) -> list[str]:
    """``--symbols``, or the configured symbols that have a file in ``data``."""
    if wanted is not None:
        return wanted
    present = {p.stem.upper() for p in data.glob("*") if p.suffix.lower() in (".csv", ".parquet")}
    chosen = [s for s in configured if s in present]
    if not chosen:
        raise ConfigError(
            "command line", "--symbols", f"no configured symbol has a bar file in {data}"
        )
    return chosen


def load_bars(
    *,
    data: Path | None,
    synthetic: bool,
    symbols: list[str] | None,
    start: date | None,
    end: date | None,
    seed: int,
    configured: Sequence[str],
) -> MarketData:
    """The bars a command asked for: files in ``data`` or seeded synthetic sessions.

    Raises:
        ConfigError: both or neither of ``data`` and ``synthetic``, or an empty date range.
        DataError: unreadable bar files.
    """
    if (data is None) == (not synthetic):
        raise ConfigError("command line", "--data/--synthetic", "give exactly one of them")
    if start is not None and end is not None and end < start:
        raise ConfigError("command line", "--end", f"{end} is before --start {start}")
    if data is not None:
        chosen = _data_symbols(data, symbols, configured)
        return load_market(data, chosen).between(start, end)
    first = start or DEFAULT_SYNTHETIC_START
    calendar = MarketCalendar()
    if end is None:
        days = DEFAULT_SYNTHETIC_SESSIONS
    else:
        days = len(calendar.sessions(first, end))
        if days == 0:
            raise ConfigError("command line", "--start/--end", "no trading session in the range")
    return synthetic_market(symbols or list(configured), first, days, seed, calendar)


@contextlib.contextmanager
def _quiet_trading_logs() -> Iterator[None]:
    loggers = [logging.getLogger(name) for name in _RUN_LOGGERS]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)


def run_with_progress(market: MarketData, config: BacktestConfig) -> BacktestResult:
    """Run the backtest with a progress bar on the terminal."""
    columns = (TextColumn("backtest"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"))
    with (
        Progress(*columns, TimeElapsedColumn(), console=console, transient=True) as progress,
        _quiet_trading_logs(),
    ):
        task = progress.add_task("backtest", total=1.0)
        return run_backtest(
            market, config, progress=lambda done: progress.update(task, completed=done)
        )


def default_out_dir() -> Path:
    """``data/backtests/<UTC timestamp>/`` (the wall clock, read at the command's edge)."""
    return Path("data/backtests") / SystemClock().now().strftime("%Y%m%dT%H%M%SZ")


def backtest_command(
    *,
    data: Annotated[
        Path | None, typer.Option("--data", help="folder of <SYMBOL>.csv / .parquet minute bars")
    ] = None,
    synthetic: Annotated[
        bool, typer.Option("--synthetic", help="seeded synthetic bars instead of files")
    ] = False,
    symbols: Symbols = None,
    start: Annotated[str | None, typer.Option(help="first day, YYYY-MM-DD")] = None,
    end: Annotated[str | None, typer.Option(help="last day, YYYY-MM-DD")] = None,
    cash: Annotated[float, typer.Option(help="starting cash in dollars")] = 100_000.0,
    slippage_bps: Annotated[
        float, typer.Option("--slippage-bps", help="market-order slippage, basis points")
    ] = 0.0,
    config: ConfigOpt = DEFAULT_CONFIG,
    out: Annotated[
        Path | None, typer.Option("--out", help="output folder (default data/backtests/<time>)")
    ] = None,
    seed: Annotated[int, typer.Option(help="seed of the synthetic bars")] = 0,
    exact: Annotated[
        bool,
        typer.Option("--exact", help="feed every bar through the strategy (the reference; slower)"),
    ] = False,
) -> None:
    """Replay bars through the live bot's strategy, risk and order managers; write a report."""
    with user_errors():
        trading = load_trading_config(config)
        wanted = parse_symbols(symbols)
        run_config = backtest_config(trading, cash, slippage_bps, "exact" if exact else "fast")
        market = load_bars(
            data=data,
            synthetic=synthetic,
            symbols=wanted,
            start=parse_day(start, "--start"),
            end=parse_day(end, "--end"),
            seed=seed,
            configured=trading.tickers,
        )
        result = run_with_progress(market, run_config)
        target = out or default_out_dir()
        stats = write_outputs(result, target)
    console.print(stats_table(stats, title=f"Backtest: {', '.join(market.symbols)}"))
    console.print(
        f"{result.bars:,} bars in {result.elapsed:.2f} s ({result.bars_per_second:,.0f} bars/s); "
        f"outputs in {target}/ (open {target / REPORT_HTML})"
    )
