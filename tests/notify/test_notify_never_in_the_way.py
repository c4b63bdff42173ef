"""Specification: a notifier that never answers does not move any order.

The same stepped session twice: once without notifications, once with ``NOTIFY_URLS`` pointing at
a port that accepts connections and never answers a byte (apprise waits for its read timeout,
retries, waits again). The exchange sees the very same orders, with the same client_order_ids,
submitted at the same simulated instants, with the same fills. The notifications that could not
go out are counted (queued, dropped), and the stop waits for them only ``flush_seconds``.

The real time from a bar reaching the trader to its order leaving is printed for both runs (run
pytest with ``-s``): it is reported, never asserted, since a loaded machine moves it.
"""

from __future__ import annotations

import asyncio
import statistics
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from notify_helpers import silent
from runtime_helpers import EIGHT_SYMBOLS, ny, scenario_files, stepped_bot, stepped_market_of

from fleece.notify.delivery import DeliveryQueue

MINUTES = 40


@dataclass(frozen=True)
class Run:
    """What the exchange saw, and what the bot measured and counted."""

    orders: list[tuple[str, datetime, str, int, float | None]]
    to_send_ms: list[float]
    notifier: DeliveryQueue | None


def trade(root: Path, notify_urls: str | None) -> Run:
    """Forty market minutes of the second session from 09:45, then a graceful stop."""
    paths = scenario_files(
        root,
        EIGHT_SYMBOLS,
        notifications={"queue_size": 10, "retries": 1, "flush_seconds": 1.0},
        # The market stands still during the stop (a moving one would move in real time, and
        # place the closing orders at whatever minute it had reached): they are sent at the
        # same instant, then the stop waits briefly for fills that cannot come.
        shutdown={"grace_seconds": 2.0},
    )
    extra = {"NOTIFY_URLS": notify_urls} if notify_urls else {}

    async def scenario() -> Run:
        with stepped_market_of(EIGHT_SYMBOLS, ny("09:45")) as market:
            harness = await stepped_bot(paths, market, **extra)
            await harness.step(MINUTES)
            await harness.stop(keep_market_moving=False)
            orders = [
                (
                    o.client_order_id,
                    o.submitted_at,
                    o.status.value,
                    o.filled_qty,
                    o.filled_avg_price,
                )
                for o in market.orders()
            ]
            assert harness.bot.trader is not None
            latency = [s * 1000 for s in harness.bot.trader.latency.send_samples]
            return Run(orders, latency, harness.bot.events.delivery)

    return asyncio.run(scenario())


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0


def test_a_notifier_that_never_answers_moves_no_order(tmp_path: Path) -> None:
    quiet = trade(tmp_path / "without", None)
    with silent() as hanging:
        notified = trade(tmp_path / "with", f"json://{hanging}/?rto=2&cto=2")

    assert quiet.orders, "the session must trade"
    assert notified.orders == quiet.orders
    assert notified.notifier is not None
    assert notified.notifier.sent == 0  # nothing ever got through...
    assert notified.notifier.dropped + notified.notifier.queued > 0  # ...and it was counted
    print(  # the figures for the closing note (pytest -s)
        f"\norders={len(quiet.orders)} bar-to-send median/max ms: without notifier "
        f"{_median(quiet.to_send_ms):.2f}/{max(quiet.to_send_ms):.2f}, with a hanging one "
        f"{_median(notified.to_send_ms):.2f}/{max(notified.to_send_ms):.2f}; "
        f"dropped={notified.notifier.dropped} queued={notified.notifier.queued}"
    )
