"""Builders for "what ``fleece config check`` accepts, the bot starts with".

A bot directory holds ``trading.yaml`` and ``.env``; the commands run in-process through the
CLI's own functions (``fleece.cli._load`` with its preflight, ``fleece.cli.build_bot`` with its
logging), against the real built-in exchange over HTTP on loopback. A start is brief but real:
phases 1 to 3, then the simulated clock is moved past the next poll so that one poll cycle
runs (whatever ``SIM_SPEED`` and ``poll_interval_seconds`` are), then a graceful stop.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import Result
from typer.testing import CliRunner

from fleece import cli
from fleece.config import ENV_NAMES
from fleece.runtime import Bot

# tests/<this file> -> parents[1] is the repository; shared/ sits beside it.
FIXTURE_BARS = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "bars"
WAIT_S = 120.0  # a guard against hangs, never a measured expectation


def forget_ambient_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Unset every fleece variable the developer's shell may hold, for the test's duration."""
    for name in ENV_NAMES:
        monkeypatch.delenv(name, raising=False)


def bot_directory(
    root: Path, monkeypatch: pytest.MonkeyPatch, trading_yaml: str, at: str = "trading.yaml"
) -> Path:
    """``root`` as the current bot directory, ``trading_yaml`` written at ``at`` in it, with no
    ambient fleece variable (:func:`forget_ambient_settings`)."""
    forget_ambient_settings(monkeypatch)
    path = root / at
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(trading_yaml)
    monkeypatch.chdir(root)
    return root


def bot_env(root: Path, **extra: str) -> dict[str, str]:
    """A sim-mode ``.env`` for a bot living in ``root`` (no dashboard), with ``extra`` over it."""
    return {
        "FLEECE_MODE": "sim",
        "CONFIG_PATH": str(root / "trading.yaml"),
        "DATABASE_PATH": str(root / "data" / "trades.db"),
        "LOG_DIR": str(root / "logs"),
        "DASHBOARD_ENABLED": "false",
        "SIM_START": "2024-11-25",
        **extra,
    }


def write_env(root: Path, env: Mapping[str, str]) -> Path:
    """Write ``env`` as ``root/.env``."""
    path = root / ".env"
    path.write_text("".join(f"{name}={value}\n" for name, value in env.items()), encoding="utf-8")
    path.chmod(0o600)  # as the README asks: it would hold the API keys
    return path


@dataclass(frozen=True)
class Started:
    """How a brief run ended: its exit code, whether a poll cycle ran, and its log."""

    code: int
    polled: bool
    log: str


def start_and_stop(
    root: Path, env: Mapping[str, str] | None = None, overrides: Mapping[str, str] | None = None
) -> Started:
    """Start the bot as ``fleece run`` does (``fleece demo`` with its ``overrides``), briefly.

    Args:
        root: the bot directory; ``root/.env`` is read (written first from ``env`` if given).
        env: the ``.env`` to write, if any.
        overrides: settings over the environment, as ``fleece demo`` passes them.
    """
    if env is not None:
        write_env(root, env)
    handlers, level = list(logging.getLogger().handlers), logging.getLogger().level
    try:
        config = cli._load(root / ".env", overrides)
        bot = cli.build_bot(config)
        bot.install_signal_handlers = False  # the test process keeps its own handlers
        code, polled = asyncio.run(_briefly(bot))
    finally:
        _restore_logging(handlers, level)
    log_file = Path(config.settings.log_dir) / "orchestrator.out"
    return Started(code, polled, log_file.read_text(encoding="utf-8") if log_file.exists() else "")


async def _briefly(bot: Bot) -> tuple[int, bool]:
    task = asyncio.create_task(bot.run())
    try:
        await _until(lambda: bot.housekeeping is not None or task.done(), "start-up")
        if not task.done():
            minutes = bot.config.trading.data.poll_interval_seconds / 60 + 1
            bot.exchange.advance(minutes)  # the next poll is due now
            await _until(lambda: bot.stats.polls > 0 or task.done(), "a poll cycle")
    finally:
        bot.request_stop("test stop")
        code = await asyncio.wait_for(task, WAIT_S)
    return code, bot.stats.polls > 0


async def _until(predicate: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for: {what}")
        await asyncio.sleep(0.01)


def _restore_logging(handlers: list[logging.Handler], level: int) -> None:
    root = logging.getLogger()
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
            handler.close()
    for handler in handlers:
        if handler not in root.handlers:
            root.addHandler(handler)
    root.setLevel(level)


def config_check(root: Path) -> Result:
    """``fleece config check`` on ``root/.env``, in-process."""
    return CliRunner().invoke(cli.app, ["config", "check", "--env-file", str(root / ".env")])


def backtest(root: Path, *extra: str) -> Result:
    """``fleece backtest`` on two synthetic sessions with ``root/trading.yaml``, in-process."""
    args = ["backtest", "--synthetic", "--start", "2024-11-25", "--end", "2024-11-26"]
    args += ["--config", str(root / "trading.yaml"), "--out", str(root / "backtest"), *extra]
    return CliRunner().invoke(cli.app, args)
