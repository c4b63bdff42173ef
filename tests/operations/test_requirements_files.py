"""requirements{,-dev}.{in,txt}: reproducible installs without uv, never drifting from uv.lock."""

from __future__ import annotations

import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest
from ops_helpers import REPO, clean_environ

EXPORTS = {
    "requirements.txt": ["--no-dev"],
    "requirements-dev.txt": ["--group", "dev"],
}


def uv() -> list[str]:
    found = shutil.which("uv")
    if found is None:
        pytest.skip("uv is not installed")
    return [found]


def export(extra: list[str]) -> str:
    """What `make requirements` writes, from the current uv.lock."""
    command = [*uv(), "export", "--frozen", *extra, "--no-emit-project"]
    command += ["--format", "requirements-txt"]
    done = subprocess.run(
        command, cwd=REPO, env=clean_environ(), capture_output=True, text=True, check=True
    )
    return done.stdout


def requirement_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line and not line.startswith(("#", "-", " "))]


def pyproject() -> dict[str, object]:
    return tomllib.loads((REPO / "pyproject.toml").read_text())


@pytest.mark.parametrize("name", sorted(EXPORTS))
def test_the_hashed_requirements_match_uv_lock(name: str) -> None:
    committed = (REPO / name).read_text()

    assert committed == export(EXPORTS[name]), f"{name} drifted from uv.lock: run make requirements"


@pytest.mark.parametrize("name", sorted(EXPORTS))
def test_every_requirement_is_pinned_and_hashed(name: str) -> None:
    text = (REPO / name).read_text()
    entries = re.split(r"\n(?=[a-z0-9])", text.split("\n", 2)[2], flags=re.IGNORECASE)

    for entry in entries:
        if not entry.strip() or entry.startswith("#"):
            continue
        assert re.match(r"[A-Za-z0-9._-]+==\S+", entry), entry.splitlines()[0]
        assert "--hash=sha256:" in entry, entry.splitlines()[0]


def test_requirements_in_lists_the_direct_dependencies() -> None:
    project = pyproject()["project"]
    assert isinstance(project, dict)

    listed = requirement_lines((REPO / "requirements.in").read_text())

    assert listed == project["dependencies"]


def test_requirements_dev_in_adds_the_dev_group_to_requirements_in() -> None:
    groups = pyproject()["dependency-groups"]
    assert isinstance(groups, dict)
    text = (REPO / "requirements-dev.in").read_text()

    assert "-r requirements.in" in text.splitlines()
    assert requirement_lines(text) == groups["dev"]


def test_a_fresh_venv_installs_with_require_hashes_and_runs_the_bot_cli(tmp_path: Path) -> None:
    # Package-index access is allowed here; uv's cache makes it quick when warm.
    venv = tmp_path / "venv"
    python = venv / "bin" / "python"
    env = clean_environ({"UV_LINK_MODE": "copy"})
    env.pop("VIRTUAL_ENV", None)
    subprocess.run([*uv(), "venv", "-q", str(venv)], env=env, check=True, timeout=120)
    install = [*uv(), "pip", "install", "-q", "--python", str(python)]
    deps = subprocess.run(
        [*install, "--require-hashes", "-r", str(REPO / "requirements.txt")],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if deps.returncode != 0 and re.search(r"(?i)dns|connect|network|offline", deps.stderr):
        pytest.skip(f"package index unreachable: {deps.stderr.strip().splitlines()[-1]}")
    assert deps.returncode == 0, deps.stderr
    project = subprocess.run(
        [*install, "--no-deps", str(REPO)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert project.returncode == 0, project.stderr

    done = subprocess.run(
        [str(venv / "bin" / "fleece"), "--help"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert done.returncode == 0, done.stderr
    assert "status" in done.stdout and "run" in done.stdout
