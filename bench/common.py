"""What both benchmark engines share: the data sets, the rules' parameters, the result format.

Each engine runs in its own process (so peak memory is its own) and writes one JSON document:
the bars it replayed, the seconds the replay took, its peak resident memory, the resident memory
before any bar existed (the interpreter and the libraries both sides import), and its trades.

The data sets (:data:`DATASETS`) are built here, once for both engines, as plain columns
(:class:`Columns`): each engine then turns them into its own form and lays them on the minute
grid its own way.

- ``synthetic``: the seed's 31 symbols x 252 seeded synthetic sessions, a bar at every minute.
- ``synthetic-sparse``: the same bars thinned as the IEX feed leaves minutes out
  (:func:`iex_keep`): each symbol loses its own share of minutes, between 2 % and 40 %, quiet
  minutes more often than busy ones.
- ``real``: the real SPY and IBM minute bars of October 2013 (extended hours and gaps included).
- ``real-sparse``: the same with 10 % of each symbol's minutes removed at random
  (:func:`random_keep`).
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import zlib
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import numpy.typing as npt

# bench/ sits in the repository; shared/ sits beside the repository root.
REPO = Path(__file__).resolve().parents[1]
REAL_BARS = REPO.parent / "shared" / "data" / "bars"
# The seed's 31 symbols (config/trading.yaml).
SEED_SYMBOLS = [
    "AAPL",
    "MSFT",
    "GOOGL",
    "NVDA",
    "QQQ",
    "SPY",
    "TSLA",
    "AMD",
    "AMZN",
    "META",
    "NFLX",
    "UBER",
    "COIN",
    "MSTR",
    "ARKK",
    "IWM",
    "EEM",
    "GLD",
    "TLT",
    "USO",
    "RTX",
    "LMT",
    "NOC",
    "BA",
    "GD",
    "GOLD",
    "SLV",
    "PAAS",
    "HL",
    "SCCO",
    "FCX",
]
FIRST_DAY = date(2024, 1, 2)
REAL_SYMBOLS = ("SPY", "IBM")
DATASETS = ("synthetic", "synthetic-sparse", "real", "real-sparse")
# IEX-like thinning: each symbol's share of empty minutes is drawn from this range.
IEX_SHARE = (0.02, 0.40)
# The real fixture's sparse variant: this share of each symbol's minutes removed at random.
REAL_DROP = 0.10
TICKS = 10_000  # price unit of both engines' rules: 1/10,000 dollar

# The rules both engines implement (the trading-runtime issue's strategy and risk limits).
FAST, MEDIUM, SLOW = 10, 30, 90
# donchian_breakout's channels (its defaults): previous minutes of highs to beat, of lows.
DONCHIAN_ENTRY, DONCHIAN_EXIT = 20, 10
STRATEGIES = ("sma_crossover", "donchian_breakout")
CASH = 100_000.0
MAX_POSITION_PCT = 0.10
MAX_DAILY_LOSS_PCT = 0.05
MAX_TRADES_PER_DAY = 20
MAX_CONCURRENT_POSITIONS = 10
# Housekeeping: an order still open this many minutes after it was sent is cancelled.
STALE_ORDER_MINUTES = 15


@dataclass(frozen=True)
class Trade:
    """One fill, as both engines report it."""

    timestamp: str  # fill instant, ISO-8601 UTC
    symbol: str
    side: str
    qty: int
    price: float


def in_order(trades: list[Trade]) -> list[Trade]:
    """``trades`` in the order both engines report them: by time, symbol, side, qty, price.

    (Two fills of one symbol can share an instant: an order that waited for the bar fills at
    its open, and the one the poll sent on seeing that fill fills at the same open.)
    """
    return sorted(trades, key=lambda t: (t.timestamp, t.symbol, t.side, t.qty, t.price))


@dataclass
class EngineResult:
    """What one engine's process reports."""

    engine: str
    dataset: str
    bars: int
    seconds: float
    baseline_rss_mb: float
    peak_rss_mb: float
    trades: list[Trade]
    # CPU time of the replay (time.process_time): what the engine itself costs, unlike wall
    # seconds, which other jobs on a shared machine stretch.
    cpu_seconds: float = 0.0
    # Symbol-minutes on the minute grid (real bars plus carried minutes), when the engine
    # counts them.
    grid_bars: int = 0
    # Each symbol's share of grid minutes without a bar (carried), when the engine counts them.
    carried_share: dict[str, float] = field(default_factory=dict)
    # The strategy both engines ran (STRATEGIES).
    strategy: str = STRATEGIES[0]

    @property
    def bars_per_second(self) -> float:
        return self.bars / self.seconds if self.seconds > 0 else float("inf")

    @property
    def bars_per_cpu_second(self) -> float:
        return self.bars / self.cpu_seconds if self.cpu_seconds > 0 else float("inf")

    @property
    def footprint_mb(self) -> float:
        """Peak memory above the baseline: the engine and its copy of the data."""
        return self.peak_rss_mb - self.baseline_rss_mb


@dataclass(frozen=True, eq=False)
class Columns:
    """One symbol's minute bars as columns: bar starts (epoch seconds, UTC), prices in dollars.

    Extended-hours bars are included when the source has them; each engine keeps the regular
    ones itself.
    """

    symbol: str
    ts: npt.NDArray[np.int64]
    open: npt.NDArray[np.float64]
    high: npt.NDArray[np.float64]
    low: npt.NDArray[np.float64]
    close: npt.NDArray[np.float64]
    volume: npt.NDArray[np.int64]

    def __len__(self) -> int:
        return len(self.ts)

    def take(self, keep: npt.NDArray[np.bool_]) -> Columns:
        """Only the rows where ``keep`` is True."""
        return Columns(
            self.symbol,
            self.ts[keep],
            self.open[keep],
            self.high[keep],
            self.low[keep],
            self.close[keep],
            self.volume[keep],
        )


def symbol_rng(symbol: str, seed: int, purpose: int) -> np.random.Generator:
    """A generator of its own per symbol (same seed, same draws, whatever the symbol order)."""
    return np.random.default_rng([seed, purpose, zlib.crc32(symbol.encode())])


def iex_keep(symbol: str, volume: npt.NDArray[np.int64], seed: int) -> npt.NDArray[np.bool_]:
    """Which minutes an IEX-like feed keeps: the symbol drops its own share of minutes, drawn
    from :data:`IEX_SHARE`; a minute's chance to be dropped falls linearly with its volume rank,
    from twice that share for the quietest minute to none for the busiest (mean: the share)."""
    rng = symbol_rng(symbol, seed, 1)
    share = rng.uniform(*IEX_SHARE)
    n = len(volume)
    rank = np.empty(n, dtype=np.float64)
    rank[np.argsort(volume, kind="stable")] = np.arange(n, dtype=np.float64)
    dropped = 2.0 * share * (1.0 - rank / max(n - 1, 1))
    return rng.random(n) >= dropped


def random_keep(symbol: str, n: int, share: float, seed: int) -> npt.NDArray[np.bool_]:
    """Keep all but ``round(share * n)`` rows, the removed ones drawn at random."""
    rng = symbol_rng(symbol, seed, 2)
    keep = np.ones(n, dtype=np.bool_)
    keep[rng.choice(n, round(share * n), replace=False)] = False
    return keep


def dataset_columns(dataset: str, days: int, symbols: list[str], seed: int) -> Iterator[Columns]:
    """The bars of ``dataset`` (one of :data:`DATASETS`), one symbol at a time.

    Args:
        dataset: the data set's name.
        days: synthetic sessions from :data:`FIRST_DAY`.
        symbols: the synthetic symbols (the real data sets are SPY and IBM).
        seed: the seed of the synthetic bars and of the thinning.
    """
    from fleece.calendar import MarketCalendar

    if dataset.startswith("real"):
        from fleece.backtest.data import load_market

        market = load_market(REAL_BARS, list(REAL_SYMBOLS))
        for symbol in market.symbols:
            bars = market.bars[symbol]
            columns = Columns(
                symbol,
                bars.ts,
                bars.open / TICKS,
                bars.high / TICKS,
                bars.low / TICKS,
                bars.close / TICKS,
                bars.volume.astype(np.int64),
            )
            if dataset == "real-sparse":
                columns = columns.take(random_keep(symbol, len(columns), REAL_DROP, seed))
            yield columns
        return
    from fleece.data.synthetic import generate_arrays

    sessions = MarketCalendar().sessions_from(FIRST_DAY, days)
    for symbol in symbols:
        a = generate_arrays(symbol, sessions, seed)
        columns = Columns(symbol, a.ts, a.open, a.high, a.low, a.close, a.volume)
        if dataset == "synthetic-sparse":
            columns = columns.take(iex_keep(symbol, columns.volume, seed))
        yield columns


def rss_mb() -> float:
    """Current resident memory of this process, in MB (Linux /proc)."""
    with Path("/proc/self/status").open() as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def arguments(description: str) -> argparse.Namespace:
    """The options every engine process takes."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--dataset", choices=DATASETS, default="synthetic")
    parser.add_argument("--days", type=int, default=252, help="synthetic sessions")
    parser.add_argument("--symbols", default=",".join(SEED_SYMBOLS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--strategy", choices=STRATEGIES, default=STRATEGIES[0])
    parser.add_argument(
        "--csv", type=Path, help="read <SYMBOL>.csv files of this folder instead of --dataset"
    )
    parser.add_argument("--out", type=Path, required=True, help="where to write the result JSON")
    return parser.parse_args()


def dataset_name(args: argparse.Namespace) -> str:
    """A label for the data set of ``args``."""
    if args.dataset == "real":
        return "real SPY+IBM (Oct 2013)"
    if args.dataset == "real-sparse":
        return f"real SPY+IBM (Oct 2013), {REAL_DROP:.0%} of minutes removed"
    count = len(args.symbols.split(","))
    label = f"synthetic {count} symbols x {args.days} sessions"
    if args.dataset == "synthetic-sparse":
        low, high = IEX_SHARE
        label += f", IEX-like ({low:.0%}-{high:.0%} of minutes removed per symbol)"
    return label


def write_result(result: EngineResult, out: Path) -> None:
    """Write ``result`` as JSON (the orchestrator reads it back)."""
    body = asdict(result)
    out.write_text(json.dumps(body))


def read_result(path: Path) -> EngineResult:
    """Read a result written by :func:`write_result`."""
    body = json.loads(path.read_text())
    body["trades"] = [Trade(**t) for t in body["trades"]]
    return EngineResult(**body)


def fail(message: str) -> None:
    """Print ``message`` on stderr and exit 1."""
    print(message, file=sys.stderr)
    raise SystemExit(1)
