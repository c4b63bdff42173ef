"""The broker's trading sessions: a name kept for :meth:`fleece.calendar.MarketCalendar.from_days`.

Live, the broker's calendar is the truth; against the built-in exchange it is exchange-calendars'
NYSE calendar served over the same endpoint. Either way the one session calendar
(:class:`~fleece.calendar.MarketCalendar`) answers, built from the days the broker stated:
``SessionBook.from_days(days)`` is ``MarketCalendar.from_days(days)``.
"""

from __future__ import annotations

from fleece.calendar import MarketCalendar

SessionBook = MarketCalendar

__all__ = ["SessionBook"]
