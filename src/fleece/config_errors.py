"""How the configuration words its refusals: one line naming the file, the key and the reason.

Shared by the environment (:mod:`fleece.config_env`, :mod:`fleece.config_env_file`), the
sections (:mod:`fleece.config_sections`) and the loader (:mod:`fleece.config`).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from pathlib import Path

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails, InitErrorDetails, PydanticCustomError

ENVIRONMENT = "environment"
"""The source named in errors about a value that came from the process environment."""
DEFAULT_SOURCE = "default"
FILE_KEY = "(file)"
"""The key named in errors about a whole file (missing, empty, unreadable)."""
_PLAIN_KEY = re.compile(r"[A-Za-z0-9_-]+")


def located_error(model: str, loc: tuple[str, ...], value: object, reason: str) -> ValidationError:
    """A refusal found by a model's own check that spans its sections, placed at the key
    ``loc`` (relative to the model) so that it reads like any key's refusal: file, key, reason."""
    error = PydanticCustomError("value_error", "{reason}", {"reason": reason})
    detail = InitErrorDetails(type=error, loc=loc, input=value)
    return ValidationError.from_exception_data(model, [detail])


def _first_error(exc: ValidationError) -> ErrorDetails:
    # An unknown key usually explains the rest (a typo also makes a required key "missing").
    errors = exc.errors(include_url=False)
    unknown = [e for e in errors if e["type"] in ("extra_forbidden", "invalid_key")]
    return (unknown or errors)[0]


_PLAIN_MESSAGES = {
    "missing": "required key is missing",
    "tuple_type": "expected a list",
    "model_type": "expected a section of keys (a mapping)",
    "model_attributes_type": "expected a section of keys (a mapping)",
    "dict_type": "expected a mapping",
    "invalid_key": "keys must be text",
}


def _reason(error: ErrorDetails, model: type[BaseModel], show_input: bool = True) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        return _unknown_key_reason(error["loc"], model)
    if kind == "value_error":
        return _one_line(error["msg"].removeprefix("Value error, "))
    message = _PLAIN_MESSAGES.get(kind) or error["msg"][:1].lower() + error["msg"][1:]
    if show_input and kind != "missing":
        message += f" (got {_short(error['input'])})"
    return message


def closest(name: str, valid: Iterable[str]) -> str | None:
    """The valid name a mistyped ``name`` most likely meant, or None when none is near.

    Every "did you mean" of the bot asks this: config keys, strategy names and parameters.
    """
    close = difflib.get_close_matches(name, list(valid), n=1, cutoff=0.6)
    return close[0] if close else None


def _unknown_key_reason(loc: tuple[int | str, ...], model: type[BaseModel]) -> str:
    name = str(loc[-1])  # shown with !r below, so a newline in it stays on one line
    section = _model_at(model, loc[:-1])
    valid = [f.alias or n for n, f in section.model_fields.items()] if section else []
    close = closest(name, valid)
    if close:
        return f"unknown key {name!r}; did you mean {close!r}?"
    return f"unknown key {name!r}; valid keys: {', '.join(valid)}"


def _model_at(model: type[BaseModel], path: tuple[int | str, ...]) -> type[BaseModel] | None:
    for part in path:
        fields = {(f.alias or n): f for n, f in model.model_fields.items()}
        annotation = fields[part].annotation if part in fields else None
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return None
        model = annotation
    return model


def _dotted(loc: tuple[int | str, ...]) -> str:
    key = ""
    for part in loc:
        if isinstance(part, int):
            key += f"[{part}]"
            continue
        # A key read from the file may hold anything, newlines included: quote the odd ones.
        name = part if _PLAIN_KEY.fullmatch(part) else ascii(part)
        key += f".{name}" if key else name
    return key or "(top level)"


def _short(value: object) -> str:
    text = _one_line(repr(value))
    return text if len(text) <= 60 else text[:57] + "..."


def _one_line(value: object) -> str:
    return " ".join(str(value).split())


def _os_reason(exc: Exception) -> str:
    return exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__


def _shown_path(path: Path) -> str:
    """Show ``path`` relative to the current directory when it lies below it."""
    try:
        return str(path.absolute().relative_to(Path.cwd()))
    except ValueError:
        return str(path)
