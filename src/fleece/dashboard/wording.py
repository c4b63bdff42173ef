"""What the page says, worded here: the page only places these texts (``textContent``).

Every phrase is built from :mod:`fleece.notify.messages`, the wording ``fleece status``,
Telegram and the notifications use, so the page reads as they do; the page words nothing in
JavaScript. The page polls every two seconds, so a countdown worded here is at most one poll old.
"""

from __future__ import annotations

from datetime import datetime

from fleece.notify.messages import duration_text


def _until(now: datetime, then: datetime | None) -> str:
    return "unknown" if then is None else duration_text((then - now).total_seconds())


def market_text(
    now: datetime, is_open: bool, next_open: datetime | None, next_close: datetime | None
) -> str:
    """The market chip: "market open · closes in 2 h 5 min" or "market closed · opens in ..."."""
    if is_open:
        return f"market open · closes in {_until(now, next_close)}"
    return f"market closed · opens in {_until(now, next_open)}"


def age_text(what: str, age_seconds: float | None) -> str:
    """An age on a chip: "last bar 45 s ago", or "last bar none yet"."""
    return f"{what} none yet" if age_seconds is None else f"{what} {duration_text(age_seconds)} ago"
