"""Specification of the simulated clock's pause: simulated time waits while the bot starts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fleece.clock import ScaledClock

START = datetime(2024, 1, 2, 14, 30, tzinfo=UTC)


class FakeMonotonic:
    """Real seconds, moved by hand."""

    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_a_paused_clock_stands_still_however_long_real_time_runs() -> None:
    real = FakeMonotonic()
    clock = ScaledClock(START, speed=300, monotonic=real)
    real.t += 1  # 300 simulated seconds

    clock.pause()
    real.t += 10

    assert clock.paused
    assert clock.now() == START + timedelta(seconds=300)


def test_resuming_goes_on_from_the_paused_instant_at_the_same_speed() -> None:
    real = FakeMonotonic()
    clock = ScaledClock(START, speed=300, monotonic=real)
    clock.pause()
    real.t += 60

    clock.resume()
    real.t += 2

    assert not clock.paused
    assert clock.now() == START + timedelta(seconds=600)


def test_a_paused_clock_still_advances_when_told_to() -> None:
    real = FakeMonotonic()
    clock = ScaledClock(START, speed=300, monotonic=real)
    clock.pause()

    moved = clock.advance(timedelta(hours=17))
    real.t += 5

    assert moved == clock.now() == START + timedelta(hours=17)


def test_pausing_or_resuming_twice_changes_nothing() -> None:
    real = FakeMonotonic()
    clock = ScaledClock(START, speed=10, monotonic=real)
    clock.pause()
    clock.pause()
    real.t += 3
    clock.resume()
    real.t += 1
    clock.resume()

    assert clock.now() == START + timedelta(seconds=10)


def test_a_clock_built_paused_holds_its_start_until_resumed() -> None:
    real = FakeMonotonic()
    clock = ScaledClock(START, speed=300, monotonic=real, paused=True)
    real.t += 30

    assert clock.now() == START
    clock.resume()
    real.t += 1
    assert clock.now() == START + timedelta(seconds=300)
