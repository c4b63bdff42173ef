"""How long to wait before trying again: the one exponential backoff of every retry in the bot.

The broker's retried reads, the notification worker's deliveries and the supervisor's restarts
of a crashed task all wait ``base`` seconds before the first retry, twice as long before each
next one, and never longer than ``cap``: a dead destination or a crash loop costs a bounded time
per attempt, however many attempts the configuration allows.
"""

from __future__ import annotations

# Past 2**64 x base every cap is long reached; stopping the doubling there keeps the float finite.
_MAX_DOUBLINGS = 64


def backoff_delay(retry: int, base_seconds: float, cap_seconds: float) -> float:
    """Seconds to wait before retry number ``retry`` (1 is the first retry).

    ``base_seconds x 2**(retry - 1)``, at most ``cap_seconds``.

    Raises:
        ValueError: ``retry`` is below 1 (the first attempt does not wait).
    """
    if retry < 1:
        raise ValueError(f"retry counts from 1, got {retry}")
    return min(cap_seconds, base_seconds * 2.0 ** min(retry - 1, _MAX_DOUBLINGS))
