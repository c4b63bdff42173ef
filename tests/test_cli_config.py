"""Specification of ``fleece config check`` and of the one-line errors every command shares."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from fleece.cli_config import config_app, mask_secret
from fleece.cli_support import cli_errors, error_line, user_errors
from fleece.errors import BrokerError, ConfigError, LiveTradingRefused
from new_user import run_python, user_environ
from startup_helpers import bot_directory

REPO = Path(__file__).resolve().parents[1]
API_KEY = "PKABCDEFGHIJKLMNOPQR"  # 20 characters
SECRET_KEY = "s3cr3tS3CR3Ts3cr3tS3CR3Ts3cr3tS3CR3Ts3cr"  # 40 characters
WIDE = {"COLUMNS": "200"}


@pytest.fixture
def bot_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A clean bot directory (no ambient fleece variables) holding the committed trading.yaml."""
    committed = (REPO / "config" / "trading.yaml").read_text()
    yield bot_directory(tmp_path, monkeypatch, committed, at="config/trading.yaml")


def write_env(directory: Path, *lines: str) -> Path:
    path = directory / ".env"
    path.write_text("\n".join(lines) + "\n")
    return path


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(config_app, list(args), env=WIDE)
    return result.exit_code, result.stdout, result.stderr


# --------------------------------------------------------------------------- config check


def test_check_prints_the_resolved_configuration_and_exits_0(bot_dir: Path) -> None:
    write_env(bot_dir, f"ALPACA_API_KEY={API_KEY}", f"ALPACA_SECRET_KEY={SECRET_KEY}")

    code, out, err = invoke("check")

    assert code == 0, err
    assert "Environment" in out and "Trading config" in out
    assert "LOG_LEVEL" in out and "risk.max_position_pct" in out and "SCCO" in out
    assert "data.warmup_bars" in out
    assert "https://paper-api.alpaca.markets" in out
    assert "configuration OK" in out


def test_check_masks_secrets_as_stars_and_length(bot_dir: Path) -> None:
    write_env(
        bot_dir,
        f"ALPACA_API_KEY={API_KEY}",
        f"ALPACA_SECRET_KEY={SECRET_KEY}",
        "DASHBOARD_TOKEN=tok-tok-tok",
    )

    code, out, _ = invoke("check")

    assert code == 0
    assert "****(20 chars)" in out and "****(40 chars)" in out and "****(11 chars)" in out
    for secret in (API_KEY, SECRET_KEY, "tok-tok-tok"):
        assert secret[:3] not in out


def test_check_shows_where_each_value_came_from(bot_dir: Path) -> None:
    env = write_env(bot_dir, f"ALPACA_API_KEY={API_KEY}", f"ALPACA_SECRET_KEY={SECRET_KEY}")

    result = CliRunner().invoke(config_app, ["check"], env={**WIDE, "LOG_LEVEL": "DEBUG"})

    assert result.exit_code == 0
    log_row = next(line for line in result.stdout.splitlines() if "LOG_LEVEL" in line)
    assert "DEBUG" in log_row and "environment" in log_row
    key_row = next(line for line in result.stdout.splitlines() if "ALPACA_API_KEY" in line)
    assert str(env) in key_row or ".env" in key_row


def test_check_in_sim_mode_needs_no_keys(bot_dir: Path) -> None:
    write_env(bot_dir, "FLEECE_MODE=sim")

    code, out, _ = invoke("check")

    assert code == 0
    assert "built-in exchange" in out


def test_check_uses_the_given_env_file_and_config(bot_dir: Path, tmp_path: Path) -> None:
    env = tmp_path / "other.env"
    env.write_text("FLEECE_MODE=sim\n")
    config = tmp_path / "small.yaml"
    config.write_text("symbols:\n  list: [ZZZZ]\n")

    code, out, _ = invoke("check", "--env-file", str(env), "--config", str(config))

    assert code == 0
    assert "ZZZZ" in out


def test_check_refuses_a_bad_config_with_one_line_and_exit_2(bot_dir: Path) -> None:
    write_env(bot_dir, "FLEECE_MODE=sim")
    (bot_dir / "config" / "trading.yaml").write_text(
        "symbols:\n  list: [AAPL]\nrisk:\n  max_postion_pct: 0.1\n"
    )

    code, out, err = invoke("check")

    assert code == 2
    assert err.splitlines() == [
        "error: config/trading.yaml: risk.max_postion_pct: unknown key 'max_postion_pct'; "
        "did you mean 'max_position_pct'?"
    ]
    assert out == ""


def test_check_refuses_missing_keys_with_the_hint(bot_dir: Path) -> None:
    code, _, err = invoke("check")

    assert code == 2
    assert "ALPACA_API_KEY" in err and "FLEECE_MODE=sim" in err


def test_check_refuses_live_trading_with_exit_2(bot_dir: Path) -> None:
    write_env(bot_dir, "FLEECE_MODE=sim", "ALLOW_LIVE_TRADING=true")

    code, _, err = invoke("check")

    assert code == 2
    assert err.startswith("error: .env: ALLOW_LIVE_TRADING: ")


def test_check_refuses_an_env_file_named_but_missing(bot_dir: Path) -> None:
    code, _, err = invoke("check", "--env-file", "nope.env")

    assert code == 2
    assert err.strip() == "error: nope.env: (file): file not found"


def test_mask_secret_never_shows_any_part_of_the_value() -> None:
    from pydantic import SecretStr

    assert mask_secret(SecretStr("PKXYZ")) == "****(5 chars)"
    assert mask_secret(None) == "(not set)"


# --------------------------------------------------------------------------- cli_support


def app_raising(error: Exception) -> typer.Typer:
    app = typer.Typer()

    @app.command()
    @cli_errors
    def run(count: int = 1) -> None:
        """A command that fails ``count`` times (once is enough)."""
        raise error

    return app


def test_a_config_error_becomes_one_stderr_line_and_exit_2() -> None:
    error = ConfigError("config/trading.yaml", "risk.max_position_pct", "must be in (0, 1]")

    result = CliRunner().invoke(app_raising(error), ["--count", "2"])

    assert result.exit_code == 2
    assert result.stderr == "error: config/trading.yaml: risk.max_position_pct: must be in (0, 1]\n"
    assert "Traceback" not in result.output


def test_the_paper_lock_refusal_exits_2() -> None:
    result = CliRunner().invoke(app_raising(LiveTradingRefused(".env", "ALPACA_PAPER", "no")), [])

    assert result.exit_code == 2


def test_other_fleece_errors_exit_1_with_one_line() -> None:
    result = CliRunner().invoke(app_raising(BrokerError("broker down\nretry later")), [])

    assert result.exit_code == 1
    assert result.stderr == "error: broker down retry later\n"


def test_bugs_are_not_disguised_as_user_errors() -> None:
    result = CliRunner().invoke(app_raising(ZeroDivisionError("bug")), [])

    assert isinstance(result.exception, ZeroDivisionError)


def test_the_context_manager_form_exits_the_same_way() -> None:
    with pytest.raises(typer.Exit) as info, user_errors():
        raise ConfigError("environment", "LOG_LEVEL", "bad")

    assert info.value.exit_code == 2


def test_error_line_keeps_markup_like_text_literally() -> None:
    line = error_line(ConfigError("t.yaml", "symbols.list[3]", "invalid symbol '[bold]'"))

    assert line == "error: t.yaml: symbols.list[3]: invalid symbol '[bold]'"


# --------------------------------------------------------------------------- real process


def test_a_bad_config_in_a_real_process_prints_one_line_exit_2_and_no_traceback(
    tmp_path: Path,
) -> None:
    (tmp_path / ".env").write_text("FLEECE_MODE=sim\n")
    (tmp_path / "bad.yaml").write_text("symbols:\n  list: [AAPL, AAPL]\n")

    done = run_python(
        ["-m", "fleece.cli_config", "check", "--config", "bad.yaml"],
        cwd=tmp_path,
        env=user_environ(),
    )

    assert done.returncode == 2
    assert done.stderr.splitlines() == ["error: bad.yaml: symbols.list: duplicate symbol 'AAPL'"]
    assert "Traceback" not in done.stderr + done.stdout
