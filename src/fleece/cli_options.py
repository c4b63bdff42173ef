"""Command-line options that several ``fleece`` commands take, declared once.

A command names the type and its default, e.g. ``env_file: EnvFile = Path(".env")``, so that the
option reads the same (flag, environment variable, help) wherever it appears.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

EnvFile = Annotated[Path, typer.Option("--env-file", help="the .env file to read")]
"""The ``.env`` file a command reads its settings from."""

PidFile = Annotated[
    Path,
    typer.Option("--pid-file", envvar="BOT_PID_FILE", help="the PID file of bot.sh / daemon.py"),
]
"""The running bot's PID file (``BOT_PID_FILE``)."""
