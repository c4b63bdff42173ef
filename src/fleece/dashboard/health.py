"""What ``/healthz`` means: the event loop answers, the bot polls, and its data is fresh.

The handler runs on the bot's own event loop, so an answer at all proves the loop is alive (a
blocked loop makes the request time out, which Docker and systemd count as unhealthy). On top of
that :func:`judge` checks, in the bot's clock (simulated time in sim mode):

* the bot is not shutting down;
* a poll was attempted recently: the polling loop polls every minute, market open or not;
* while the market is open, a poll *succeeded* recently: the data is fresh.

"Recently" is :func:`stale_after`: three poll periods (at least three minutes), widened at high
simulation speeds so that a few real seconds of event-loop work never count as an outage.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from fleece.notify.messages import duration_text

MIN_POLL_PERIOD_SECONDS = 60.0  # bars are polled at most once a minute
PERIODS_BEFORE_STALE = 3
REAL_GRACE_SECONDS = 10.0


@dataclass(frozen=True, slots=True)
class PollFacts:
    """What the health check looks at, all in the bot's clock (named as ``/healthz`` shows
    them: its answer is these facts and the verdict).

    Attributes:
        now: the bot's current time.
        market_open: whether a regular session is in progress.
        last_poll_at: when the bot last asked the broker for bars (even if that failed).
        last_success_at: when a poll last succeeded.
        stopping: why the bot is shutting down; empty while it runs.
    """

    now: datetime
    market_open: bool
    last_poll_at: datetime | None
    last_success_at: datetime | None
    stopping: str = ""


def stale_after(poll_interval_seconds: float, speed: float | None) -> timedelta:
    """How old the last poll may be before the bot counts as unhealthy.

    Args:
        poll_interval_seconds: ``data.poll_interval_seconds`` (under a minute means once a
            minute, just after the bars close).
        speed: simulated seconds per real second (None: real time; 0: a stepped clock).
    """
    period = max(poll_interval_seconds, MIN_POLL_PERIOD_SECONDS)
    base = timedelta(seconds=period * PERIODS_BEFORE_STALE)
    if not speed:
        return base
    # At 600x, a 50 ms pause of the loop is 30 simulated seconds: judge in real seconds too.
    return max(base, timedelta(seconds=REAL_GRACE_SECONDS * speed))


def is_stale(age: timedelta | None, limit: timedelta, market_open: bool) -> bool:
    """Data older than ``limit`` while the market is open: what ``/healthz`` calls stale (of
    the last successful poll) and the page's "last bar" chip warns of (of the last bar)."""
    return market_open and age is not None and age > limit


def judge(facts: PollFacts, limit: timedelta) -> tuple[bool, str]:
    """Return (healthy, reason): the reason says what is wrong, or what is fine.

    Args:
        facts: the bot's polling facts.
        limit: the oldest acceptable poll (see :func:`stale_after`).
    """
    if facts.stopping:
        return False, f"the bot is shutting down ({facts.stopping})"
    seen = [t for t in (facts.last_poll_at, facts.last_success_at) if t is not None]
    if not seen:
        return False, "no poll yet"
    since_attempt = facts.now - max(seen)
    if since_attempt > limit:
        return False, (
            f"polling stalled: last poll {_seconds(since_attempt)} ago (limit {_seconds(limit)})"
        )
    if not facts.market_open:
        return True, "ok (market closed)"
    if facts.last_success_at is None:
        return False, "no successful poll yet while the market is open"
    since_success = facts.now - facts.last_success_at
    if is_stale(since_success, limit, facts.market_open):
        return False, (
            f"data is stale: last successful poll {_seconds(since_success)} ago while the "
            f"market is open (limit {_seconds(limit)})"
        )
    return True, "ok"


def _seconds(delta: timedelta) -> str:
    return duration_text(delta.total_seconds())
