"""Dockerfile, docker-compose.yml and .dockerignore, checked statically.

No Docker engine runs on the machines these tests run on, so nothing here builds or starts a
container: the files are parsed and their promises checked.
"""

from __future__ import annotations

import json
import re
import shlex
from typing import Any

import pytest
import yaml
from ops_helpers import REPO

from fleece.bot_process import STOP_TIMEOUT_SECONDS


def dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile, continuation lines joined."""
    text = re.sub(r"\\\n", " ", (REPO / "Dockerfile").read_text())
    found = []
    for raw in text.splitlines():
        line = raw.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            found.append((word.upper(), rest.strip()))
    return found


def instructions(name: str) -> list[str]:
    return [rest for word, rest in dockerfile() if word == name]


def exec_form(arguments: str) -> list[str]:
    """The JSON array of an exec-form CMD / ENTRYPOINT / HEALTHCHECK CMD."""
    value = json.loads(arguments)
    assert isinstance(value, list) and all(isinstance(v, str) for v in value)
    return value


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    assert isinstance(data, dict)
    return data


@pytest.fixture(scope="module")
def service(compose: dict[str, Any]) -> dict[str, Any]:
    return compose["services"]["alpaca-bot"]  # type: ignore[no-any-return]


def test_the_image_is_python_3_12_slim() -> None:
    assert instructions("FROM")[0] == "python:3.12-slim"


def test_uv_is_pinned_and_installs_the_locked_environment() -> None:
    (uv,) = [c for c in instructions("COPY") if "astral-sh/uv" in c]
    assert re.search(r"ghcr\.io/astral-sh/uv:\d+\.\d+\.\d+ ", uv)
    syncs = [r for r in instructions("RUN") if "uv sync" in r]
    assert syncs and all("--frozen" in r and "--no-dev" in r for r in syncs)


def test_the_bot_runs_as_a_non_root_user() -> None:
    users = instructions("USER")
    assert users and users[-1] not in {"root", "0", "0:0"}
    created = " ".join(instructions("RUN"))
    assert "useradd" in created and users[-1] in created


def test_the_container_runs_the_bot_entry_point() -> None:
    assert instructions("ENTRYPOINT") == []
    (cmd,) = instructions("CMD")
    assert exec_form(cmd) == ["python", "orchestrator.py"]
    assert any("/app/.venv/bin" in env for env in instructions("ENV"))


def test_data_and_logs_are_volumes() -> None:
    (volumes,) = instructions("VOLUME")
    assert set(exec_form(volumes)) == {"/app/data", "/app/logs"}


def test_the_healthcheck_asks_the_bot_itself() -> None:
    (check,) = instructions("HEALTHCHECK")
    options, _, command = check.partition("CMD ")
    assert exec_form(command) == ["fleece", "status", "--check"]
    assert {"--interval", "--timeout", "--start-period", "--retries"} <= {
        o.split("=")[0] for o in shlex.split(options)
    }


def test_sigterm_stops_the_container() -> None:
    assert instructions("STOPSIGNAL") == ["SIGTERM"]


def test_what_the_image_copies_exists() -> None:
    for arguments in instructions("COPY"):
        if arguments.startswith("--from"):
            continue
        *sources, _target = arguments.split()
        for source in sources:
            assert (REPO / source).exists(), source


def test_secrets_and_state_stay_out_of_the_build_context() -> None:
    ignored = (REPO / ".dockerignore").read_text().split()
    assert {".env", ".venv", "data/", "logs/", ".git"} <= set(ignored)


def test_compose_runs_one_service_named_alpaca_bot_built_here(
    compose: dict[str, Any], service: dict[str, Any]
) -> None:
    assert list(compose["services"]) == ["alpaca-bot"]
    assert service["build"]["context"] == "."
    assert service["container_name"] == "alpaca-bot"


def test_compose_reads_the_env_file_and_pins_paths_to_the_volumes(
    service: dict[str, Any],
) -> None:
    assert service["env_file"] == ".env"
    assert service["environment"]["DATABASE_PATH"] == "/app/data/trades.db"
    assert service["environment"]["LOG_DIR"] == "/app/logs"


def test_compose_mounts_data_and_logs_from_the_bot_directory(service: dict[str, Any]) -> None:
    mounts = {v.split(":")[1]: v.split(":")[0] for v in service["volumes"]}
    assert mounts["/app/data"] == "./data"
    assert mounts["/app/logs"] == "./logs"


def test_compose_restarts_the_bot_and_gives_it_time_to_shut_down(
    service: dict[str, Any],
) -> None:
    assert service["restart"] in {"unless-stopped", "always", "on-failure"}
    assert service["stop_signal"] == "SIGTERM"
    assert service["stop_grace_period"] == f"{STOP_TIMEOUT_SECONDS}s"


def test_compose_runs_as_a_non_root_user(service: dict[str, Any]) -> None:
    user = service["user"]
    assert user == "${BOT_UID:-1000}:${BOT_GID:-1000}"
    assert service["build"]["args"] == {"UID": "${BOT_UID:-1000}", "GID": "${BOT_GID:-1000}"}


def test_compose_healthcheck_matches_the_image(service: dict[str, Any]) -> None:
    assert service["healthcheck"]["test"] == ["CMD", "fleece", "status", "--check"]
