"""Specification of the ``.env`` file: what YAML refuses, ``.env`` refuses too.

A variable set twice, or a name on a line without ``=``, is refused with one line naming the
file, the line and the variable (exit 2), at ``fleece config check`` and at start. Before,
python-dotenv kept the last of two values, so a later ``KILL_SWITCH=false`` silently undid a
``KILL_SWITCH=true``, and a bare ``KILL_SWITCH`` line read as unset, i.e. false.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fleece.cli import app
from fleece.config import load_settings
from fleece.errors import ConfigError
from startup_helpers import bot_directory


@pytest.fixture
def bot_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A bot directory with a trading.yaml and no ambient fleece variables."""
    yield bot_directory(tmp_path, monkeypatch, "symbols:\n  list: [SPY]\n")


def env_file(directory: Path, text: str) -> Path:
    path = directory / ".env"
    path.write_text(text, encoding="utf-8")
    return path


def refusal(path: Path) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load_settings(path, {})
    assert "\n" not in str(info.value)
    return info.value


def test_a_variable_set_twice_is_refused_naming_both_lines(tmp_path: Path) -> None:
    path = env_file(tmp_path, "KILL_SWITCH=true\nLOG_LEVEL=INFO\nKILL_SWITCH=false\n")

    error = refusal(path)

    assert (error.source, error.key) == (str(path), "line 3")
    assert error.reason.startswith("KILL_SWITCH is set again (first on line 1)")


def test_a_name_without_equals_is_refused_not_read_as_false(tmp_path: Path) -> None:
    path = env_file(tmp_path, "FLEECE_MODE=sim\nKILL_SWITCH\n")

    error = refusal(path)

    assert (error.source, error.key) == (str(path), "line 2")
    assert error.reason.startswith("KILL_SWITCH has no '='")


def test_the_same_variable_in_another_case_counts_as_set_twice(tmp_path: Path) -> None:
    path = env_file(tmp_path, "kill_switch=true\nKILL_SWITCH=false\n")

    assert refusal(path).key == "line 2"


def test_a_repeated_variable_of_another_tool_is_refused_too(tmp_path: Path) -> None:
    # The .env may hold BOT_ROOT for systemd: a repeat is as ambiguous there as anywhere.
    path = env_file(tmp_path, "BOT_ROOT=/opt/a\nBOT_ROOT=/opt/b\n")

    assert refusal(path).reason.startswith("BOT_ROOT is set again")


def test_line_numbers_count_blank_lines_and_comments(tmp_path: Path) -> None:
    path = env_file(tmp_path, "# settings\n\nDRY_RUN=true\n\n\n# again\nexport DRY_RUN=false\n")

    error = refusal(path)

    assert error.key == "line 7"
    assert "first on line 3" in error.reason


def test_distinct_variables_empty_values_and_comments_are_fine(tmp_path: Path) -> None:
    path = env_file(tmp_path, "# a comment\nKILL_SWITCH=true\n\nDRY_RUN=\nBOT_ROOT=/opt/bot\n")

    settings = load_settings(path, {})

    assert settings.kill_switch is True and settings.dry_run is False


@pytest.mark.parametrize("command", [["config", "check"], ["run"]])
def test_config_check_and_run_refuse_it_with_one_line_and_exit_2(
    bot_dir: Path, command: list[str]
) -> None:
    env_file(
        bot_dir, "FLEECE_MODE=sim\nCONFIG_PATH=trading.yaml\nKILL_SWITCH=true\nKILL_SWITCH=false\n"
    )

    result = CliRunner().invoke(app, command)

    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        "error: .env: line 4: KILL_SWITCH is set again (first on line 3); keep one line: "
        "a repeated variable silently takes its last value"
    ]
