"""A fleece command as a new user's shell runs it.

A real ``python -m fleece`` process whose environment is the user's own: none of the bot's
settings (:data:`fleece.config.ENV_NAMES`, the one list the bot reads) leaks in from the shell
that runs the suite. Shared by every spec that starts fleece as a user would.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from fleece.config import ENV_NAMES

#: A guard against hangs, never a measured expectation.
COMMAND_GUARD_S = 120.0


def user_environ(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The current environment without any setting the bot reads, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if k.upper() not in ENV_NAMES}
    env.update(extra or {})
    return env


def run_python(
    args: list[str], *, cwd: Path, env: Mapping[str, str], timeout: float = COMMAND_GUARD_S
) -> subprocess.CompletedProcess[str]:
    """``python ARGS`` (this interpreter) in ``cwd`` with exactly ``env``; text output captured."""
    return subprocess.run(
        [sys.executable, *args],
        cwd=cwd,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def run_fleece(
    *args: str, cwd: Path, env: Mapping[str, str], timeout: float = COMMAND_GUARD_S
) -> subprocess.CompletedProcess[str]:
    """``python -m fleece ARGS`` in ``cwd`` with exactly ``env``; text output captured."""
    return run_python(["-m", "fleece", *args], cwd=cwd, env=env, timeout=timeout)
