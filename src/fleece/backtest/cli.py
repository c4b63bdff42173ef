"""The backtest commands: ``fleece backtest``, ``fleece replay`` and ``fleece data download``.

Thin typer command functions: options are checked and turned into calls of the package; errors a
user can fix end as one line (exit 2 for configuration, 1 for other expected failures). The
wall clock is read here only (the default output folder's name); nothing below it reads time.
The backtest machinery (numpy, the exchange's engine, plotly) is imported when a command runs,
so that ``fleece --help`` and the other commands do not wait for it.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from fleece.accounting import OPENING_CASH, opening_cash_problem
from fleece.cli_options import (
    BarsFolder,
    Cash,
    ConfigFile,
    EnvFile,
    FirstDay,
    LastDay,
    Seed,
    SlippageBps,
    Synthetic,
)
from fleece.cli_support import user_errors
from fleece.clock import SystemClock
from fleece.config import TradingConfig, load_trading_config
from fleece.config_sections import ticker_problem
from fleece.errors import ConfigError, DataError
from fleece.models import FEEDS

if TYPE_CHECKING:
    from fleece.backtest.data import MarketData
    from fleece.backtest.result import BacktestConfig, BacktestResult, Mode
    from fleece.models import Bar

console = Console()
DEFAULT_CONFIG = Path("config/trading.yaml")
#: Sessions of synthetic bars without --end: about one year.
DEFAULT_SYNTHETIC_SESSIONS = 252
#: Loggers whose normal trading events (a latched loss limit, a refused order) are results of a
#: backtest, not problems: quiet below ERROR while it runs.
_RUN_LOGGERS = ("fleece.trader", "fleece.order_manager")

# The bar commands' own options (``fleece sweep`` takes them too); those shared with the
# exchange and the other commands are in fleece.cli_options.
Symbols = Annotated[
    str | None, typer.Option("--symbols", help="comma-separated symbols (overrides the config's)")
]
ConfigOpt = Annotated[Path, typer.Option("--config", help="trading config (risk limits, strategy)")]


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
        ConfigError: the list is empty, or a symbol is not a ticker (the config's rule).
    """
    if value is None:
        return None
    symbols = [s.strip().upper() for s in value.split(",") if s.strip()]
    if not symbols:
        raise ConfigError("command line", "--symbols", "list at least one symbol")
    for symbol in symbols:
        if problem := ticker_problem(symbol):
            raise ConfigError("command line", "--symbols", problem)
    return list(dict.fromkeys(symbols))


def backtest_config(
    trading: TradingConfig, cash: float, slippage_bps: float, mode: Mode
) -> BacktestConfig:
    """The run's configuration from the trading config and the command-line options.

    Raises:
        ConfigError: cash or slippage out of range.
    """
    from fleece.backtest.result import BacktestConfig
    from fleece.kernel import protection_of, risk_limits

    if problem := opening_cash_problem(cash):
        raise ConfigError("command line", "--cash", problem)
    if not slippage_bps >= 0:
        raise ConfigError("command line", "--slippage-bps", f"must be >= 0, got {slippage_bps}")
    return BacktestConfig(
        limits=risk_limits(trading.risk),
        strategy=trading.strategy.spec,
        cash=cash,
        slippage_bps=slippage_bps,
        stale_order_minutes=trading.orders.stale_order_minutes,
        time_in_force=trading.orders.time_in_force,
        mode=mode,
        poll_offset_seconds=trading.data.poll_offset_seconds,
        protection=protection_of(trading),
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


def recorded_market(db: Path, symbols: Sequence[str] | None) -> MarketData:
    """The bars a bot fed its strategy, from its store (late bars left out, as the bot did).

    Raises:
        DataError: the store holds no bar (of ``symbols``).
    """
    from fleece.backtest.data import market_from_bars
    from fleece.state_store import StateStore

    if not db.is_file():
        raise ConfigError("command line", "--db", f"{db}: no such store")
    far_past = datetime(1970, 1, 2, tzinfo=UTC)
    far_future = datetime(9999, 1, 1, tzinfo=UTC)
    with StateStore(db) as store:
        recorded = store.bars_between(None, far_past, far_future, fed_only=True)
    by_symbol: dict[str, list[Bar]] = {}
    for bar in recorded:
        if symbols is None or bar.symbol in symbols:
            by_symbol.setdefault(bar.symbol, []).append(bar)
    if not by_symbol:
        raise DataError(f"{db}: no recorded bars" + (f" of {','.join(symbols)}" if symbols else ""))
    return market_from_bars(by_symbol)


def load_bars(
    *,
    data: Path | None,
    synthetic: bool,
    symbols: list[str] | None,
    start: date | None,
    end: date | None,
    seed: int,
    configured: Sequence[str],
    db: Path | None = None,
) -> MarketData:
    """The bars a command asked for: files in ``data``, seeded synthetic sessions, or the bars
    a bot recorded in its store ``db``.

    Raises:
        ConfigError: not exactly one source, or an empty date range.
        DataError: unreadable bar files, or a store without bars.
    """
    from fleece.backtest.data import load_market, synthetic_market
    from fleece.calendar import MarketCalendar
    from fleece.data.synthetic import DEFAULT_SYNTHETIC_START

    if (data is not None) + synthetic + (db is not None) != 1:
        raise ConfigError("command line", "--data/--synthetic/--db", "give exactly one of them")
    if start is not None and end is not None and end < start:
        raise ConfigError("command line", "--end", f"{end} is before --start {start}")
    if db is not None:
        return recorded_market(db, symbols).between(start, end)
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
    from fleece.backtest.runner import run_backtest

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
    data: BarsFolder = None,
    synthetic: Synthetic = False,
    db: Annotated[
        Path | None,
        typer.Option("--db", help="the bars a bot fed its strategy, from its store"),
    ] = None,
    symbols: Symbols = None,
    start: FirstDay = None,
    end: LastDay = None,
    cash: Cash = OPENING_CASH,
    slippage_bps: SlippageBps = 0.0,
    config: ConfigOpt = DEFAULT_CONFIG,
    out: Annotated[
        Path | None, typer.Option("--out", help="output folder (default data/backtests/<time>)")
    ] = None,
    seed: Seed = 0,
    exact: Annotated[
        bool,
        typer.Option("--exact", help="feed every bar through the strategy (the reference; slower)"),
    ] = False,
) -> None:
    """Replay bars through the live bot's strategy, risk and order managers; write a report."""
    from fleece.backtest.outputs import REPORT_HTML, write_outputs
    from fleece.backtest.report import stats_table

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
            db=db,
        )
        result = run_with_progress(market, run_config)
        target = out or default_out_dir()
        stats = write_outputs(result, target)
    console.print(stats_table(stats, title=f"Backtest: {', '.join(market.symbols)}"))
    console.print(
        f"{result.bars:,} bars in {result.elapsed:.2f} s ({result.bars_per_second:,.0f} bars/s); "
        f"outputs in {target}/ (open {target / REPORT_HTML})"
    )
    if market.dropped:
        console.print(
            f"{len(market.dropped):,} bad row(s) of the bar files dropped, each alone "
            "(the warnings above name each file, line and reason)"
        )


def replay_command(
    *,
    day: Annotated[str, typer.Argument(help="the session to replay, YYYY-MM-DD")],
    env_file: EnvFile = Path(".env"),
    db: Annotated[
        Path | None, typer.Option("--db", help="the store (default: DATABASE_PATH)")
    ] = None,
    config: ConfigFile = None,
    cash: Annotated[
        float | None,
        typer.Option(help="cash at the open [the store's last equity snapshot before it]"),
    ] = None,
    strict: Annotated[bool, typer.Option("--strict", help="fail on size differences too")] = False,
) -> None:
    """Replay a live day's recorded bars through the backtest; report decisions that differ."""
    from fleece.backtest.replay import replay_day
    from fleece.config import load_settings
    from fleece.state_store import StateStore

    with user_errors():
        when = parse_day(day, "DAY")
        assert when is not None
        settings = load_settings(env_file, os.environ)
        trading = load_trading_config(config or Path(settings.config_path))
        # --cash is checked here like any run's; without it the day's own cash replaces 1.0.
        run_config = backtest_config(trading, 1.0 if cash is None else cash, 0.0, "fast")
        store_path = db or Path(settings.database_path)
        if not store_path.exists():
            raise DataError(f"{store_path}: no such database")
        with StateStore(store_path) as store, _quiet_trading_logs():
            report = replay_day(store, when, run_config, cash=cash)
    console.print(
        f"replay {report.day}: {report.bars:,} bars; bot {len(report.bot)} decisions, "
        f"replay {len(report.replay)}; start cash ${report.start_cash:,.2f}, "
        f"positions {report.start_positions or 'none'}"
    )
    for start, stop in report.windows:
        console.print(f"  compared {start:%H:%M}Z to {stop:%H:%M}Z (the bot was running)")
    if not report.differences:
        console.print("[green]no difference[/]: every decision of the day replays identically")
        return
    table = Table(title=f"{len(report.differences)} difference(s)", title_justify="left")
    for column in ("bar (UTC)", "symbol", "side", "bot qty", "replay qty", "what"):
        table.add_column(column)
    for d in report.differences:
        table.add_row(
            f"{d.signal_timestamp:%H:%M}",
            d.symbol,
            d.side.value,
            "" if d.bot_qty is None else str(d.bot_qty),
            "" if d.replay_qty is None else str(d.replay_qty),
            d.kind,
        )
    console.print(table)
    if report.decisions_differ or strict:
        raise typer.Exit(1)


def download_command(
    *,
    start: Annotated[str, typer.Option(help="first day, YYYY-MM-DD")],
    end: Annotated[str | None, typer.Option(help="last day, YYYY-MM-DD (default: start)")] = None,
    symbols: Symbols = None,
    out: Annotated[Path, typer.Option("--out", help="cache folder")] = Path("data/bars"),
    feed: Annotated[
        str | None, typer.Option(help=f"{' or '.join(FEEDS)} (default: the config's data.feed)")
    ] = None,
    env_file: EnvFile = Path(".env"),
    config: ConfigFile = None,
) -> None:
    """Download 1-minute bars from Alpaca's data API into <out>/<SYMBOL>.csv (needs keys)."""
    from fleece.backtest.download import download
    from fleece.config import load_settings, require_api_keys
    from fleece.paper_lock import make_data_client, resolve_endpoints

    with user_errors():
        first = parse_day(start, "--start")
        last = parse_day(end, "--end") or first
        assert first is not None and last is not None
        settings = load_settings(env_file, os.environ)
        if settings.sim:
            raise ConfigError(
                "environment", "FLEECE_MODE", "sim has no market data to download; use paper"
            )
        require_api_keys(settings)
        trading = load_trading_config(config or Path(settings.config_path))
        wanted = parse_symbols(symbols) or list(trading.tickers)
        chosen_feed = (feed or trading.data.feed).lower()
        if chosen_feed not in FEEDS:
            raise ConfigError("command line", "--feed", f"{' or '.join(FEEDS)}, got {feed!r}")
        key = settings.alpaca_api_key.get_secret_value() if settings.alpaca_api_key else ""
        secret = settings.alpaca_secret_key.get_secret_value() if settings.alpaca_secret_key else ""
        client = make_data_client(key, secret, resolve_endpoints(settings).data_url, raw_data=True)
        columns = (TextColumn("download"), BarColumn(), TextColumn("{task.completed}/{task.total}"))
        with Progress(*columns, console=console, transient=True) as progress:
            task = progress.add_task("download", total=None)
            summary = download(
                client,
                wanted,
                first,
                last,
                out,
                feed=chosen_feed,
                progress=lambda done, total: progress.update(task, completed=done, total=total),
            )
    for symbol in wanted:
        got = summary.fetched.get(symbol, 0)
        held = summary.cached.get(symbol, 0)
        console.print(f"{symbol}: {got:,} bars fetched, {held:,} in {out / (symbol + '.csv')}")
