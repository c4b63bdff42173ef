"""Every command that opens the store meets a broken one with one line and exit code 2.

Real processes, a real damaged file at DATABASE_PATH: the line names the file and says what to do,
and nothing else is printed (no traceback), whatever the command.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from ops_helpers import TRADING_YAML, clean_environ
from store_damage import DAMAGES, VERDICTS

from new_user import run_fleece

COMMANDS = {
    "run": ["run"],
    "status": ["status"],
    "dashboard": ["dashboard", "--port", "0"],
    "halt": ["halt"],
    "resume": ["resume"],
    "reset-breaker": ["reset-breaker"],
    "replay": ["replay", "2024-11-26"],
}


def fleece_beside(store: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``python -m fleece ARGS`` in sim mode with DATABASE_PATH at ``store``."""
    folder = store.parent
    (folder / "trading.yaml").write_text(TRADING_YAML)
    env = clean_environ(
        {
            "FLEECE_MODE": "sim",
            "DATABASE_PATH": str(store),
            "CONFIG_PATH": str(folder / "trading.yaml"),
            "LOG_DIR": str(folder / "logs"),
            "DASHBOARD_ENABLED": "false",
        }
    )
    return run_fleece(*args, cwd=folder, env=env)


def one_line(done: subprocess.CompletedProcess[str]) -> str:
    """The single line the command printed on stderr (fails if there is any other)."""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    return lines[0]


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_refuses_a_damaged_store_in_one_line(tmp_path: Path, command: str) -> None:
    store = DAMAGES["garbage in its pages"](tmp_path / "trades.db")

    done = fleece_beside(store, *COMMANDS[command])

    assert done.returncode == 2, done.stderr
    line = one_line(done)
    assert f"{store}: the store is damaged" in line
    assert "move it (with its -wal and -shm files) aside" in line


@pytest.mark.parametrize("damage", [d for d in DAMAGES if d != "garbage in its pages"])
def test_status_refuses_every_kind_of_broken_or_foreign_file_in_one_line(
    tmp_path: Path, damage: str
) -> None:
    store = DAMAGES[damage](tmp_path / "trades.db")

    done = fleece_beside(store, "status")

    assert done.returncode == 2
    assert one_line(done).startswith(f"error: {store}: {VERDICTS[damage]}")
