"""Specification: ``fleece demo`` reads its settings as every command does (``.env`` and
environment) and puts over them only what a demo needs.

Before, the demo probed 127.0.0.1:8080 itself and respected only a DASHBOARD_PORT of the process
environment: with 8080 taken, a DASHBOARD_PORT set in ``.env`` was replaced by "any free port",
and a DASHBOARD_HOST set in ``.env`` was never probed (its port taken, the demo failed to start).
A SIM_START in ``.env`` was ignored too.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from fleece.cli import DEMO_START, demo_overrides
from fleece.config import Settings, load_settings
from fleece.listening import can_listen
from startup_helpers import bot_env, forget_ambient_settings, write_env

DEFAULT_PORT: int = Settings.model_fields["dashboard_port"].default


@pytest.fixture(autouse=True)
def no_ambient_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    forget_ambient_settings(monkeypatch)


@contextmanager
def taken(host: str, port: int) -> Iterator[None]:
    """``host:port`` taken by a listener for the block (ours, or whoever holds it already)."""
    with socket.socket() as holder:
        try:
            holder.bind((host, port))
            holder.listen()
        except OSError:
            pass  # someone on this machine already listens there: taken all the same
        assert not can_listen(host, port)
        yield


def a_free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def demo_settings(root: Path, **dotenv: str) -> Settings:
    """The settings ``fleece demo`` runs with, ``dotenv`` written into ``root/.env``."""
    env_file = write_env(root, bot_env(root, DASHBOARD_ENABLED="true", **dotenv))
    overrides = demo_overrides(1, 600.0, 7, load_settings(env_file, os.environ))
    return load_settings(env_file, {**os.environ, **overrides})


def test_a_dashboard_port_from_dotenv_is_honoured_when_the_default_port_is_taken(
    tmp_path: Path,
) -> None:
    chosen = a_free_port()

    with taken("127.0.0.1", DEFAULT_PORT):
        settings = demo_settings(tmp_path, DASHBOARD_PORT=str(chosen))

    assert settings.dashboard_port == chosen


def test_the_default_port_taken_on_the_dotenv_host_gives_way_to_a_free_one(
    tmp_path: Path,
) -> None:
    with taken("127.0.0.2", DEFAULT_PORT):
        settings = demo_settings(tmp_path, DASHBOARD_HOST="127.0.0.2")

    assert settings.dashboard_host == "127.0.0.2"
    assert settings.dashboard_port == 0  # any free port


def test_the_default_port_taken_gives_way_to_a_free_one(tmp_path: Path) -> None:
    with taken("127.0.0.1", DEFAULT_PORT):
        settings = demo_settings(tmp_path)

    assert settings.dashboard_port == 0


def test_the_demo_starts_on_the_sim_start_of_dotenv(tmp_path: Path) -> None:
    settings = demo_settings(tmp_path, SIM_START="2024-12-02")

    assert settings.sim_start is not None and settings.sim_start.isoformat() == "2024-12-02"


def test_without_a_sim_start_the_demo_starts_on_its_own_day(tmp_path: Path) -> None:
    env_file = write_env(tmp_path, {"FLEECE_MODE": "sim", "LOG_DIR": str(tmp_path / "logs")})

    overrides = demo_overrides(1, 600.0, 7, load_settings(env_file, os.environ))

    assert overrides["SIM_START"] == DEMO_START.isoformat()
