"""The strategy API: what a strategy declares and decides, and what the framework hands it.

A strategy is a class ``class Rsi(Strategy[RsiParams])`` with

* ``name``, a one-line ``summary`` and its parameters' model, the argument of
  ``Strategy[...]``: a pydantic model (defaults, bounds, checks between them; unknown names are
  refused with a did-you-mean), which becomes the class's ``Params`` and types ``self.params``;
* :attr:`Strategy.warmup_minutes`: the grid minutes it needs before it may signal;
* :meth:`Strategy.on_minute`: one decision per minute of the minute grid
  (:mod:`fleece.minute_grid`), given that minute's bar (real, or carried: the last close
  repeated) and a small read-only :class:`MinuteContext`; it returns a :class:`Signal` or None;
* :meth:`Strategy.indicators`: named series to draw (the report, the dashboard), computed from a
  symbol's :class:`GridSeries`;
* optionally :meth:`Strategy.candidates`, a vectorised path for backtests: for a whole
  :class:`GridSeries`, the minutes where it would enter if flat and exit if holding.
  :func:`fleece.strategy.testing.check_vectorised` proves it equal to the bar-by-bar path.

The decision core's rules hold for every strategy: ``on_minute`` is pure and synchronous — no
I/O, no clock reads (the time is in the context), no randomness — and the state it keeps depends
on prices only (whether a position is held comes from the context), so a warm-up, a replay and a
backtest rebuild exactly the state the live bot had. The bot is long-only: a BUY while flat
opens a position sized by the risk manager, a SELL while holding closes all of it; other
signals are ignored.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Generic, cast, get_args, get_origin

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict
from typing_extensions import TypeVar

from fleece.minute_grid import MINUTE_S, GridSeries
from fleece.models import Bar, Side, Signal

__all__ = ["MINUTE_S", "GridSeries", "MinuteContext", "Strategy", "StrategyParams", "nan_series"]

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
BOOL = npt.NDArray[np.bool_]


class StrategyParams(BaseModel):
    """Base of every strategy's ``Params``: frozen, unknown names refused.

    Declare each parameter with a type, a default and bounds (``Annotated[int, Field(ge=1)]``),
    and a docstring or ``Field(description=...)``: ``fleece strategy list`` shows them.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")


@dataclass(frozen=True, slots=True)
class MinuteContext:
    """What a strategy may know at one grid minute besides prices; read-only.

    Attributes:
        now: the instant the minute closed (its bar's start + 1 minute): the decision time.
        position: shares of the bar's symbol held (the broker's figure, kept current by fills).
        buying: a buy of the symbol is still open (counts as holding: never buy twice).
        selling: a sell of the symbol is still open.
        session_open: the open of the minute's session.
        session_close: the close of the minute's session (early closes honoured).
        last_prices: the latest close of every symbol on the grid, by symbol.
    """

    now: datetime
    position: int
    buying: bool
    selling: bool
    session_open: datetime
    session_close: datetime
    last_prices: Mapping[str, float] = field(default_factory=dict)

    @property
    def holding(self) -> bool:
        """A position is held or being bought: the one test every strategy makes, so that none
        buys again while its first buy is still open (and each may exit that buy)."""
        return self.position > 0 or self.buying

    @property
    def minutes_to_close(self) -> int:
        """Whole minutes left in the session after this one (0 on the last minute)."""
        return int((self.session_close - self.now).total_seconds() // MINUTE_S)


#: A strategy's parameters model. Covariant: a ``Strategy[DonchianParams]`` is a
#: ``Strategy[StrategyParams]`` (the registry holds any strategy class as ``type[Strategy]``);
#: ``self.params`` is set once, in ``__init__``. The default keeps a bare ``Strategy`` (an
#: annotation, or a plug-in written ``class S(Strategy): Params = X``) ``Strategy[StrategyParams]``
#: under mypy --strict. typing_extensions' TypeVar: typing's takes a default from Python 3.13 on.
P_co = TypeVar("P_co", bound=StrategyParams, default=StrategyParams, covariant=True)


class Strategy(ABC, Generic[P_co]):
    """Base class of every strategy (built-in, installed or a user's file).

    Subclasses name their parameters' model as the type argument
    (``class Rsi(Strategy[RsiParams])``: ``Params`` is set from it and ``self.params`` is typed
    by it), set ``name`` and ``summary``, and implement :attr:`warmup_minutes`,
    :meth:`on_minute` and :meth:`indicators`; :meth:`candidates` is optional. A class that sets
    ``Params = X`` itself keeps working; if it also names a type argument, the two must agree
    (``Params`` is the argument or a subclass of it).

    Args:
        params: the validated parameters (a ``Params`` instance); None: ``Params()``'s defaults.
    """

    name: ClassVar[str]
    summary: ClassVar[str] = ""
    Params: ClassVar[type[StrategyParams]] = StrategyParams
    params: P_co

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        typed = _params_argument(cls)
        if typed is None:
            return  # Params as the class sets it, or inherited (StrategyParams at the root)
        own = cls.__dict__.get("Params")
        if own is None:
            cls.Params = typed
        elif not (isinstance(own, type) and issubclass(own, typed)):
            shown = getattr(own, "__name__", repr(own))
            raise TypeError(
                f"{cls.__name__}: Params = {shown} disagrees with its type argument "
                f"{typed.__name__}; name the parameters once, as Strategy[{typed.__name__}]"
            )

    def __init__(self, params: P_co | None = None) -> None:
        # Params is P_co's class (set from the type argument, or checked against it, above).
        self.params = params if params is not None else cast(P_co, self.Params())

    @property
    @abstractmethod
    def warmup_minutes(self) -> int:
        """Grid minutes of a symbol needed before the strategy may signal on it."""

    @abstractmethod
    def on_minute(self, bar: Bar, ctx: MinuteContext) -> Signal | None:
        """Decide at the close of one grid minute of ``bar.symbol``.

        Called once per symbol and minute of the grid, minutes in time order, symbols in
        alphabetical order within a minute. A minute not after the symbol's last one must be
        ignored (return None, state unchanged).
        """

    @abstractmethod
    def indicators(self, series: GridSeries) -> dict[str, F64]:
        """Named series to draw over ``series`` (dollars; NaN where undefined)."""

    def candidates(self, series: GridSeries) -> tuple[BOOL, BOOL] | None:
        """The vectorised path: ``(enter, leave)`` per minute of ``series``, or None if not offered.

        ``enter[t]`` is True where :meth:`on_minute` would return a BUY if flat at ``t`` and
        ``leave[t]`` where it would return a SELL if holding; a strategy offers this only when its
        decisions depend on prices and holding alone. The backtest then calls the framework
        only at those minutes (see :func:`fleece.strategy.testing.check_vectorised`).
        """
        return None

    @property
    def candidates_offered(self) -> bool:
        """True when the strategy implements :meth:`candidates` (a vectorised path)."""
        return type(self).candidates is not Strategy.candidates

    def signal(self, bar: Bar, side: Side, reason: str) -> Signal:
        """A signal of this strategy on ``bar`` (its close is the reference price)."""
        return Signal(
            strategy=self.name,
            symbol=bar.symbol,
            side=side,
            bar_timestamp=bar.timestamp,
            price=bar.close,
            reason=reason,
        )


def _params_argument(cls: type) -> type[StrategyParams] | None:
    """The parameters model ``cls`` names as its type argument (``Strategy[X]``), if any.

    Only ``cls``'s own bases count (an inherited ``Params`` is already set), and only a concrete
    :class:`StrategyParams` subclass (``Strategy[P]`` of a generic subclass names none).
    """
    for base in cls.__dict__.get("__orig_bases__", ()):
        origin = get_origin(base)
        if not (isinstance(origin, type) and issubclass(origin, Strategy)):
            continue
        for arg in get_args(base):
            if isinstance(arg, type) and issubclass(arg, StrategyParams):
                return arg
    return None


def nan_series(n: int) -> F64:
    """A series of ``n`` NaN (undefined) values."""
    return np.full(n, np.nan, dtype=np.float64)
