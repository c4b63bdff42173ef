"""Series the dashboard keeps: incremental reads of the store, and thinning.

The page polls every few seconds, so growing tables (fills, the equity curve, bars) are read
incrementally: :class:`StoreTail` asks the store only for rows at or after the newest one it
holds. What the price chart draws over the bars is the strategy's own
(:meth:`fleece.strategy.Strategy.indicators`, see :mod:`fleece.dashboard.charts`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Generic, TypeVar

T = TypeVar("T")


class StoreTail(Generic[T]):
    """The rows of an append-mostly store table, kept in memory and read incrementally.

    Args:
        fetch: returns the rows at or after a time (all rows for None), oldest first, in a
            stable order (the store's ``ORDER BY timestamp, id``).
        stamp: the time of a row.
        start: the first time of interest (None: everything).

    Rows sharing the newest time are read again on each refresh and replace the held ones, so
    a row written later at that same instant, or replaced in place (``INSERT OR REPLACE``), is
    never lost nor doubled.
    """

    def __init__(
        self,
        fetch: Callable[[datetime | None], Sequence[T]],
        stamp: Callable[[T], datetime],
        start: datetime | None = None,
    ) -> None:
        self._fetch = fetch
        self._stamp = stamp
        self._start = start
        self.items: list[T] = []

    def refresh(self) -> list[T]:
        """Read what is new and return every row held, oldest first."""
        since = self._stamp(self.items[-1]) if self.items else self._start
        rows = list(self._fetch(since))
        if self.items:
            while self.items and self._stamp(self.items[-1]) == since:
                self.items.pop()
            rows = [r for r in rows if since is None or self._stamp(r) >= since]
        self.items.extend(rows)
        return self.items

    def forget_before(self, ts: datetime) -> None:
        """Drop held rows older than ``ts`` (they are never asked for again)."""
        if self._start is None or ts > self._start:
            self._start = ts
        keep = next((i for i, r in enumerate(self.items) if self._stamp(r) >= ts), len(self.items))
        del self.items[:keep]


def thin(count: int, max_points: int) -> list[int]:
    """Indexes of at most ``max_points`` evenly spread rows out of ``count``, the last included.

    Args:
        count: how many rows there are.
        max_points: how many may be shown (>= 2).
    """
    if count <= max_points:
        return list(range(count))
    step = (count - 1) / (max_points - 1)
    picked = sorted({round(i * step) for i in range(max_points)})
    return picked
