"""Injected time: nothing in the decision core calls ``datetime.now()``.

Three clocks implement :class:`Clock`: :class:`SystemClock` (live), :class:`ScaledClock`
(the built-in exchange's simulated market, ``speed`` times real time; ``speed == 0`` stands still
until :meth:`ScaledClock.advance`), and :class:`ManualClock` (tests).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Protocol

from fleece.models import require_utc


def seconds_since(now: datetime, then: datetime | None) -> float | None:
    """Seconds from ``then`` to ``now``, never negative (None when ``then`` is unknown): the age
    of a heartbeat, a bar or a poll wherever it is shown (a store written by a clock a little
    ahead of the reader's reads as just now, not as the future)."""
    return max((now - then).total_seconds(), 0.0) if then is not None else None


class Clock(Protocol):
    """Anything that can tell the current UTC time."""

    def now(self) -> datetime:
        """Return the current time, timezone-aware UTC."""
        ...


class SystemClock:
    """The wall clock."""

    def now(self) -> datetime:
        """Return the real current time in UTC."""
        return datetime.now(UTC)


class ManualClock:
    """A clock that moves only when told to (tests)."""

    def __init__(self, start: datetime) -> None:
        self._now = require_utc(start).astimezone(UTC)

    def now(self) -> datetime:
        """Return the clock's time."""
        return self._now

    def set(self, ts: datetime) -> None:
        """Jump to ``ts`` (may not go backwards)."""
        ts = require_utc(ts).astimezone(UTC)
        if ts < self._now:
            raise ValueError("a clock never goes backwards")
        self._now = ts

    def advance(self, delta: timedelta) -> datetime:
        """Move forward by ``delta`` and return the new time."""
        self.set(self._now + delta)
        return self._now


class ScaledClock:
    """Simulated time running at ``speed`` times real time from ``start``.

    Thread-safe: the exchange's HTTP handlers and the bot read it from different threads.
    ``advance`` adds a fixed offset (used by the stepped mode, ``speed == 0``, and by the
    exchange to skip nights and weekends).
    """

    def __init__(
        self,
        start: datetime,
        speed: float = 1.0,
        monotonic: Callable[[], float] = time.monotonic,
        paused: bool = False,
    ) -> None:
        if speed < 0:
            raise ValueError("speed must be >= 0")
        self._start = require_utc(start).astimezone(UTC)
        self._speed = speed
        self._monotonic = monotonic
        self._t0 = monotonic()
        self._offset = timedelta(0)
        self._paused = paused
        self._hold: datetime | None = None
        self._held = False  # paused because time reached the hold
        self._lock = threading.Lock()

    @property
    def speed(self) -> float:
        """How many simulated seconds pass per real second (0: stepped)."""
        return self._speed

    def now(self) -> datetime:
        """Return the simulated current time (never past a :meth:`hold_at` instant)."""
        with self._lock:
            return self._apply_hold()

    def _raw_now(self) -> datetime:
        return self._start + self._offset + timedelta(seconds=self._elapsed())

    def _apply_hold(self) -> datetime:
        """The current time, pausing exactly at the hold if time has reached it."""
        now = self._raw_now()
        if self._hold is not None and now >= self._hold and not self._paused:
            self._offset = self._hold - self._start
            self._paused = self._held = True
            now = self._hold
        return now

    def hold_at(self, ts: datetime) -> None:
        """Let time run up to ``ts`` at most, then wait there until the next hold or release.

        In sim mode the bot holds its built-in exchange's clock at its next poll, so that every
        poll cycle happens at the same simulated instant however busy the machine is: the run
        is then deterministic, and its trades are those of a backtest on the same bars. A hold
        already passed is ignored (time never goes backwards).
        """
        target = require_utc(ts).astimezone(UTC)
        with self._lock:
            if target < self._apply_hold():
                self._hold = None
                return
            self._hold = target
            if self._held and self._raw_now() < target:
                self._unhold()

    def release(self) -> None:
        """Drop the hold: time runs freely again."""
        with self._lock:
            self._apply_hold()
            self._hold = None
            if self._held:
                self._unhold()

    def _unhold(self) -> None:
        self._t0 = self._monotonic()
        self._paused = self._held = False

    def _elapsed(self) -> float:
        return 0.0 if self._paused else (self._monotonic() - self._t0) * self._speed

    @property
    def paused(self) -> bool:
        """True while :meth:`pause` holds the clock still."""
        return self._paused

    def pause(self) -> None:
        """Hold simulated time still (``advance`` still moves it) until :meth:`resume`.

        The bot pauses its built-in exchange while it starts up, so that an accelerated session
        does not run on unwatched: at 300x, three seconds of start-up are fifteen minutes.
        """
        with self._lock:
            self._apply_hold()
            if not self._paused:
                self._offset += timedelta(seconds=self._elapsed())
                self._paused = True
            self._held = False  # paused on purpose now, not by the hold

    def resume(self) -> None:
        """Let simulated time run again from where :meth:`pause` held it."""
        with self._lock:
            if self._paused:
                self._t0 = self._monotonic()
                self._paused = False

    def advance(self, delta: timedelta) -> datetime:
        """Jump forward by ``delta`` (never backwards) and return the new time."""
        if delta < timedelta(0):
            raise ValueError("a clock never goes backwards")
        with self._lock:
            self._apply_hold()
            self._offset += delta
            if self._hold is not None and self._raw_now() > self._hold:
                # A jump (a skipped night) passes the hold: whoever set it wakes up late.
                self._hold = None
                if self._held:
                    self._unhold()
        return self.now()

    def advance_to(self, ts: datetime) -> datetime:
        """Jump forward to ``ts`` if it lies in the future; return the new time."""
        now = self.now()
        if ts > now:
            return self.advance(ts - now)
        return now
