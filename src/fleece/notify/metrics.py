"""The notification counters in Prometheus' terms (``/metrics`` of the running bot's dashboard).

``fleece_notifications_dropped_total`` counts events lost because the queue was full (a
destination slower than the bot's events); ``..._failed_total`` messages a destination never
accepted after its retries. Both should stay at 0; alert on either growing.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric

from fleece.notify.hub import Notifications


def notification_metrics(hub: Notifications) -> Iterator[Metric]:
    """The metric families of one hub (nothing when no destination is configured)."""
    delivery = hub.delivery
    if delivery is not None:
        for name, doc, value in (
            ("sent", "Messages delivered to at least one destination.", delivery.sent),
            (
                "dropped",
                "Events dropped because the notification queue was full.",
                delivery.dropped + hub.errors,
            ),
            ("failed", "Deliveries a destination refused after every retry.", delivery.failed),
        ):
            yield CounterMetricFamily(f"fleece_notifications_{name}", doc, value=value)
        yield GaugeMetricFamily(
            "fleece_notifications_queued", "Events waiting for delivery.", value=delivery.queued
        )
    if hub.pinger is not None:
        pings = CounterMetricFamily(
            "fleece_heartbeat_pings", "HEARTBEAT_URL pings by outcome.", labels=["outcome"]
        )
        pings.add_metric(["ok"], hub.pinger.ok)
        pings.add_metric(["failed"], hub.pinger.failed)
        yield pings
