"""What both benchmark engines share: the data sets, the rules' parameters, the result format.

Each engine runs in its own process (so peak memory is its own) and writes one JSON document:
the bars it replayed, the seconds the replay took, its peak resident memory, the resident memory
before any bar existed (the interpreter and the libraries both sides import), and its trades.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path

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

# The rules both engines implement (the trading-runtime issue's strategy and risk limits).
FAST, MEDIUM, SLOW = 10, 30, 90
CASH = 100_000.0
MAX_POSITION_PCT = 0.10
MAX_DAILY_LOSS_PCT = 0.05
MAX_TRADES_PER_DAY = 20
MAX_CONCURRENT_POSITIONS = 10


@dataclass(frozen=True)
class Trade:
    """One fill, as both engines report it."""

    timestamp: str  # fill instant, ISO-8601 UTC
    symbol: str
    side: str
    qty: int
    price: float


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
    parser.add_argument("--dataset", choices=("synthetic", "real"), default="synthetic")
    parser.add_argument("--days", type=int, default=252, help="synthetic sessions")
    parser.add_argument("--symbols", default=",".join(SEED_SYMBOLS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, required=True, help="where to write the result JSON")
    return parser.parse_args()


def dataset_name(args: argparse.Namespace) -> str:
    """A label for the data set of ``args``."""
    if args.dataset == "real":
        return "real SPY+IBM (Oct 2013)"
    count = len(args.symbols.split(","))
    return f"synthetic {count} symbols x {args.days} sessions"


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
