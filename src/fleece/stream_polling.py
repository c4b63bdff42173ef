"""HTTP polling of 1-minute bars: ONE multi-symbol request per poll, whatever the symbol count.

The poller remembers the last accepted bar per symbol, asks the broker for everything after the
oldest of those (but never more than :data:`LOOKBACK` before the previous request's end), and hands
back only valid, closed bars it has not handed back before, in (timestamp, symbol) order. A bar
older than its symbol's newest one is handed back too when it is new (a bar published late): the
minute grid (:mod:`fleece.minute_grid`) decides whether it came in time. Bad bars (by the checks
of :func:`fleece.data.validate.bar_problem`, the importer's too, and in their vocabulary of
reasons) are logged and skipped; the bot keeps running.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from fleece.broker import Broker
from fleece.calendar import ONE_MINUTE
from fleece.clock import Clock
from fleece.data.validate import bar_problem
from fleece.errors import BrokerError
from fleece.models import Bar

log = logging.getLogger(__name__)
#: How far back before the previous request's end a poll still looks: for a bar published late,
#: or a quiet symbol's next bar. A symbol with no bar at all (a ticker not on IEX, renamed,
#: halted) must not drag every poll back over hours of every other symbol's bars.
LOOKBACK = timedelta(minutes=5)


class BarPoller:
    """Fetches new bars for ``symbols`` from the broker, deduplicated and checked."""

    def __init__(self, broker: Broker, clock: Clock, symbols: Sequence[str]) -> None:
        self._broker = broker
        self._clock = clock
        self.symbols = tuple(symbols)
        self._last: dict[str, datetime] = {}
        # Bar starts handed back recently, per symbol: requests overlap on purpose, and a bar
        # published late may be older than its symbol's newest one.
        self._seen: dict[str, set[datetime]] = {}
        self._asked_until: datetime | None = None  # ``end`` of the last answered request
        #: When the last poll that the broker answered was made (its request's start); None
        #: after a failed one. The minute grid judges minutes against this instant.
        self.answered_at: datetime | None = None
        self.polls = 0
        self.skipped: Counter[str] = Counter()
        self.last_success: datetime | None = None
        self.last_bar_at: datetime | None = None
        # Told each poll's broker round trip in real seconds and whether it succeeded (the
        # dashboard's latency histogram); measured with a monotonic timer, never the clock.
        self.on_poll: Callable[[float, bool], None] | None = None

    def since(self, default_start: datetime) -> datetime:
        """Where the next request starts: just after the oldest symbol's last bar, but never
        more than :data:`LOOKBACK` before the previous request's end."""
        nexts = [self._last[s] + ONE_MINUTE for s in self.symbols if s in self._last]
        if self._asked_until is None:
            return min(nexts) if len(nexts) == len(self.symbols) else default_start
        floor = self._asked_until + ONE_MINUTE - LOOKBACK
        return max(floor, min(nexts, default=floor))

    async def poll(self, default_start: datetime) -> list[Bar]:
        """One poll: new valid bars in (timestamp, symbol) order; [] when the broker fails."""
        now = self._clock.now()
        self.answered_at = None
        start = self.since(default_start)
        # Ask only for bars closed by OUR now (``end`` is inclusive of a bar's start). With
        # ``end=now``, a broker whose clock runs ahead (the simulated exchange moves on during the
        # request; clock skew) sent bars we then refused with a false "bad bar" warning.
        end = now.replace(second=0, microsecond=0) - ONE_MINUTE
        if start > end:
            return []
        self.polls += 1
        started = time.perf_counter()
        try:
            raw, skipped = await self._broker.bars(self.symbols, start, end)
        except BrokerError as exc:
            self._observe(started, ok=False)
            log.warning("bar poll failed reason=%s", exc)
            return []
        self._observe(started, ok=True)
        self._asked_until = end
        self.answered_at = now
        # The broker answered as of its own later "now": judge "closed yet" against that moment.
        now = self._clock.now()
        for symbol, reason in skipped:
            self.skipped[reason] += 1
            log.warning("bad bar skipped symbol=%s reason=%s", symbol, reason)
        fresh: list[Bar] = []
        wanted = set(self.symbols)
        for symbol, bars in raw.items():
            if symbol not in wanted:
                self.skipped["unrequested_symbol"] += 1
                continue
            fresh.extend(self._accept(symbol, bars, now, start))
        fresh.sort(key=lambda b: (b.timestamp, b.symbol))
        self._forget(start)  # later requests never start earlier than this one
        self.last_success = now
        if fresh:
            self.last_bar_at = fresh[-1].timestamp
        return fresh

    def _observe(self, started: float, *, ok: bool) -> None:
        if self.on_poll is not None:
            self.on_poll(time.perf_counter() - started, ok)

    def _accept(
        self, symbol: str, bars: Sequence[Bar], now: datetime, start: datetime
    ) -> list[Bar]:
        kept: list[Bar] = []
        seen = self._seen.setdefault(symbol, set())
        for bar in sorted(bars, key=lambda b: b.timestamp):
            if bar.timestamp in seen:
                continue  # already handed back: the next request overlaps on purpose
            prev = self._last.get(symbol)
            # An older bar not seen before is a late one, not out of order; one older than
            # what was asked for is a broken answer (and may have been handed back already).
            problem = bar_problem(bar, prev if prev and bar.timestamp > prev else None, now)
            if problem is None and bar.timestamp < start:
                problem = "before_request"
            if problem is not None:
                self.skipped[problem] += 1
                log.warning(
                    "bad bar skipped symbol=%s ts=%s reason=%s",
                    symbol,
                    bar.timestamp.isoformat(),
                    problem,
                )
                continue
            if prev is None or bar.timestamp > prev:
                self._last[symbol] = bar.timestamp
            seen.add(bar.timestamp)
            kept.append(bar)
        return kept

    def _forget(self, before: datetime) -> None:
        """Drop remembered bar starts that no request will ask for again."""
        for seen in self._seen.values():
            old = [ts for ts in seen if ts < before]
            for ts in old:
                seen.discard(ts)


async def sleep_until(clock: Clock, target: datetime, speed: float | None) -> None:
    """Sleep until ``clock`` reaches ``target``, following simulated time.

    ``speed`` is simulated seconds per real second (None: real time). The clock is re-read after
    each short nap because a simulated clock may jump (stepped tests, skipped nights).
    """
    while True:
        remaining = (target - clock.now()).total_seconds()
        if remaining <= 0:
            return
        if speed is None:
            nap = min(remaining, 1.0)
        elif speed <= 0:
            nap = 0.02  # stepped clock: only someone else moves it
        else:
            nap = min(remaining / speed, 0.25)
        await asyncio.sleep(max(nap, 0.001))
