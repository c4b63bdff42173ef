"""The clock of a separately started exchange: never ahead of it, read about once per wait."""

import asyncio
from datetime import UTC, datetime, timedelta

from fleece.broker import MarketClock
from fleece.broker_clock import BrokerClock
from manual_time import ManualMonotonic

T0 = datetime(2024, 11, 25, 15, 0, tzinfo=UTC)


class FakeBroker:
    def __init__(self) -> None:
        self.stamp = T0

    async def clock(self) -> MarketClock:
        return MarketClock(self.stamp, True, T0 + timedelta(days=1), T0 + timedelta(hours=1))


def sync(clock: BrokerClock, broker: FakeBroker) -> None:
    asyncio.run(clock.sync(broker))  # type: ignore[arg-type]


def test_a_running_exchange_is_waited_for_with_one_nap_at_its_pace() -> None:
    real, broker = ManualMonotonic(), FakeBroker()
    clock = BrokerClock(real)
    sync(clock, broker)
    real.t += 1.0
    broker.stamp += timedelta(seconds=60)  # 60x
    sync(clock, broker)
    assert clock.now() == T0 + timedelta(seconds=60)
    assert clock.nap_before(T0 + timedelta(seconds=120)) == 1.0


def test_a_stepped_exchange_is_read_often_and_never_extrapolated() -> None:
    real, broker = ManualMonotonic(), FakeBroker()
    clock = BrokerClock(real)
    sync(clock, broker)
    real.t += 0.05
    sync(clock, broker)
    real.t += 10.0
    assert clock.now() == T0
    assert clock.nap_before(T0 + timedelta(minutes=1)) == 0.05


def test_time_never_goes_backwards_even_if_a_read_does() -> None:
    real, broker = ManualMonotonic(), FakeBroker()
    clock = BrokerClock(real)
    broker.stamp += timedelta(minutes=5)
    sync(clock, broker)
    broker.stamp -= timedelta(minutes=1)
    real.t += 1.0
    sync(clock, broker)
    assert clock.now() == T0 + timedelta(minutes=5)
