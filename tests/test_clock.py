"""Specification of the simulated clock: paused while the bot starts, held at its next poll."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fleece.clock import ScaledClock, seconds_since
from manual_time import ManualMonotonic

START = datetime(2024, 1, 2, 14, 30, tzinfo=UTC)


def test_a_paused_clock_stands_still_however_long_real_time_runs() -> None:
    real = ManualMonotonic()
    clock = ScaledClock(START, speed=300, monotonic=real)
    real.t += 1  # 300 simulated seconds

    clock.pause()
    real.t += 10

    assert clock.paused
    assert clock.now() == START + timedelta(seconds=300)


def test_resuming_goes_on_from_the_paused_instant_at_the_same_speed() -> None:
    real = ManualMonotonic()
    clock = ScaledClock(START, speed=300, monotonic=real)
    clock.pause()
    real.t += 60

    clock.resume()
    real.t += 2

    assert not clock.paused
    assert clock.now() == START + timedelta(seconds=600)


def test_a_paused_clock_still_advances_when_told_to() -> None:
    real = ManualMonotonic()
    clock = ScaledClock(START, speed=300, monotonic=real)
    clock.pause()

    moved = clock.advance(timedelta(hours=17))
    real.t += 5

    assert moved == clock.now() == START + timedelta(hours=17)


def test_pausing_or_resuming_twice_changes_nothing() -> None:
    real = ManualMonotonic()
    clock = ScaledClock(START, speed=10, monotonic=real)
    clock.pause()
    clock.pause()
    real.t += 3
    clock.resume()
    real.t += 1
    clock.resume()

    assert clock.now() == START + timedelta(seconds=10)


def test_a_clock_built_paused_holds_its_start_until_resumed() -> None:
    real = ManualMonotonic()
    clock = ScaledClock(START, speed=300, monotonic=real, paused=True)
    real.t += 30

    assert clock.now() == START
    clock.resume()
    real.t += 1
    assert clock.now() == START + timedelta(seconds=300)


def test_a_held_clock_runs_up_to_the_hold_and_waits_there() -> None:
    real = ManualMonotonic()
    clock = ScaledClock(START, 60.0, monotonic=real)
    clock.hold_at(START + timedelta(minutes=1, seconds=5))

    real.t += 1.0  # one simulated minute: not there yet
    before = clock.now()
    real.t += 100.0  # far past the hold in real time
    held = clock.now()

    assert before == START + timedelta(minutes=1)
    assert held == START + timedelta(minutes=1, seconds=5)


def test_the_next_hold_lets_time_run_on_from_the_held_instant() -> None:
    real = ManualMonotonic()
    clock = ScaledClock(START, 60.0, monotonic=real)
    clock.hold_at(START + timedelta(seconds=5))
    real.t += 10.0
    clock.now()  # reaches the hold and waits

    clock.hold_at(START + timedelta(minutes=1, seconds=5))
    real.t += 0.5

    assert clock.now() == START + timedelta(seconds=35)  # no jump for the time spent waiting


def test_a_hold_already_passed_is_ignored_and_time_never_goes_back() -> None:
    real = ManualMonotonic()
    clock = ScaledClock(START, 60.0, monotonic=real)
    real.t += 2.0

    clock.hold_at(START + timedelta(minutes=1))

    assert clock.now() == START + timedelta(minutes=2)


def test_a_jump_past_the_hold_drops_it_and_releasing_lets_time_run() -> None:
    real = ManualMonotonic()
    clock = ScaledClock(START, 60.0, monotonic=real)
    clock.hold_at(START + timedelta(seconds=5))
    real.t += 1.0
    assert clock.now() == START + timedelta(seconds=5)

    clock.advance(timedelta(hours=17))  # a skipped night
    real.t += 1.0
    assert clock.now() == START + timedelta(hours=17, seconds=65)

    clock.hold_at(clock.now() + timedelta(seconds=1))
    real.t += 1.0
    clock.release()
    real.t += 1.0
    assert clock.now() == START + timedelta(hours=17, seconds=126)


def test_an_age_is_seconds_since_never_negative_and_unknown_without_a_time() -> None:
    assert seconds_since(START, START - timedelta(seconds=42)) == 42.0
    assert seconds_since(START, START + timedelta(seconds=2)) == 0.0
    assert seconds_since(START, None) is None
