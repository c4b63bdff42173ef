"""The parameter grid of a sweep: every combination, in a fixed order, valid or skipped.

A :class:`Params` is one point of the grid: every declared parameter of the configured strategy
(whatever the strategy: its ``Params`` model says which), ``max_position_pct`` and a symbol set.
:func:`build_grid` crosses the axes of a :class:`GridAxes` in a fixed order (symbol sets, then
the strategy's parameters in their declared order, then ``max_position_pct``, each axis in the
order given) and splits the combinations into the ones that can run and the ones that cannot,
each with the reason (the strategy's own words: ``fast < medium < slow`` ...). A point becomes a
backtest configuration by varying the trading config and building the runner's
:class:`~fleece.backtest.result.BacktestConfig` from it, exactly as ``fleece backtest`` does;
any value the strategy or the runner refuses is a skip, never a failed task.

Parameter values are kept as plain JSON data (numbers, strings, booleans; lists as tuples), so a
point crosses to a Dask worker by value, whatever the strategy's own types.
"""

from __future__ import annotations

import itertools
from collections.abc import Collection, Mapping
from dataclasses import dataclass, fields
from typing import Any

from fleece.backtest.result import BacktestConfig
from fleece.backtest.stats import Stats
from fleece.config import TradingConfig
from fleece.errors import ConfigError
from fleece.notify.messages import percent_text
from fleece.strategy.registry import unknown_param

#: One parameter value: JSON data, frozen (lists become tuples) so points can be dict keys.
Value = Any
#: The axes every sweep has besides the strategy's parameters, in table order.
RISK_AXIS = "max_position_pct"
SYMBOLS_AXIS = "symbols"
#: The heading of the position size wherever the sweep shows it to a person (tables, labels).
RISK_HEADING = "max pos"
#: Statistics columns of ``runs.csv``, in :class:`~fleece.backtest.stats.Stats` order.
STAT_COLUMNS = tuple(f.name for f in fields(Stats) if f.name not in ("start", "end"))


def run_columns(params: tuple[str, ...]) -> tuple[str, ...]:
    """The columns of ``runs.csv`` for a strategy whose parameters have columns ``params``."""
    return (
        "run",
        "phase",
        "window",
        "strategy",
        *params,
        RISK_AXIS,
        SYMBOLS_AXIS,
        "start",
        "end",
        "status",
        "error",
        *STAT_COLUMNS,
        "signals",
        "orders",
        "refusals",
    )


#: Columns of the sweep's tables that are not parameters (those of ``runs.csv`` and the
#: walk-forward table's ``candidates``): a strategy parameter of one of these names gets the
#: column ``param_<name>`` (one rule: :func:`column_of`).
RESERVED_COLUMNS = frozenset({*run_columns(()), "candidates"})


def column_of(name: str) -> str:
    """The table column (and ``--heatmap`` name) of strategy parameter ``name``."""
    return f"param_{name}" if name in RESERVED_COLUMNS or name.startswith("param_") else name


class FrozenMap(tuple[tuple[str, Any], ...]):
    """A JSON object made hashable: its items, sorted (:func:`thaw` makes it a dict again)."""

    __slots__ = ()


def freeze(value: Value) -> Value:
    """``value`` (JSON data) made hashable: lists become tuples, objects :class:`FrozenMap`."""
    if isinstance(value, dict):
        return FrozenMap(sorted((str(k), freeze(v)) for k, v in value.items()))
    if isinstance(value, list | tuple):
        return tuple(freeze(v) for v in value)
    return value


def thaw(value: Value) -> Value:
    """The JSON data :func:`freeze` was given."""
    if isinstance(value, FrozenMap):
        return {k: thaw(v) for k, v in value}
    if isinstance(value, tuple):
        return [thaw(v) for v in value]
    return value


def shown(value: Value) -> int | float | str | bool:
    """A parameter value as one table cell (numbers stay numbers)."""
    if isinstance(value, int | float | str | bool):
        return value
    return str(value)


def value_text(column: str, value: int | float | str | bool) -> str:
    """A value of ``column`` (from :meth:`Params.value`) as the sweep shows it to a person.

    The position size is a fraction of equity (``--max-position-pct 0.1``, as the config writes
    it) shown as a percent by the rule every limit is shown by, ``10.00%``
    (:func:`~fleece.notify.messages.percent_text`): in the terminal, the report, the heatmap and
    every label. The CSV and Parquet tables keep the fraction (data, in the option's unit).
    """
    if column == RISK_AXIS:
        return percent_text(float(value))
    return str(value)


@dataclass(frozen=True, slots=True)
class Params:
    """One point of the grid.

    Attributes:
        strategy: every parameter of the strategy, ``(name, value)`` in declared order.
        max_position_pct: fraction of equity one entry may cost.
        symbols: the symbols traded, sorted.
    """

    strategy: tuple[tuple[str, Value], ...]
    max_position_pct: float
    symbols: tuple[str, ...]

    @property
    def symbols_label(self) -> str:
        """The symbol set as one cell: ``IBM,SPY``."""
        return ",".join(self.symbols)

    @property
    def strategy_params(self) -> dict[str, Value]:
        """The strategy's parameters by name, as JSON data (what the strategy validates)."""
        return {name: thaw(value) for name, value in self.strategy}

    @property
    def columns(self) -> tuple[str, ...]:
        """The table columns of the strategy's parameters, in declared order."""
        return tuple(column_of(name) for name, _ in self.strategy)

    def value(self, column: str) -> int | float | str | bool:
        """The value in ``column`` (a strategy parameter's column, ``max_position_pct`` or
        ``symbols``) for tables and charts.

        Raises:
            KeyError: no such column.
        """
        if column == SYMBOLS_AXIS:
            return self.symbols_label
        if column == RISK_AXIS:
            return self.max_position_pct
        for name, value in self.strategy:
            if column_of(name) == column:
                return shown(value)
        raise KeyError(column)

    def text(self, column: str) -> str:
        """:meth:`value` as the sweep shows it to a person (:func:`value_text`)."""
        return value_text(column, self.value(column))

    def label(self, show: Collection[str] | None = None) -> str:
        """A short description, e.g. ``fast=5 medium=20 slow=60 pos=10.00% [IBM,SPY]``.

        Args:
            show: the columns to mention (e.g. only those a sweep varies); None: all. When it
                names none of the strategy's parameters, they are all shown: a label always
                says which strategy settings ran.
        """
        cells = [(column_of(n), v) for n, v in self.strategy]
        if show is not None and any(c in show for c, _ in cells):
            cells = [(c, v) for c, v in cells if c in show]
        parts = [f"{c}={shown(v)}" for c, v in cells]
        if show is None or RISK_AXIS in show:
            parts.append(f"pos={self.text(RISK_AXIS)}")
        if show is None or SYMBOLS_AXIS in show:
            parts.append(f"[{self.symbols_label}]")
        return " ".join(parts)


@dataclass(frozen=True, slots=True)
class GridAxes:
    """The values each parameter takes; the grid is their cross product.

    Attributes:
        strategy: ``(parameter, values)`` of the strategy's parameters, in declared order; a
            parameter not listed keeps the trading config's value.
        max_position_pct: position sizes.
        symbol_sets: symbol sets (each traded as one portfolio).
    """

    strategy: tuple[tuple[str, tuple[Value, ...]], ...]
    max_position_pct: tuple[float, ...]
    symbol_sets: tuple[tuple[str, ...], ...]

    @classmethod
    def of(
        cls,
        strategy: Mapping[str, tuple[Value, ...]],
        max_position_pct: tuple[float, ...],
        symbol_sets: tuple[tuple[str, ...], ...],
    ) -> GridAxes:
        """Axes from a mapping of strategy parameters to their values (values frozen)."""
        params = tuple((name, tuple(map(freeze, values))) for name, values in strategy.items())
        return cls(params, max_position_pct, symbol_sets)

    def names(self) -> tuple[str, ...]:
        """Every column of the grid: the strategy's parameters, ``max_position_pct``,
        ``symbols``."""
        return (*(column_of(name) for name, _ in self.strategy), RISK_AXIS, SYMBOLS_AXIS)

    def varying(self) -> tuple[str, ...]:
        """The columns given more than one value, in :meth:`names` order."""
        counts = [len(values) for _, values in self.strategy]
        counts += [len(self.max_position_pct), len(self.symbol_sets)]
        return tuple(name for name, n in zip(self.names(), counts, strict=True) if n > 1)

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
    """A combination that cannot run, and why (the strategy's or the runner's own words)."""

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

    @property
    def columns(self) -> tuple[str, ...]:
        """The table columns of the strategy's parameters (every point has the same)."""
        return next(iter(self.order)).columns if self.order else ()

    @property
    def names(self) -> tuple[str, ...]:
        """Every column of a point: the strategy's parameters, ``max_position_pct``,
        ``symbols``."""
        return (*self.columns, RISK_AXIS, SYMBOLS_AXIS)


def with_params(trading: TradingConfig, params: Params) -> TradingConfig:
    """``trading`` with the strategy parameters, position size and symbols of ``params``.

    Raises:
        ValueError: a strategy parameter the strategy refuses (``parameter: reason``). The
            position size is checked by :func:`backtest_config` (pydantic's ``model_copy``
            does not validate), through the runner's own checks.
    """
    strategy = trading.strategy.with_params(**params.strategy_params)
    risk = trading.risk.model_copy(update={"max_position_pct": params.max_position_pct})
    symbols = trading.symbols.model_copy(update={"tickers": params.symbols})
    return trading.model_copy(update={"strategy": strategy, "risk": risk, "symbols": symbols})


def backtest_config(trading: TradingConfig, *, cash: float, slippage_bps: float) -> BacktestConfig:
    """The runner's configuration for a trading config, built as ``fleece backtest`` builds it.

    Raises:
        ConfigError: cash or slippage out of range (a command-line error, not a skip).
        ValueError: limits the runner refuses.
    """
    from fleece.backtest.cli import backtest_config as from_trading_config

    return from_trading_config(trading, cash, slippage_bps, "fast")


def build_grid(axes: GridAxes, trading: TradingConfig, *, cash: float, slippage_bps: float) -> Grid:
    """Cross the axes; each combination becomes a :class:`GridPoint` or a :class:`Skipped`.

    Args:
        axes: the values of each parameter.
        trading: the trading config every other setting comes from (the strategy, its other
            parameters, risk limits, orders).
        cash: starting cash of every run.
        slippage_bps: slippage of every run.
    """
    spec = trading.strategy.spec
    current = spec.params.model_dump(mode="json")
    swept = dict(axes.strategy)
    names = list(current)
    for name in swept:
        if name not in current:
            raise ConfigError("command line", f"--param {name}", unknown_param(spec.cls, name))
    points: list[GridPoint] = []
    skipped: list[Skipped] = []
    order: dict[Params, int] = {}
    strategy_axes = [swept.get(name, (freeze(current[name]),)) for name in names]
    combos = itertools.product(
        axes.symbol_sets, itertools.product(*strategy_axes), axes.max_position_pct
    )
    for symbols, values, pct in combos:
        params = Params(tuple(zip(names, values, strict=True)), pct, tuple(sorted(symbols)))
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
