"""The ``.env`` file: read its variables, refusing what would be silently misread.

:func:`read_env_file` is what :func:`fleece.config_env.load_settings` reads the file with: a
malformed line, a variable set twice or a misspelt name of ours is a one-line
:class:`~fleece.errors.ConfigError`, never a value quietly dropped. :func:`env_file_warning`
warns when the file (it holds the API keys) is readable by others.
"""

from __future__ import annotations

import difflib
import io
from pathlib import Path

from dotenv import dotenv_values
from dotenv.parser import parse_stream

from fleece.config_errors import _PLAIN_KEY, FILE_KEY, _os_reason
from fleece.errors import ConfigError

# Prefixes that mark a .env variable as meant for us, so a typo in one is refused, not ignored.
_OUR_PREFIXES = ("ALPACA_", "FLEECE_", "SIM_", "DASHBOARD_", "NOTIFY_", "TELEGRAM_", "HEARTBEAT_")


def read_env_file(path: Path, known: tuple[str, ...]) -> dict[str, str]:
    """Return the non-empty variables of a ``.env`` file, refusing malformed or misspelt lines.

    Args:
        path: the ``.env`` file; a missing one has no variables.
        known: the variable names the settings accept (``ENV_NAMES``).

    Raises:
        ConfigError: the file cannot be read, or a line is malformed, repeated or misspelt.
    """
    source = str(path)
    if not path.exists():
        return {}
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(source, FILE_KEY, f"cannot read the file: {_os_reason(exc)}") from None
    _refuse_ambiguous_lines(source, text, known)
    found: dict[str, str] = {}
    for raw_name, value in dotenv_values(stream=io.StringIO(text)).items():
        name = raw_name.upper()
        if name not in known:
            _refuse_if_misspelt(source, name, known)
            continue
        if value is not None and value.strip():
            found[name] = value
    return found


def _refuse_ambiguous_lines(source: str, text: str, known: tuple[str, ...]) -> None:
    """Refuse what YAML refuses too: a line that is no assignment, a variable set twice.

    python-dotenv would read a bare ``KILL_SWITCH`` as unset (so false) and keep the last of
    two ``KILL_SWITCH=`` lines, so a later ``false`` would silently undo a ``true``.
    """
    first: dict[str, int] = {}
    for binding in parse_stream(io.StringIO(text)):
        original = binding.original.string
        # A binding's text starts with the blank lines before it: count them to name its line.
        line = binding.original.line + original[: len(original) - len(original.lstrip())].count(
            "\n"
        )
        if binding.error:
            raise ConfigError(source, f"line {line}", "malformed line (expected NAME=value)")
        if binding.key is None:
            continue  # a comment or a blank line
        shown = binding.key if _PLAIN_KEY.fullmatch(binding.key) else ascii(binding.key)
        if binding.value is None:
            raise ConfigError(
                source,
                f"line {line}",
                f"{shown} has no '=': write {shown}=value (a bare name reads as unset)",
            )
        name = binding.key.upper() if binding.key.upper() in known else binding.key
        if name in first:
            raise ConfigError(
                source,
                f"line {line}",
                f"{shown} is set again (first on line {first[name]}); keep one line: "
                "a repeated variable silently takes its last value",
            )
        first[name] = line


def env_file_warning(path: Path) -> str | None:
    """A warning line when ``path`` (the ``.env`` with the API keys) is group/other-readable.

    Returns:
        None when the file is missing or readable by its owner only.
    """
    try:
        mode = path.stat().st_mode
    except OSError:
        return None
    if not mode & 0o077:
        return None
    return (
        f"{path} is accessible by group or others (mode {mode & 0o777:o}); it holds API keys: "
        f"chmod 600 {path}"
    )


def _refuse_if_misspelt(source: str, name: str, known: tuple[str, ...]) -> None:
    # Other tools may share the .env (BOT_ROOT for systemd, ...): only names that look like
    # ours are refused, because a misspelt KILL_SWITCH silently ignored is a real danger.
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.8)
    if close or name.startswith(_OUR_PREFIXES):
        hint = f"did you mean {close[0]}?" if close else f"known: {', '.join(known)}"
        raise ConfigError(source, name, f"unknown variable; {hint}")
