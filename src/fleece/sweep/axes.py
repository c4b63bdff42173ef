"""The grid's axes from the command line: ``--param NAME=V1,V2``, the SMA shorthands, sizes, sets.

Any parameter the configured strategy declares is an axis: ``--param entry=10,20,40`` (the
option repeats, one parameter each). Each value is parsed by the parameter's declared type
(``10`` is an int for an ``int`` parameter, ``0.5`` a float, ``true`` a bool); a value that is
not of that type is a command-line error (exit 2). Bounds and checks between parameters are the
strategy's own and are applied per combination by :func:`~fleece.sweep.grid.build_grid`: a
combination the strategy refuses is skipped with its reason, never an error.

``--fast``, ``--medium`` and ``--slow`` are shorthands for ``--param fast=...`` and so on: they
exist for ``sma_crossover`` and are refused, in one line, for another strategy.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import TypeAdapter, ValidationError

from fleece.config import TradingConfig
from fleece.config_errors import _reason
from fleece.config_sections import ticker_problem
from fleece.errors import ConfigError
from fleece.strategy.api import Strategy
from fleece.strategy.registry import unknown_param
from fleece.strategy.sma_crossover import SmaCrossover
from fleece.sweep.grid import GridAxes, freeze

SOURCE = "command line"
#: ``--fast``, ``--medium``, ``--slow``: the SMA crossover's windows.
SMA_SHORTHANDS = ("fast", "medium", "slow")
#: Values one option may list (the grid is their product: a bound before anything runs).
MAX_VALUES = 1_000
#: Characters of one option's text read at most.
MAX_OPTION_CHARS = 20_000


def _parts(text: str, option: str) -> list[str]:
    if len(text) > MAX_OPTION_CHARS:
        raise ConfigError(SOURCE, option, f"longer than {MAX_OPTION_CHARS:,} characters")
    parts = [p.strip() for p in text.split(",") if p.strip()]
    if not parts:
        raise ConfigError(SOURCE, option, "expected a comma-separated list, got nothing")
    if len(parts) > MAX_VALUES:
        raise ConfigError(SOURCE, option, f"at most {MAX_VALUES:,} values, got {len(parts):,}")
    return parts


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
                SOURCE, option, f"expected numbers like 0.05,0.1, got {part!r}"
            ) from None
    return tuple(values)


def parse_symbol_sets(
    texts: Sequence[str], option: str = "--symbols"
) -> tuple[tuple[str, ...], ...]:
    """Each ``"SPY,IBM"`` as one symbol set (upper-cased, sorted, duplicates dropped).

    Raises:
        ConfigError: an empty set, or a symbol that is not a ticker (the config's rule).
    """
    sets: list[tuple[str, ...]] = []
    for text in texts:
        group = tuple(sorted({part.upper() for part in _parts(text, option)}))
        for symbol in group:
            if problem := ticker_problem(symbol):
                raise ConfigError(SOURCE, option, problem)
        if group not in sets:
            sets.append(group)
    if not sets:
        raise ConfigError(SOURCE, option, "give at least one symbol")
    return tuple(sets)


def parse_values(cls: type[Strategy], name: str, text: str, option: str) -> tuple[Any, ...]:
    """``"10,20"`` as the values of parameter ``name`` of ``cls``, by its declared type.

    Values come back as JSON data (what the strategy validates again with its bounds).

    Raises:
        ConfigError: (naming ``option``) an unknown parameter (did-you-mean), an empty list,
            or a value that is not of the parameter's type.
    """
    field = cls.Params.model_fields.get(name)
    if field is None:
        raise ConfigError(SOURCE, option, unknown_param(cls, name))
    # The bare type, without the field's bounds: a value out of bounds is a skipped
    # combination (the strategy's reason), not a command-line error.
    adapter: TypeAdapter[Any] = TypeAdapter(Any if field.annotation is None else field.annotation)
    values: list[Any] = []
    for part in _parts(text, option):
        try:
            value = adapter.validate_python(part)
        except ValidationError as exc:
            reason = _reason(exc.errors(include_url=False)[0], cls.Params)
            raise ConfigError(SOURCE, option, reason) from None
        values.append(freeze(adapter.dump_python(value, mode="json")))
    return tuple(values)


def parse_param(cls: type[Strategy], text: str) -> tuple[str, tuple[Any, ...]]:
    """One ``--param NAME=V1,V2`` as ``(NAME, values)``.

    Raises:
        ConfigError: not ``NAME=VALUES``, or as :func:`parse_values`.
    """
    name, equals, values = text.partition("=")
    name = name.strip()
    if not equals or not name:
        raise ConfigError(SOURCE, "--param", f"expected NAME=V1,V2 like entry=10,20, got {text!r}")
    return name, parse_values(cls, name, values, f"--param {name}")


def _shorthand(cls: type[Strategy], strategy: str, name: str) -> None:
    """Refuse ``--NAME`` (an SMA window) when the configured strategy is not the SMA's."""
    if issubclass(cls, SmaCrossover):
        return
    takes = ", ".join(cls.Params.model_fields) or "none"
    raise ConfigError(
        SOURCE,
        f"--{name}",
        f"is sma_crossover's {name} window, but the configured strategy is {strategy}: "
        f"use --param NAME=V1,V2 (its parameters: {takes})",
    )


def strategy_axes(
    trading: TradingConfig, params: Sequence[str], shorthands: Mapping[str, str | None]
) -> dict[str, tuple[Any, ...]]:
    """Every parameter of the configured strategy with its values, in declared order: those
    given by ``--param`` (or a shorthand), the others at the config's value.

    Raises:
        ConfigError: a bad ``--param``, a parameter given twice, a shorthand for another
            strategy.
    """
    spec = trading.strategy.spec
    given: dict[str, tuple[Any, ...]] = {}
    options: dict[str, str] = {}
    texts = [(f"--{n}", f"{n}={t}") for n, t in shorthands.items() if t is not None]
    texts += [("--param", t) for t in params]
    for option, text in texts:
        if option != "--param":
            _shorthand(spec.cls, spec.name, option[2:])
        name, values = parse_param(spec.cls, text)
        if name in given:
            raise ConfigError(
                SOURCE, f"--param {name}", f"given twice ({options[name]} and {option})"
            )
        given[name], options[name] = values, option
    current = spec.params.model_dump(mode="json")
    return {name: given.get(name, (freeze(value),)) for name, value in current.items()}


def build_axes(
    trading: TradingConfig,
    *,
    symbols: Sequence[str] | None = None,
    params: Sequence[str] = (),
    shorthands: Mapping[str, str | None] | None = None,
    max_position_pct: str | None = None,
) -> GridAxes:
    """The grid from the options; what is not given keeps the trading config's value.

    Args:
        trading: the trading config (its strategy says which parameters exist).
        symbols: ``--symbols`` (each one set).
        params: each ``--param NAME=V1,V2``.
        shorthands: ``--fast``/``--medium``/``--slow`` by name (None when not given).
        max_position_pct: ``--max-position-pct``.

    Raises:
        ConfigError: a bad option (one line, naming it).
    """
    return GridAxes.of(
        strategy_axes(trading, params, shorthands or {}),
        parse_floats(max_position_pct, "--max-position-pct")
        if max_position_pct
        else (trading.risk.max_position_pct,),
        parse_symbol_sets(symbols) if symbols else (tuple(sorted(trading.tickers)),),
    )
