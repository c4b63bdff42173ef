"""The clock of a separately started exchange: extrapolated when steady, re-read when stepped."""

import asyncio
from datetime import UTC, datetime, timedelta

from fleece.broker import MarketClock
from fleece.runtime import _BrokerClock

T0 = datetime(2024, 11, 25, 15, 0, tzinfo=UTC)


class FakeTime:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


class FakeBroker:
    def __init__(self) -> None:
        self.stamp = T0
        self.reads = 0

    async def clock(self) -> MarketClock:
        self.reads += 1
        return MarketClock(self.stamp, True, T0 + timedelta(days=1), T0 + timedelta(hours=1))


def sync(clock: _BrokerClock, broker: FakeBroker) -> None:
    asyncio.run(clock.sync(broker))  # type: ignore[arg-type]


def test_a_running_exchange_is_extrapolated_at_its_measured_rate() -> None:
    real, broker = FakeTime(), FakeBroker()
    clock = _BrokerClock(real)
    for _ in range(3):  # three reads one real second apart at 60x
        sync(clock, broker)
        real.t += 1.0
        broker.stamp += timedelta(seconds=60)
    real.t -= 0.5  # half a second after the last read
    assert clock.now() == T0 + timedelta(seconds=120 + 30)
    assert clock.resync_after == 1.0


def test_a_stepped_exchange_is_never_extrapolated() -> None:
    real, broker = FakeTime(), FakeBroker()
    clock = _BrokerClock(real)
    sync(clock, broker)
    real.t += 0.05
    broker.stamp += timedelta(minutes=30)  # the operator advances it
    sync(clock, broker)
    real.t += 0.05
    sync(clock, broker)  # and it stands still again
    real.t += 5.0
    assert clock.now() == T0 + timedelta(minutes=30)
    assert clock.resync_after == 0.05


def test_a_skipped_night_does_not_change_the_rate_and_time_never_goes_backwards() -> None:
    real, broker = FakeTime(), FakeBroker()
    clock = _BrokerClock(real)
    for _ in range(3):
        sync(clock, broker)
        real.t += 1.0
        broker.stamp += timedelta(seconds=60)
    broker.stamp += timedelta(hours=17)  # night skipped between two reads
    sync(clock, broker)
    real.t += 0.5
    after_jump = clock.now()
    assert after_jump == broker.stamp + timedelta(seconds=30)
    broker.stamp -= timedelta(seconds=10)  # a read earlier than our extrapolation
    sync(clock, broker)
    assert clock.now() >= after_jump
