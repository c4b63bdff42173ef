"""What one run of the bot counts, and reports at the end (the demo's summary reads it)."""

from __future__ import annotations

import logging
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from fleece.calendar import ONE_MINUTE
from fleece.models import Bar

if TYPE_CHECKING:
    from fleece.broker import Broker

# The runtime's own lines, under its name wherever the code lives (operators grep for it).
log = logging.getLogger("fleece.runtime")


@dataclass(frozen=True, slots=True)
class MinuteBars:
    """The grid's bars of the minutes a poll judged (minute by minute, symbols in order)."""

    bars: tuple[Bar, ...]


class DecisionTimer:
    """Real time from a bar reaching the trader to the order call, for bars that caused one.

    ``samples``: to the call of the order manager (strategy and risk decided: the decision
    latency). ``send_samples``: to the moment the HTTP request leaves, which adds the intent's
    write-ahead commits (each fsynced). Neither counts the HTTP poll that fetched the bar, nor the
    wait behind earlier bars of the same poll. Seconds; the newest ``keep`` only, so memory stays
    flat over a long run.
    """

    def __init__(self, keep: int = 10_000) -> None:
        self.samples: deque[float] = deque(maxlen=keep)
        self.send_samples: deque[float] = deque(maxlen=keep)
        self._started: float | None = None

    def bar_arrived(self) -> None:
        """A bar reached the trader: start timing."""
        self._started = time.perf_counter()

    def order_decided(self) -> None:
        """The order for the current bar goes to the order manager."""
        if self._started is not None:
            self.samples.append(time.perf_counter() - self._started)

    def order_called(self) -> None:
        """The order for the current bar is about to be sent to the broker."""
        if self._started is not None:
            self.send_samples.append(time.perf_counter() - self._started)
            self._started = None

    def percentile(self, q: float, send: bool = False) -> float | None:
        """The ``q`` quantile (0..1) in seconds (of ``send_samples`` if ``send``); None if none."""
        series = self.send_samples if send else self.samples
        if not series:
            return None
        ordered = sorted(series)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


@dataclass
class RunStats:
    """Figures a run reports at the end (the demo's summary reads them)."""

    started_sim: datetime | None = None
    stopped_sim: datetime | None = None
    polls: int = 0
    bars: int = 0
    late_bars: int = 0
    requests: dict[str, int] = field(default_factory=dict)
    #: Per symbol: minutes of the grid the strategy stepped, and how many of them had no bar.
    grid_minutes: dict[str, int] = field(default_factory=dict)
    empty_minutes: dict[str, int] = field(default_factory=dict)
    exit_reason: str = ""

    @property
    def requests_total(self) -> int:
        """Broker requests the run made, bars included."""
        return sum(self.requests.values())

    @property
    def requests_per_market_minute(self) -> float:
        """Requests per minute of trading: the bot polls once per market minute."""
        return self.requests_total / self.polls if self.polls else 0.0

    def simulated_minutes(self) -> float:
        """Simulated (or real) minutes the run covered."""
        if self.started_sim is None or self.stopped_sim is None:
            return 0.0
        return max((self.stopped_sim - self.started_sim) / ONE_MINUTE, 0.0)


def log_run_end(stats: RunStats, latency: DecisionTimer | None, broker: Broker | None) -> None:
    """The run's figures in the log: minutes, polls, bars, requests; the decision latency."""
    if broker is not None:
        log.info(
            "run stats minutes=%.0f polls=%d bars=%d requests=%d per_market_minute=%.2f %s",
            stats.simulated_minutes(),
            stats.polls,
            stats.bars,
            stats.requests_total,
            stats.requests_per_market_minute,
            " ".join(f"{k}={v}" for k, v in sorted(stats.requests.items())),
        )
    if latency is not None and latency.samples:
        log.info(
            "decision latency orders=%d p50_ms=%.3f p99_ms=%.3f max_ms=%.3f"
            " to_send_p50_ms=%.3f to_send_p99_ms=%.3f",
            len(latency.samples),
            (latency.percentile(0.50) or 0.0) * 1000,
            (latency.percentile(0.99) or 0.0) * 1000,
            max(latency.samples) * 1000,
            (latency.percentile(0.50, send=True) or 0.0) * 1000,
            (latency.percentile(0.99, send=True) or 0.0) * 1000,
        )
