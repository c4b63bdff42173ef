"""The circuit breaker: consecutive order failures that halt trading until an operator resets it.

The order manager counts; the trader reads :attr:`CircuitBreaker.tripped` into the risk
context, where a tripped breaker means HALTED (see :mod:`fleece.risk_manager`).
"""

from __future__ import annotations


class CircuitBreaker:
    """Counts consecutive order failures; trips after ``threshold`` of them in a row.

    A success resets the count but does not clear a trip: only :meth:`reset` (an operator's
    decision) does. Build it from persisted values after a restart so the trip survives.

    Args:
        threshold: consecutive failures that trip the breaker (>= 1).
        consecutive: persisted consecutive failure count.
        tripped: persisted trip flag. A count already at the threshold also means tripped.

    Raises:
        ValueError: for a threshold below 1 or a negative count.
    """

    def __init__(self, threshold: int, consecutive: int = 0, tripped: bool = False) -> None:
        if threshold < 1:
            raise ValueError(f"threshold must be >= 1, got {threshold}")
        if consecutive < 0:
            raise ValueError(f"consecutive must be >= 0, got {consecutive}")
        self.threshold = threshold
        self._consecutive = consecutive
        self._tripped = tripped or consecutive >= threshold

    @property
    def tripped(self) -> bool:
        """Whether the breaker has tripped (and not been reset)."""
        return self._tripped

    @property
    def consecutive(self) -> int:
        """Consecutive failures since the last success or reset."""
        return self._consecutive

    def record_failure(self) -> bool:
        """Count a failure.

        Returns:
            True only on the failure that trips the breaker, so the caller acts once.
        """
        self._consecutive += 1
        if not self._tripped and self._consecutive >= self.threshold:
            self._tripped = True
            return True
        return False

    def record_success(self) -> None:
        """Count a success: the consecutive failure count restarts at zero."""
        self._consecutive = 0

    def reset(self) -> None:
        """Clear the trip and the count (an operator's decision)."""
        self._consecutive = 0
        self._tripped = False
