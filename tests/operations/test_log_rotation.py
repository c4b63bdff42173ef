"""logs/orchestrator.out: rotated by size without losing or doubling a line, errors greppable.

Each scenario runs in a child process whose stdout and stderr are appended to the log file, as
``bot.sh`` and ``daemon.py`` arrange it.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from ops_helpers import REPO, VENV_PYTHON

from fleece.config import load_settings
from fleece.errors import ConfigError
from fleece.logs import DEFAULT_BACKUPS, DEFAULT_MAX_BYTES

SCRIPT = """\
import logging, sys
from pathlib import Path
from fleece.logs import setup_logging
setup_logging("INFO", Path(sys.argv[1]), [], max_bytes=int(sys.argv[2]), backups=50)
log = logging.getLogger("fleece.test")
for i in range(int(sys.argv[3])):
    log.info("event n=%d", i)
    if i % 10 == 0:
        log.error("failure n=%d", i)
        print(f"raw stderr n={i}", file=sys.stderr, flush=True)
"""


def run_logger(log_dir: Path, max_bytes: int, events: int, *, redirect: bool) -> str:
    """Run SCRIPT; with ``redirect`` its stdout/stderr are appended to orchestrator.out."""
    log_dir.mkdir(parents=True, exist_ok=True)
    argv = [str(VENV_PYTHON), "-c", SCRIPT, str(log_dir), str(max_bytes), str(events)]
    if not redirect:
        done = subprocess.run(argv, capture_output=True, text=True, check=True)
        return done.stderr
    with (log_dir / "orchestrator.out").open("a") as out:
        subprocess.run(argv, stdout=out, stderr=subprocess.STDOUT, check=True)
    return ""


def all_lines(log_dir: Path) -> list[str]:
    """Every line of orchestrator.out and its backups, oldest file first."""
    files = sorted(
        log_dir.glob("orchestrator.out*"),
        key=lambda p: -int(p.suffix[1:]) if p.suffix[1:].isdigit() else 0,
    )
    return [line for f in files for line in f.read_text().splitlines()]


def test_rotation_by_size_keeps_every_line_once_and_in_order(tmp_path: Path) -> None:
    run_logger(tmp_path, max_bytes=2_000, events=300, redirect=True)

    lines = all_lines(tmp_path)
    events = [int(line.rsplit("n=", 1)[1]) for line in lines if " event n=" in line]

    assert len(list(tmp_path.glob("orchestrator.out.*"))) > 5
    assert events == list(range(300))


def test_no_rotated_file_grows_past_the_limit(tmp_path: Path) -> None:
    run_logger(tmp_path, max_bytes=2_000, events=300, redirect=True)

    sizes = [p.stat().st_size for p in tmp_path.glob("orchestrator.out*")]

    assert max(sizes) <= 2_000 + 200  # one line of slack: the raw stderr writes are not counted


def test_redirected_stderr_follows_the_log_across_rotations(tmp_path: Path) -> None:
    run_logger(tmp_path, max_bytes=2_000, events=300, redirect=True)

    # Each raw line is printed right after its "failure" record, and a rotation only happens
    # as a record is written: so both must be in the same file, whichever that is.
    files = {p.name: p.read_text() for p in tmp_path.glob("orchestrator.out*")}
    for n in range(0, 300, 10):
        record = f"ERROR fleece.test failure n={n}\n"
        (holder,) = [name for name, text in files.items() if record in text]
        assert f"raw stderr n={n}\n" in files[holder], (n, holder)


def test_log_lines_are_not_doubled_when_stderr_is_the_log_file(tmp_path: Path) -> None:
    run_logger(tmp_path, max_bytes=0, events=20, redirect=True)

    text = (tmp_path / "orchestrator.out").read_text()

    assert text.count("event n=7\n") == 1


def test_without_redirection_log_lines_also_go_to_stderr(tmp_path: Path) -> None:
    stderr = run_logger(tmp_path, max_bytes=0, events=20, redirect=False)

    assert "INFO fleece.test event n=7" in stderr
    assert "INFO fleece.test event n=7" in (tmp_path / "orchestrator.out").read_text()


def test_grep_error_finds_every_error(tmp_path: Path) -> None:
    run_logger(tmp_path, max_bytes=0, events=100, redirect=True)

    found = subprocess.run(
        ["grep", "ERROR", str(tmp_path / "orchestrator.out")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()

    assert [line.rsplit("n=", 1)[1] for line in found] == [str(n) for n in range(0, 100, 10)]


def test_rotation_size_and_backups_are_settings(tmp_path: Path) -> None:
    settings = load_settings(None, {"LOG_MAX_BYTES": "1048576", "LOG_BACKUPS": "3"})

    assert (settings.log_max_bytes, settings.log_backups) == (1_048_576, 3)


def test_the_rotation_defaults_are_the_logs_modules_and_the_documented_ones() -> None:
    defaults = load_settings(None, {})
    readme = (REPO / "README.md").read_text()
    example_env = (REPO / ".env.example").read_text()

    assert (defaults.log_max_bytes, defaults.log_backups) == (DEFAULT_MAX_BYTES, DEFAULT_BACKUPS)
    assert DEFAULT_MAX_BYTES == 10 * 1024 * 1024
    assert "`LOG_MAX_BYTES` (default 10 MiB" in readme
    assert f"`LOG_BACKUPS` (default {DEFAULT_BACKUPS})" in readme
    assert f"LOG_MAX_BYTES={DEFAULT_MAX_BYTES}\nLOG_BACKUPS={DEFAULT_BACKUPS}\n" in example_env


@pytest.mark.parametrize(("name", "value"), [("LOG_MAX_BYTES", "-1"), ("LOG_BACKUPS", "0")])
def test_impossible_rotation_settings_are_refused(name: str, value: str) -> None:
    with pytest.raises(ConfigError) as refused:
        load_settings(None, {name: value})

    assert refused.value.key == name
