"""Specification of the bot's rate-limit budget, read from Alpaca's ``X-RateLimit-*`` headers."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from fleece.rate_budget import RateBudget

T0 = datetime(2024, 11, 26, 15, 0, 20, tzinfo=UTC)
MINUTE_END = int((T0.replace(second=0) + timedelta(minutes=1)).timestamp())


@dataclass
class Answer:
    """An HTTP answer as ``requests`` hands it to a response hook."""

    status_code: int
    remaining: int
    reset: int
    headers: dict[str, str] = field(init=False)

    def __post_init__(self) -> None:
        self.headers = {
            "X-RateLimit-Limit": "200",
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(self.reset),
        }


class Clock:
    """A clock that waiting moves forward."""

    def __init__(self) -> None:
        self.at = T0
        self.waited: list[datetime] = []

    def now(self) -> datetime:
        return self.at

    async def wait_until(self, target: datetime) -> None:
        self.waited.append(target)
        self.at = max(self.at, target)


def budget() -> tuple[RateBudget, Clock]:
    clock = Clock()
    return RateBudget("trading", now=clock.now, wait_until=clock.wait_until), clock


def test_with_requests_left_nothing_waits() -> None:
    rates, clock = budget()
    rates.observe(Answer(200, 150, MINUTE_END))

    asyncio.run(rates.turn())

    assert clock.waited == []


def test_reads_wait_for_the_reset_at_the_reserve_but_orders_use_it() -> None:
    rates, clock = budget()
    rates.observe(Answer(200, 3, MINUTE_END))

    asyncio.run(rates.turn(urgent=True))
    assert clock.waited == []
    asyncio.run(rates.turn())

    assert clock.waited == [datetime.fromtimestamp(MINUTE_END, UTC)]


def test_after_a_429_everything_waits_for_its_reset_and_only_that_once() -> None:
    rates, clock = budget()
    rates.observe(Answer(429, 120, MINUTE_END))  # another client spent the window
    rates.observe(Answer(200, 199, MINUTE_END + 60))  # a later answer of the next window

    asyncio.run(rates.turn(urgent=True))
    asyncio.run(rates.turn())

    assert clock.waited == [datetime.fromtimestamp(MINUTE_END, UTC)]
    assert rates.rate_limited == 1 and rates.waits == 1


def test_answers_without_the_headers_leave_the_budget_unknown() -> None:
    rates, clock = budget()

    bare = Answer(429, 0, MINUTE_END)
    bare.headers = {"X-RateLimit-Remaining": "oops"}

    rates.observe(bare)
    asyncio.run(rates.turn())

    assert clock.waited == [] and rates.knows_reset is False
