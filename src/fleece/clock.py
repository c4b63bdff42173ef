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
        self._lock = threading.Lock()

    @property
    def speed(self) -> float:
        """How many simulated seconds pass per real second (0: stepped)."""
        return self._speed

    def now(self) -> datetime:
        """Return the simulated current time."""
        with self._lock:
            return self._start + self._offset + timedelta(seconds=self._elapsed())

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
            if not self._paused:
                self._offset += timedelta(seconds=self._elapsed())
                self._paused = True

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
            self._offset += delta
        return self.now()

    def advance_to(self, ts: datetime) -> datetime:
        """Jump forward to ``ts`` if it lies in the future; return the new time."""
        now = self.now()
        if ts > now:
            return self.advance(ts - now)
        return now
