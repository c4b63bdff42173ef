"""Specification of delivery: batching, a bounded queue, retries per destination, masking.

Real apprise (``json://``) against local receivers on 127.0.0.1; the only stand-in is the pause
between retries, skipped so that no test waits on the wall clock.
"""

from __future__ import annotations

from datetime import UTC, datetime

from notify_helpers import receiver, silent
from prometheus_client import CollectorRegistry, generate_latest

from fleece.logs import Redactor
from fleece.models import Fill, Side
from fleece.notify.delivery import DeliveryOptions, DeliveryQueue, failure_text
from fleece.notify.destinations import AppriseDestination
from fleece.notify.events import ErrorRaised, FillNotice
from fleece.notify.hub import Notifications
from fleece.notify.metrics import notification_metrics

AT = datetime(2024, 11, 26, 15, 0, tzinfo=UTC)
SECRET = "PKTESTSECRET0123456789"


def fill(symbol: str, side: Side = Side.BUY, qty: int = 10) -> FillNotice:
    return FillNotice(Fill(f"cid-{symbol}", "oid", symbol, side, qty, 101.25, AT), None)


def queue_to(
    *urls: str,
    size: int = 100,
    retries: int = 2,
    batch: float = 30.0,
    pauses: list[float] | None = None,
) -> DeliveryQueue:
    """A queue to ``urls`` whose pauses between retries are skipped (and listed in ``pauses``)."""
    return DeliveryQueue(
        [AppriseDestination(url) for url in urls],
        DeliveryOptions(queue_size=size, retries=retries, batch_seconds=batch),
        Redactor([SECRET]),
        sleep=(pauses if pauses is not None else []).append,
    )


def test_fills_arriving_together_go_out_as_one_message() -> None:
    with receiver() as hook:
        delivery = queue_to(f"json://{hook.url}/")
        delivery.start()
        for symbol in ("AAPL", "MSFT", "SPY", "NVDA", "TSLA"):
            delivery.put(fill(symbol))
        left = delivery.close(timeout=30)

        messages = hook.messages()
    assert left == 0
    assert len(messages) == 1
    assert messages[0]["title"] == "alpaca-fleece: 5 fills (5 buys, 0 sells)"
    assert "BUY 10 TSLA @ 101.2500" in messages[0]["message"]


def test_a_full_queue_drops_new_events_and_counts_them_without_blocking() -> None:
    with silent() as hanging:
        delivery = queue_to(f"json://{hanging}/?rto=30&cto=30", size=10, batch=0)
        delivery.start()
        for n in range(40):
            delivery.put(ErrorRaised(AT, "test", f"error {n}"))

        assert delivery.dropped >= 40 - 10 - 1  # one may be in the worker's hands
        assert delivery.close(timeout=0.2) > 0  # the stop does not wait for a hanging one


def test_a_failing_destination_is_retried_alone_and_counted() -> None:
    with receiver() as good, receiver(status=500) as bad:
        delivery = queue_to(f"json://{good.url}/", f"json://{bad.url}/", retries=2)
        delivery.start()
        delivery.put(ErrorRaised(AT, "task polling", "boom"))
        delivery.close(timeout=30)

        assert len(good.messages()) == 1  # delivered once, not once per retry
        assert len(bad.messages()) == 3  # the first attempt and two retries
    assert (delivery.sent, delivery.failed) == (1, 1)


def test_the_pause_between_retries_doubles_from_one_second_and_stops_at_thirty() -> None:
    # One worker thread holds every later message while it waits: the most retries the
    # config allows (10) must not mean a 17-minute wait per message.
    pauses: list[float] = []
    with receiver(status=500) as bad:
        delivery = queue_to(f"json://{bad.url}/", retries=10, pauses=pauses)
        delivery.start()
        delivery.put(ErrorRaised(AT, "task polling", "boom"))
        delivery.close(timeout=60)

        assert len(bad.messages()) == 11
    assert pauses == [1, 2, 4, 8, 16, 30, 30, 30, 30, 30]


def test_a_secret_in_an_event_never_reaches_the_destination() -> None:
    with receiver() as hook:
        delivery = queue_to(f"json://{hook.url}/")
        delivery.start()
        delivery.put(ErrorRaised(AT, "task polling", f"401 for key {SECRET}"))
        delivery.close(timeout=30)

        assert SECRET not in hook.text()
        assert "401 for key ***" in hook.messages()[0]["message"]


def test_a_destination_s_failure_reads_as_one_masked_line_or_its_type() -> None:
    redact = Redactor(["hook-key-12345"])

    said = failure_text(OSError("refused by\n https://x/hook-key-12345"), redact)

    assert said == "refused by https://x/***"
    assert failure_text(TimeoutError(), redact) == "TimeoutError"


def test_the_dropped_messages_are_a_prometheus_counter() -> None:
    with silent() as hanging:
        delivery = queue_to(f"json://{hanging}/?rto=30&cto=30", size=10, batch=0)
        hub = Notifications(delivery=delivery, pinger=None, kinds=["error"])
        hub.start()
        for n in range(15):
            hub.emit(ErrorRaised(AT, "test", f"error {n}"))
        registry = CollectorRegistry()
        registry.register(type("C", (), {"collect": lambda self: notification_metrics(hub)})())

        text = generate_latest(registry).decode()
        delivery.close(timeout=0.1)
    assert f"fleece_notifications_dropped_total {float(delivery.dropped)}" in text
    assert delivery.dropped >= 4
    assert "fleece_notifications_queued " in text


def test_events_below_the_minimum_level_or_not_chosen_are_not_sent() -> None:
    with receiver() as hook:
        delivery = queue_to(f"json://{hook.url}/")
        hub = Notifications(delivery=delivery, pinger=None, kinds=["error"])
        hub.start()
        hub.emit(fill("AAPL"))  # kind 'fill' not chosen
        hub.emit(ErrorRaised(AT, "task polling", "boom"))
        hub.close(exit_code=0)

        assert hook.titles() == ["alpaca-fleece: error in task polling"]
