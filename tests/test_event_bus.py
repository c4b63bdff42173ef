"""The event bus delivers events in publish order and survives a failing handler."""

import asyncio
from dataclasses import dataclass

from fleece.event_bus import EventBus


@dataclass(frozen=True)
class Ping:
    n: int


def test_events_reach_subscribers_in_publish_order_and_a_failing_handler_is_contained() -> None:
    seen: list[int] = []

    async def main() -> int:
        bus = EventBus()

        async def record(event: Ping) -> None:
            seen.append(event.n)

        def explode(event: Ping) -> None:
            if event.n == 2:
                raise ValueError("bad event")

        bus.subscribe(Ping, explode)
        bus.subscribe(Ping, record)
        task = asyncio.create_task(bus.run())
        for n in range(5):
            await bus.publish(Ping(n))
        await bus.join()
        task.cancel()
        return bus.handler_errors

    errors = asyncio.run(main())
    assert seen == [0, 1, 2, 3, 4]
    assert errors == 1
