"""The parameter grid of a sweep: every combination, in a fixed order, valid or skipped.

A :class:`Params` is one point of the grid (the three SMA windows, ``max_position_pct`` and a
symbol set). :func:`build_grid` crosses the axes of a :class:`GridAxes` in a fixed order (symbol
sets, then fast, medium, slow, then ``max_position_pct``, each axis in the order given) and
splits the combinations into the ones that can run and the ones that cannot, each with the
reason (``fast >= medium`` ...). A point becomes a backtest configuration by varying the trading
config (``model_copy``) and building the runner's :class:`~fleece.backtest.runner.BacktestConfig`
from it, exactly as ``fleece backtest`` does; any value the runner refuses is a skip, never a
failed task.
"""

from __future__ import annotations

import itertools
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from fleece.backtest.result import BacktestConfig
from fleece.config import TradingConfig
from fleece.errors import ConfigError

#: The parameters a sweep varies, in table order.
PARAM_NAMES = ("fast", "medium", "slow", "max_position_pct", "symbols")


@dataclass(frozen=True, slots=True)
class Params:
    """One point of the grid.

    Attributes:
        fast: fast SMA window, in bars.
        medium: medium SMA window, in bars.
        slow: slow SMA window, in bars.
        max_position_pct: fraction of equity one entry may cost.
        symbols: the symbols traded, sorted.
    """

    fast: int
    medium: int
    slow: int
    max_position_pct: float
    symbols: tuple[str, ...]

    @property
    def symbols_label(self) -> str:
        """The symbol set as one cell: ``IBM,SPY``."""
        return ",".join(self.symbols)

    def value(self, name: str) -> int | float | str:
        """The value of parameter ``name`` (one of :data:`PARAM_NAMES`) for tables and charts."""
        if name == "symbols":
            return self.symbols_label
        if name not in PARAM_NAMES:
            raise KeyError(name)
        found: int | float = getattr(self, name)
        return found

    def label(self, show: Collection[str] = PARAM_NAMES) -> str:
        """A short description, e.g. ``5/20/60 pos=0.1 [IBM,SPY]``.

        Args:
            show: the parameters to mention beyond the windows (which are always shown), e.g.
                only those a sweep varies.
        """
        text = f"{self.fast}/{self.medium}/{self.slow}"
        if "max_position_pct" in show:
            text += f" pos={self.max_position_pct:g}"
        if "symbols" in show:
            text += f" [{self.symbols_label}]"
        return text


@dataclass(frozen=True, slots=True)
class GridAxes:
    """The values each parameter takes; the grid is their cross product.

    Attributes:
        fast: fast windows.
        medium: medium windows.
        slow: slow windows.
        max_position_pct: position sizes.
        symbol_sets: symbol sets (each traded as one portfolio).
    """

    fast: tuple[int, ...]
    medium: tuple[int, ...]
    slow: tuple[int, ...]
    max_position_pct: tuple[float, ...]
    symbol_sets: tuple[tuple[str, ...], ...]

    def varying(self) -> tuple[str, ...]:
        """The parameters given more than one value, in :data:`PARAM_NAMES` order."""
        counts = {
            "fast": len(self.fast),
            "medium": len(self.medium),
            "slow": len(self.slow),
            "max_position_pct": len(self.max_position_pct),
            "symbols": len(self.symbol_sets),
        }
        return tuple(name for name in PARAM_NAMES if counts[name] > 1)

    @property
    def symbols(self) -> tuple[str, ...]:
        """Every symbol of every set, sorted."""
        return tuple(sorted({s for group in self.symbol_sets for s in group}))


@dataclass(frozen=True, slots=True)
class GridPoint:
    """A combination that can run, with the backtest configuration it runs with."""

    params: Params
    config: BacktestConfig


@dataclass(frozen=True, slots=True)
class Skipped:
    """A combination that cannot run, and why (the runner's own words)."""

    params: Params
    reason: str


@dataclass(frozen=True, slots=True)
class Grid:
    """Every combination of a :class:`GridAxes`, in grid order.

    Attributes:
        points: the combinations that run.
        skipped: the combinations refused, with their reasons.
        order: every combination's position in grid order (points and skipped together), so
            tables list them as the grid was written.
    """

    points: tuple[GridPoint, ...]
    skipped: tuple[Skipped, ...]
    order: dict[Params, int]


def with_params(trading: TradingConfig, params: Params) -> TradingConfig:
    """``trading`` with the strategy windows, position size and symbols of ``params``.

    Pydantic's ``model_copy`` does not validate: :func:`backtest_config` does, through the
    runner's own checks.
    """
    strategy = trading.strategy.with_params(
        fast=params.fast, medium=params.medium, slow=params.slow
    )
    risk = trading.risk.model_copy(update={"max_position_pct": params.max_position_pct})
    symbols = trading.symbols.model_copy(update={"tickers": params.symbols})
    return trading.model_copy(update={"strategy": strategy, "risk": risk, "symbols": symbols})


def backtest_config(trading: TradingConfig, *, cash: float, slippage_bps: float) -> BacktestConfig:
    """The runner's configuration for a trading config, built as ``fleece backtest`` builds it.

    Raises:
        ConfigError: cash or slippage out of range (a command-line error, not a skip).
        ValueError: windows or limits the runner refuses.
    """
    from fleece.backtest.cli import backtest_config as from_trading_config

    return from_trading_config(trading, cash, slippage_bps, "fast")


def build_grid(axes: GridAxes, trading: TradingConfig, *, cash: float, slippage_bps: float) -> Grid:
    """Cross the axes; each combination becomes a :class:`GridPoint` or a :class:`Skipped`.

    Args:
        axes: the values of each parameter.
        trading: the trading config every other setting comes from (risk limits, orders).
        cash: starting cash of every run.
        slippage_bps: slippage of every run.
    """
    points: list[GridPoint] = []
    skipped: list[Skipped] = []
    order: dict[Params, int] = {}
    combos = itertools.product(
        axes.symbol_sets, axes.fast, axes.medium, axes.slow, axes.max_position_pct
    )
    for symbols, fast, medium, slow, pct in combos:
        params = Params(fast, medium, slow, pct, tuple(sorted(symbols)))
        if params in order:
            continue  # a value listed twice is one run, not two
        order[params] = len(order)
        try:
            config = backtest_config(
                with_params(trading, params), cash=cash, slippage_bps=slippage_bps
            )
        except ValueError as exc:
            skipped.append(Skipped(params, str(exc)))
            continue
        points.append(GridPoint(params, config))
    return Grid(tuple(points), tuple(skipped), order)


# ---- parsing the command line's lists -------------------------------------------------------


def parse_ints(text: str, option: str) -> tuple[int, ...]:
    """``"5,10"`` as ``(5, 10)``.

    Raises:
        ConfigError: (naming ``option``) an empty list or a value that is not an integer.
    """
    values: list[int] = []
    for part in _parts(text, option):
        try:
            values.append(int(part))
        except ValueError:
            raise ConfigError(
                "command line", option, f"expected integers like 5,10, got {part!r}"
            ) from None
    return tuple(values)


def parse_floats(text: str, option: str) -> tuple[float, ...]:
    """``"0.05,0.1"`` as ``(0.05, 0.1)``.

    Raises:
        ConfigError: (naming ``option``) an empty list or a value that is not a number.
    """
    values: list[float] = []
    for part in _parts(text, option):
        try:
            values.append(float(part))
        except ValueError:
            raise ConfigError(
                "command line", option, f"expected numbers like 0.05,0.1, got {part!r}"
            ) from None
    return tuple(values)


def parse_symbol_sets(
    texts: Sequence[str], option: str = "--symbols"
) -> tuple[tuple[str, ...], ...]:
    """Each ``"SPY,IBM"`` as one symbol set (upper-cased, sorted, duplicates dropped).

    Raises:
        ConfigError: an empty set.
    """
    sets: list[tuple[str, ...]] = []
    for text in texts:
        group = tuple(sorted({part.upper() for part in _parts(text, option)}))
        if group not in sets:
            sets.append(group)
    if not sets:
        raise ConfigError("command line", option, "give at least one symbol")
    return tuple(sets)


def _parts(text: str, option: str) -> list[str]:
    parts = [p.strip() for p in text.split(",") if p.strip()]
    if not parts:
        raise ConfigError("command line", option, "expected a comma-separated list, got nothing")
    return parts
