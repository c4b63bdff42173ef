"""Finding strategies: by built-in name, by installed entry point, or in a user's code.

``strategy.name`` in trading.yaml is one of

* a built-in name (:data:`BUILTINS`): ``sma_crossover``, ``donchian_breakout``,
  ``opening_range``;
* the name of an entry point in the group ``fleece.strategies`` of an installed package
  (``[project.entry-points."fleece.strategies"] my_rsi = "my_pkg.rsi:Rsi"``);
* ``path/to/file.py:ClassName`` (relative to the trading.yaml's folder, or absolute) or
  ``package.module:ClassName`` (importable from the bot's environment).

The strategy's parameters sit beside the name in the same section and are validated by its
``Params`` model: an unknown one is refused with a did-you-mean. Naming a file or module runs that
code, exactly as the bot's own code runs: trading.yaml must be as well protected as the code.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import json
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from fleece.config_bounds import Bound
from fleece.config_errors import _reason, closest
from fleece.errors import ConfigError
from fleece.strategy.api import Strategy, StrategyParams
from fleece.strategy.donchian import DonchianBreakout
from fleece.strategy.opening_range import OpeningRange
from fleece.strategy.sma_crossover import SmaCrossover

ENTRY_POINT_GROUP = "fleece.strategies"
BUILTINS: Mapping[str, type[Strategy]] = {
    cls.name: cls for cls in (SmaCrossover, DonchianBreakout, OpeningRange)
}


@dataclass(frozen=True, slots=True)
class Found:
    """A strategy class and where it came from ("built-in", "entry point pkg 1.0", a file).

    ``spec`` is what ``strategy.name`` in trading.yaml says to find it (an entry point's name
    may differ from the class's ``name``).
    """

    cls: type[Strategy]
    origin: str
    spec: str = ""


def _is_strategy(obj: object) -> bool:
    return isinstance(obj, type) and issubclass(obj, Strategy) and obj is not Strategy


def _check_class(obj: object, spec: str) -> type[Strategy]:
    if not _is_strategy(obj):
        raise LookupError(f"{spec!r} is not a subclass of fleece.strategy.Strategy")
    assert isinstance(obj, type)
    return obj


def _from_file(path: Path, class_name: str, spec: str) -> type[Strategy]:
    if not path.is_file():
        raise LookupError(f"no such file {str(path)!r}")
    module_name = f"fleece_user_strategy_{abs(hash(str(path.resolve())))}"
    loader_spec = importlib.util.spec_from_file_location(module_name, path)
    if loader_spec is None or loader_spec.loader is None:
        raise LookupError(f"cannot import {str(path)!r}")
    module = importlib.util.module_from_spec(loader_spec)
    sys.modules[module_name] = module  # dataclasses and pydantic look their module up
    try:
        loader_spec.loader.exec_module(module)
    except Exception as exc:
        del sys.modules[module_name]
        raise LookupError(f"{path.name} failed to import: {type(exc).__name__}: {exc}") from None
    if not hasattr(module, class_name):
        raise LookupError(f"{path.name} has no class {class_name!r}")
    return _check_class(getattr(module, class_name), spec)


def _from_module(module_name: str, class_name: str, spec: str) -> type[Strategy]:
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise LookupError(f"cannot import module {module_name!r} ({exc})") from None
    if not hasattr(module, class_name):
        raise LookupError(f"module {module_name!r} has no class {class_name!r}")
    return _check_class(getattr(module, class_name), spec)


def _entry_points() -> dict[str, Any]:
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def file_of(spec: str, base: Path | None = None) -> Path | None:
    """The file ``spec`` names (``path/to/file.py:Class``), ``base`` applied; None if none."""
    where, colon, _ = spec.rpartition(":")
    if not colon or not (where.endswith(".py") or "/" in where or "\\" in where):
        return None
    path = Path(where).expanduser()
    return base / path if not path.is_absolute() and base is not None else path


def find(spec: str, base: Path | None = None) -> Found:
    """The strategy class ``spec`` names (see the module docstring).

    Args:
        spec: ``strategy.name``.
        base: the folder relative file paths start from (trading.yaml's).

    Raises:
        LookupError: nothing by that name, or it is not a strategy (one-line message).
    """
    if spec in BUILTINS:
        return Found(BUILTINS[spec], "built-in", spec)
    if ":" in spec:
        where, _, class_name = spec.rpartition(":")
        if not where or not class_name.isidentifier():
            raise LookupError(f"{spec!r} is not FILE.py:Class nor package.module:Class")
        path = file_of(spec, base)
        if path is not None:
            return Found(_from_file(path, class_name, spec), str(path), spec)
        return Found(_from_module(where, class_name, spec), f"module {where}", spec)
    points = _entry_points()
    if spec in points:
        point = points[spec]
        try:
            loaded = point.load()
        except Exception as exc:
            raise LookupError(f"entry point {spec!r} failed to load: {exc}") from None
        dist = getattr(point, "dist", None)
        origin = f"entry point ({dist.name} {dist.version})" if dist else "entry point"
        return Found(_check_class(loaded, spec), origin, spec)
    known = sorted({*BUILTINS, *points})
    close = closest(spec, known)
    hint = f"did you mean {close!r}?" if close else f"known: {', '.join(known)}"
    raise LookupError(
        f"unknown strategy (got {spec!r}); {hint} (or FILE.py:Class, package.module:Class)"
    )


def parse_params(cls: type[Strategy], given: Mapping[str, Any]) -> StrategyParams:
    """Validate ``given`` against ``cls.Params``.

    Raises:
        ValueError: one line naming the parameter (``name: reason``), with a did-you-mean for
            an unknown one.
    """
    try:
        return cls.Params.model_validate(dict(given))
    except ValidationError as exc:
        error = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in error["loc"])
        named = f"{where}: " if where else ""
        if error["type"] == "extra_forbidden":
            raise ValueError(f"{named}{unknown_param(cls, str(error['loc'][-1]))}") from None
        # Worded as every config refusal is: a value echoed is cut to one short line.
        raise ValueError(f"{named}{_reason(error, cls.Params)}") from None


def unknown_param(cls: type[Strategy], name: str) -> str:
    """``unknown parameter of X; did you mean 'entry'?`` (or the parameters it takes)."""
    valid = list(cls.Params.model_fields)
    close = closest(name, valid)
    takes = ", ".join(valid) or "no parameters"
    hint = f"did you mean {close!r}?" if close else f"{cls.name} takes: {takes}"
    return f"unknown parameter of {cls.name}; {hint}"


@dataclass(frozen=True, eq=False)
class StrategySpec:
    """A configured strategy: its class, where it came from and its validated parameters.

    :meth:`build` makes a fresh instance each time: every run, live or backtest, starts from
    an empty state.

    A spec travels **by value** (pickle, Dask): what trading.yaml says (``name``, the
    parameters as JSON data, the folder a relative file path starts from), found again where
    it lands (:func:`rebuild`). A class from a user's file is never pickled by reference: its
    module exists only in the process that loaded it. Two specs are equal when they say the
    same (name, origin, parameters), whichever process loaded the class.
    """

    name: str
    cls: type[Strategy]
    params: StrategyParams
    origin: str = "built-in"
    base: Path | None = None

    def by_value(self) -> tuple[str, dict[str, Any], str | None]:
        """``(name, parameters as JSON data, base folder)``: :func:`rebuild` takes them back."""
        base = None if self.base is None else str(self.base)
        return self.name, self.params.model_dump(mode="json"), base

    def __reduce__(self) -> tuple[Callable[..., StrategySpec], tuple[Any, ...]]:
        return rebuild, self.by_value()

    def _key(self) -> tuple[str, str, str]:
        params = json.dumps(self.params.model_dump(mode="json"), sort_keys=True, default=str)
        return self.name, self.origin, params

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, StrategySpec):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    @property
    def warmup(self) -> int:
        """The grid minutes the strategy needs before it may signal."""
        return self.build().warmup_minutes

    def build(self) -> Strategy:
        """A new strategy with these parameters."""
        factory: Callable[[StrategyParams], Strategy] = self.cls
        return factory(self.params)

    def with_params(self, **changes: Any) -> StrategySpec:
        """The same strategy with some parameters changed (validated: a sweep's axes).

        Raises:
            ValueError: the strategy refuses a value (``parameter: reason``).
        """
        params = parse_params(self.cls, {**self.params.model_dump(), **changes})
        return StrategySpec(self.name, self.cls, params, self.origin, self.base)


def resolve(
    name: str, params: Mapping[str, Any], *, source: str = "trading.yaml", base: Path | None = None
) -> StrategySpec:
    """Find ``name`` and validate ``params`` for it.

    Raises:
        ConfigError: one line naming ``source``, the key (``strategy.name`` or
            ``strategy.<parameter>``) and the reason.
    """
    # Absolute: the spec may be rebuilt in another process, from another working directory.
    if base is not None:
        base = base.absolute()
    elif file_of(name) is not None:
        base = Path.cwd()
    try:
        found = find(name, base)
    except LookupError as exc:
        raise ConfigError(source, "strategy.name", str(exc)) from None
    try:
        parsed = parse_params(found.cls, params)
    except ValueError as exc:
        text = str(exc)
        where, colon, reason = text.partition(": ")
        if colon and where.isidentifier():
            raise ConfigError(source, f"strategy.{where}", reason) from None
        raise ConfigError(source, "strategy", text) from None
    return StrategySpec(name, found.cls, parsed, found.origin, base)


#: The source :func:`rebuild` names in its errors (it runs where the spec landed, e.g. a worker).
_HERE = "trading.yaml (as shipped to this process)"


def rebuild(name: str, params: Mapping[str, Any], base: str | None) -> StrategySpec:
    """A spec from :meth:`StrategySpec.by_value`, found again in this process.

    The class is found once per process and file version (a Dask worker unpickles a spec per
    task); an edited file is read again.

    Raises:
        ConfigError: the strategy cannot be found here (e.g. a file missing on this machine).
    """
    folder = None if base is None else Path(base)
    found = _find_once(name, folder, _file_stamp(name, folder))
    try:
        parsed = parse_params(found.cls, params)
    except ValueError as exc:
        raise ConfigError(_HERE, "strategy", str(exc)) from None
    return StrategySpec(name, found.cls, parsed, found.origin, folder)


def _file_stamp(name: str, base: Path | None) -> tuple[int, int] | None:
    """The modification time and size of the file ``name`` points to, if it names one."""
    path = file_of(name, base)
    if path is None:
        return None
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_mtime_ns, stat.st_size


@functools.lru_cache(maxsize=64)
def _find_once(name: str, base: Path | None, stamp: tuple[int, int] | None) -> Found:
    del stamp  # part of the cache key only
    try:
        return find(name, base)
    except LookupError as exc:
        raise ConfigError(_HERE, "strategy.name", str(exc)) from None


@dataclass(frozen=True, slots=True)
class ParamInfo:
    """One declared parameter, for ``fleece strategy list``."""

    name: str
    kind: str
    default: str
    bounds: str
    description: str


def describe_params(cls: type[Strategy]) -> list[ParamInfo]:
    """Each parameter of ``cls`` with its type, default, bounds and description."""
    out: list[ParamInfo] = []
    for name, info in cls.Params.model_fields.items():
        bounds: list[str] = []
        for meta in info.metadata:
            if isinstance(meta, Bound):
                bounds.append(f"{meta.sign} {meta.limit:g}")
                continue
            for attr, sign in (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<")):
                value = getattr(meta, attr, None)
                if value is not None:
                    bounds.append(f"{sign} {value}")
        kind = getattr(info.annotation, "__name__", str(info.annotation))
        default = (
            "required" if info.is_required() else repr(info.get_default(call_default_factory=True))
        )
        out.append(ParamInfo(name, kind, default, ", ".join(bounds), info.description or ""))
    return out


def entry_point_names() -> list[str]:
    """The names of the installed entry points of the group ``fleece.strategies``, sorted."""
    return sorted(_entry_points())


def available() -> list[Found]:
    """The built-ins, then the installed entry points (those that load)."""
    found = [Found(cls, "built-in", name) for name, cls in BUILTINS.items()]
    for spec in entry_point_names():
        try:
            found.append(find(spec))
        except LookupError:
            continue
    return found
