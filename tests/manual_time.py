"""Time the specifications move by hand: a monotonic source that stands still until told."""

from __future__ import annotations


class ManualMonotonic:
    """Real seconds (as ``time.monotonic`` gives them), moved by hand: ``real.t += 1.0``."""

    def __init__(self, start: float = 100.0) -> None:
        self.t = start

    def __call__(self) -> float:
        return self.t
