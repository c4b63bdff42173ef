"""``fleece strategy``: the strategies trading.yaml can name, and a starting file for a new one.

* ``fleece strategy list [--json] [--config trading.yaml]``: each built-in and installed
  strategy (entry points of the group ``fleece.strategies``), where it comes from, its summary,
  whether it has a vectorised path, and its parameters with type, default, bounds and
  description; with ``--config``, also the strategy that file names (a ``file.py:Class``).
* ``fleece strategy new NAME [--dir DIR]``: writes ``NAME.py`` (a complete, commented strategy)
  and ``test_NAME.py`` (its specifications), never over an existing file.

Registered on the main app by :mod:`fleece.cli`. Errors are one line, exit 2.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic_core import to_jsonable_python
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from fleece.cli_options import AsJson
from fleece.cli_support import user_errors
from fleece.config import load_trading_config
from fleece.errors import ConfigError
from fleece.strategy.api import Strategy
from fleece.strategy.registry import (
    BUILTINS,
    ParamInfo,
    describe_params,
    entry_point_names,
    find,
)
from fleece.strategy.template import STRATEGY, TESTS, check_name, class_name, render

strategy_app = typer.Typer(
    help="Strategies: list those trading.yaml can name, start a new one.", no_args_is_help=True
)
console = Console()


@dataclass(frozen=True, slots=True)
class Listed:
    """One strategy as ``fleece strategy list`` shows it.

    Attributes:
        spec: what ``strategy.name`` in trading.yaml says.
        origin: where it comes from (built-in, entry point and package, file, module).
        cls: the class, or None when it failed to load.
        problem: why it failed to load.
        configured: the strategy the ``--config`` file names.
    """

    spec: str
    origin: str
    cls: type[Strategy] | None = None
    problem: str | None = None
    configured: bool = False


def listed_strategies(config: Path | None = None) -> list[Listed]:
    """The built-ins, the installed entry points (also those that fail to load, with why),
    then the strategy ``config`` names when it is none of those.

    Raises:
        ConfigError: ``config`` cannot be read or names a strategy that cannot be found.
    """
    out = [Listed(name, "built-in", cls) for name, cls in BUILTINS.items()]
    for name in entry_point_names():
        try:
            found = find(name)
        except LookupError as exc:
            out.append(Listed(name, "entry point", problem=str(exc)))
            continue
        out.append(Listed(name, found.origin, found.cls))
    if config is None:
        return out
    spec = load_trading_config(config).strategy.spec
    for k, item in enumerate(out):
        if item.spec == spec.name:
            out[k] = Listed(item.spec, item.origin, item.cls, item.problem, configured=True)
            return out
    return [*out, Listed(spec.name, spec.origin, spec.cls, configured=True)]


def _vectorised(cls: type[Strategy]) -> bool:
    return cls.candidates is not Strategy.candidates


def _json_default(cls: type[Strategy], name: str) -> Any:
    field = cls.Params.model_fields[name]
    if field.is_required():
        return None
    return to_jsonable_python(field.get_default(call_default_factory=True), fallback=str)


def as_json(items: list[Listed]) -> list[dict[str, Any]]:
    """The list as JSON data (``--json``)."""
    out: list[dict[str, Any]] = []
    for item in items:
        entry: dict[str, Any] = {"name": item.spec, "origin": item.origin}
        if item.configured:
            entry["configured"] = True
        if item.cls is None:
            entry["error"] = item.problem
            out.append(entry)
            continue
        entry |= {
            "class": item.cls.__name__,
            "summary": item.cls.summary,
            "vectorised": _vectorised(item.cls),
            "parameters": [
                {
                    "name": p.name,
                    "type": p.kind,
                    "default": _json_default(item.cls, p.name),
                    "required": p.default == "required",
                    "bounds": p.bounds,
                    "description": p.description,
                }
                for p in describe_params(item.cls)
            ],
        }
        out.append(entry)
    return out


def _table(item: Listed) -> Table:
    marks = [item.origin]
    if item.configured:
        marks.append("configured")
    if item.cls is not None and _vectorised(item.cls):
        marks.append("vectorised path")
    title = f"[bold]{escape(item.spec)}[/]  ({escape(', '.join(marks))})"
    table = Table(title=title, title_justify="left", expand=False)
    if item.cls is None:
        table.add_column("cannot be loaded")
        table.add_row(escape(item.problem or ""))
        return table
    table.caption = escape(item.cls.summary) if item.cls.summary else None
    table.caption_justify = "left"
    params: list[ParamInfo] = describe_params(item.cls)
    for header in ("parameter", "type", "default", "bounds", "description"):
        table.add_column(header, overflow="fold")
    for p in params:
        table.add_row(*(escape(v) for v in (p.name, p.kind, p.default, p.bounds, p.description)))
    if not params:
        table.add_row("(none)", "", "", "", "")
    return table


@strategy_app.command("list")
def list_command(
    json_out: AsJson = False,
    config: Annotated[
        Path | None,
        typer.Option(help="also show the strategy this trading.yaml names (e.g. a file's)"),
    ] = None,
) -> None:
    """List the strategies trading.yaml can name, with their parameters."""
    with user_errors():
        items = listed_strategies(config)
    if json_out:
        typer.echo(json.dumps(as_json(items), indent=2))
        return
    for item in items:
        console.print(_table(item))
        console.print()
    console.print(
        "Name one in trading.yaml (strategy: {name: NAME, PARAMETER: VALUE}); your own file as "
        "name: file.py:Class. See docs/strategies.md; start one with `fleece strategy new`."
    )


def write_new(name: str, folder: Path) -> list[Path]:
    """Write ``NAME.py`` and ``test_NAME.py`` into ``folder`` (created if missing).

    Raises:
        ConfigError: a bad name, a file that exists already (nothing is written then), or a
            folder that cannot be written.
    """
    problem = check_name(name)
    if problem is not None:
        raise ConfigError("command line", "NAME", problem)
    files = {folder / f"{name}.py": STRATEGY, folder / f"test_{name}.py": TESTS}
    for path in files:
        if path.exists():
            raise ConfigError(
                "command line", "NAME", f"{path} exists; not overwritten (choose another NAME)"
            )
    written: list[Path] = []
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for path, text in files.items():
            with path.open("x", encoding="utf-8") as f:  # "x": never over a file
                f.write(render(text, name))
            written.append(path)
    except OSError as exc:
        raise ConfigError(
            "command line", "--dir", f"cannot write {exc.filename}: {exc.strerror}"
        ) from None
    return written


@strategy_app.command("new")
def new_command(
    name: Annotated[str, typer.Argument(help="the strategy's name, e.g. rsi (a module name)")],
    folder: Annotated[
        Path, typer.Option("--dir", help="where to write NAME.py and test_NAME.py")
    ] = Path(),
) -> None:
    """Write a commented starting strategy NAME.py and its tests test_NAME.py."""
    with user_errors():
        written = write_new(name, folder)
    for path in written:
        console.print(f"wrote {escape(str(path))}")
    spec = f"{name}.py:{class_name(name)}"
    console.print(
        f"\nNext, in {escape(str(folder))}:\n"
        f"  python -m pytest test_{name}.py      # its specifications\n"
        f"  a trading.yaml beside it with\n"
        f"      strategy:\n        name: {spec}\n"
        "  fleece backtest --config trading.yaml --data BARS_DIR\n"
        "See docs/strategies.md."
    )
