"""Shared by every command: errors a user can fix become one line on stderr, never a traceback.

Use either form around a command's body::

    @app.command()
    @cli_errors
    def run(...) -> None: ...

    with user_errors():
        ...

A :class:`~fleece.errors.ConfigError` (the paper lock included) prints
``error: <file>: <key>: <reason>`` and exits with code 2; any other
:class:`~fleece.errors.FleeceError` prints ``error: <message>`` and exits with code 1.
Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import ParamSpec, TypeVar

import typer

from fleece.errors import FleeceError, exit_code

P = ParamSpec("P")
R = TypeVar("R")


def error_line(exc: FleeceError) -> str:
    """Return ``error: <message>`` on a single line, whatever the message contains."""
    return "error: " + " ".join(str(exc).split())


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn a :class:`FleeceError` raised inside the block into one stderr line and an exit.

    Raises:
        typer.Exit: with :func:`fleece.errors.exit_code` of the error.
    """
    try:
        yield
    except FleeceError as exc:
        # Plain echo, not rich: rich would read "symbols.list[3]" as markup and eat it.
        typer.echo(error_line(exc), err=True)
        raise typer.Exit(exit_code(exc)) from None


def cli_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Decorate a command so that it reports a :class:`FleeceError` like :func:`user_errors`.

    The wrapper keeps the command's signature (``functools.wraps``), so typer still sees
    its options. Put it below ``@app.command()``.
    """

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with user_errors():
            return command(*args, **kwargs)

    return wrapper
