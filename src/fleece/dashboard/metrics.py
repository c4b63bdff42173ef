"""``/metrics``: the bot in Prometheus' text format, from a registry owned by one app.

Most figures are read at scrape time from the same :class:`~fleece.dashboard.view.DashboardView`
the page uses, which reads the bot's snapshot (:mod:`fleece.read_model`): a custom collector,
so nothing is kept twice and nothing is global. Two things need observing as they happen: the
latency of each bar poll (a histogram fed by the poller's ``on_poll`` hook) and the broker
request rate, sampled every second against Alpaca's limit of 200 requests a minute, which
gives the rate-limit headroom.

Durations are real seconds (they measure HTTP round trips); ages are in the bot's clock, like
everything else the bot decides on (simulated seconds in sim mode).
"""

from __future__ import annotations

import time
from collections import Counter, deque
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric

from fleece.clock import seconds_since
from fleece.models import REQUESTS_PER_MINUTE, TradingState

if TYPE_CHECKING:
    from fleece.dashboard.view import DashboardView

RATE_WINDOW_SECONDS = 60.0
POLL_LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class RequestRate:
    """Broker requests over the last minute of real time, against Alpaca's per-minute limit.

    Args:
        limit: requests allowed per window.
        window_seconds: the window's length.
        monotonic: the real-time source (injected for tests).
    """

    def __init__(
        self,
        limit: int = REQUESTS_PER_MINUTE,
        window_seconds: float = RATE_WINDOW_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit = limit
        self._window = window_seconds
        self._monotonic = monotonic
        self._samples: deque[tuple[float, int]] = deque()

    def sample(self, total: int) -> None:
        """Record the broker's running request total now."""
        now = self._monotonic()
        self._samples.append((now, total))
        # Keep one sample at or before the window's start: the baseline of the count.
        while len(self._samples) > 2 and self._samples[1][0] <= now - self._window:
            self._samples.popleft()

    def in_window(self) -> int:
        """Requests made in the last window (since the first sample while younger)."""
        if not self._samples:
            return 0
        return self._samples[-1][1] - self._samples[0][1]

    def headroom(self) -> int:
        """Requests still allowed in the current window (negative: over the limit)."""
        return self.limit - self.in_window()


class Metrics:
    """The registry of one dashboard app.

    Args:
        view: what the figures are read from.
        monotonic: the real-time source of the request-rate window.
    """

    def __init__(
        self, view: DashboardView, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.rate = RequestRate(monotonic=monotonic)
        self.poll_latency = Histogram(
            "fleece_poll_latency_seconds",
            "Real seconds each bar poll's broker round trip took, retries included.",
            ["outcome"],
            buckets=POLL_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self._view = view
        self.registry.register(_BotCollector(view, self.rate))

    def observe_poll(self, seconds: float, ok: bool) -> None:
        """Record one poll's latency (the poller's ``on_poll`` hook)."""
        self.poll_latency.labels(outcome="ok" if ok else "error").observe(seconds)

    def sample_requests(self) -> None:
        """Sample the broker's request total (every second, and at each scrape)."""
        live = self._view.live
        activity = live.latest.activity if live is not None else None
        if activity is not None:
            self.rate.sample(sum(activity.requests.values()))

    def render(self) -> bytes:
        """The exposition text of every metric."""
        self.sample_requests()
        return generate_latest(self.registry)


def _gauge(name: str, doc: str, value: float, unit: str = "") -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, value=value, unit=unit)


class _BotCollector:
    """Reads the figures at scrape time."""

    def __init__(self, view: DashboardView, rate: RequestRate) -> None:
        self._view = view
        self._rate = rate

    def collect(self) -> Iterator[Metric]:
        yield from self._account()
        yield from self._orders()
        yield from self._state()
        yield from self._live()
        live = self._view.live
        if live is not None and live.events is not None:  # notifications: sent, dropped ...
            from fleece.notify.metrics import notification_metrics

            yield from notification_metrics(live.events)

    def _account(self) -> Iterator[Metric]:
        view = self._view
        account = view.account()
        yield _gauge("fleece_bot_running", "1 when a bot runs in this process.", view.running)
        for name, doc, value in (
            ("fleece_equity_dollars", "Account equity.", account.equity),
            ("fleece_cash_dollars", "Account cash.", account.cash),
            ("fleece_buying_power_dollars", "Account buying power.", account.buying_power),
            (
                "fleece_pnl_today_dollars",
                "Equity change since the session start.",
                account.pnl_today,
            ),
        ):
            if value is not None:
                yield _gauge(name, doc, value)
        yield _gauge(
            "fleece_realised_pnl_dollars", "Realised P&L of all fills.", account.realised_pnl
        )
        yield _gauge("fleece_trades_today", "Orders submitted this session.", account.trades_today)
        yield _gauge(
            "fleece_max_trades_per_day", "risk.max_trades_per_day.", account.max_trades_per_day
        )
        yield _gauge(
            "fleece_daily_loss_ratio",
            "Fraction of start equity lost today.",
            account.daily_loss_pct,
        )
        yield _gauge(
            "fleece_max_daily_loss_ratio", "risk.max_daily_loss_pct.", account.max_daily_loss_pct
        )
        positions = view.positions()
        yield _gauge("fleece_positions", "Open positions.", len(positions))
        shares = GaugeMetricFamily("fleece_position_shares", "Shares held.", labels=["symbol"])
        for p in positions:
            shares.add_metric([p.symbol], p.qty)
        yield shares

    def _orders(self) -> Iterator[Metric]:
        store = self._view.store
        by_status = Counter(r.status.value for r in store.all_intents())
        orders = GaugeMetricFamily("fleece_orders", "Order intents by status.", labels=["status"])
        for status, count in sorted(by_status.items()):
            orders.add_metric([status], count)
        yield orders
        fills = CounterMetricFamily("fleece_fills", "Fills recorded, by side.", labels=["side"])
        sides = Counter(f.side.value for f in self._view.fill_history())
        for side in ("buy", "sell"):
            fills.add_metric([side], sides[side])
        yield fills
        refusals = CounterMetricFamily(
            "fleece_refusals", "Signals the risk manager refused, by reason.", labels=["reason"]
        )
        for reason, count in store.refusal_counts().items():
            refusals.add_metric([reason], count)
        yield refusals

    def _state(self) -> Iterator[Metric]:
        status = self._view.status()
        state = GaugeMetricFamily(
            "fleece_trading_state", "1 for the current trading state.", labels=["state"]
        )
        for candidate in TradingState:
            state.add_metric([candidate.value], float(candidate is status.state))
        yield state
        yield _gauge("fleece_kill_switch", "1 while the kill switch is on.", status.kill_switch)
        yield _gauge(
            "fleece_circuit_breaker_tripped",
            "1 while the circuit breaker is tripped.",
            status.circuit_breaker_tripped,
        )
        yield _gauge(
            "fleece_circuit_breaker_failures",
            "Consecutive order failures counted by the circuit breaker.",
            status.circuit_breaker_failures,
        )
        yield _gauge("fleece_market_open", "1 while a regular session is open.", status.market_open)
        if status.last_bar_age_seconds is not None:
            yield _gauge(
                "fleece_last_bar_age_seconds",
                "Bot-clock seconds since the newest bar closed.",
                status.last_bar_age_seconds,
            )
        if status.last_heartbeat_age_seconds is not None:
            yield _gauge(
                "fleece_heartbeat_age_seconds",
                "Bot-clock seconds since the last heartbeat.",
                status.last_heartbeat_age_seconds,
            )

    def _live(self) -> Iterator[Metric]:
        live = self._view.live
        snap = live.latest if live is not None else None
        if live is None or snap is None or snap.activity is None:
            return
        activity = snap.activity
        requests = CounterMetricFamily(
            "fleece_broker_requests",
            "Broker API requests by endpoint and outcome (ok, an HTTP status, or net).",
            labels=["endpoint", "status"],
        )
        errors = CounterMetricFamily(
            "fleece_broker_errors",
            "Failed broker API requests by endpoint and status.",
            labels=["endpoint", "status"],
        )
        failed: Counter[str] = Counter()
        for key, count in sorted(activity.errors.items()):
            endpoint, _, status = key.rpartition(":")
            failed[endpoint] += count
            requests.add_metric([endpoint, status], count)
            errors.add_metric([endpoint, status], count)
        for endpoint, count in sorted(activity.requests.items()):
            requests.add_metric([endpoint, "ok"], max(count - failed[endpoint], 0))
        yield requests
        yield errors
        yield _gauge(
            "fleece_broker_requests_last_minute",
            "Broker requests in the last minute of real time.",
            self._rate.in_window(),
        )
        yield _gauge(
            "fleece_rate_limit_headroom",
            f"Requests left in the last minute under Alpaca's {self._rate.limit}/minute limit.",
            self._rate.headroom(),
        )
        yield CounterMetricFamily("fleece_polls", "Bar polls sent.", value=activity.polls)
        bad = CounterMetricFamily(
            "fleece_bad_bars", "Bars skipped as invalid, by reason.", labels=["reason"]
        )
        for reason, count in sorted(activity.skipped_bars.items()):
            bad.add_metric([reason], count)
        yield bad
        yield CounterMetricFamily("fleece_bars", "Bars received.", value=activity.bars)
        yield CounterMetricFamily("fleece_signals", "Strategy signals.", value=activity.signals)
        health = self._view.health()
        yield _gauge("fleece_healthy", "1 when /healthz answers 200.", health.ok)
        if snap.last_poll_at is not None:
            yield _gauge(
                "fleece_last_poll_age_seconds",
                "Bot-clock seconds since the last successful poll.",
                seconds_since(live.clock.now(), snap.last_poll_at) or 0.0,
            )
