"""One ``with`` rule for the objects that hold something until closed (a file, a lock, a server).

``with thing:`` ends in ``thing.close()``, however the block ends; the exception, if any, goes
on. The store, the store lock and the exchange server share it instead of each spelling
``__enter__`` and ``__exit__`` again.
"""

from __future__ import annotations

from types import TracebackType
from typing import Self


class Closable:
    """A context manager whose exit calls :meth:`close` (which subclasses define)."""

    def close(self) -> None:
        """Give up what the object holds (idempotent in every subclass)."""
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
