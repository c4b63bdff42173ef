"""alpaca-bot.service, its BOT_ROOT drop-in, ``make systemd-install`` and ``sd_notify``.

No systemd manager runs here: the unit is checked by parsing, by ``systemd-analyze verify``
where that tool is installed, and by running its ExecStart= command line for real (with
``${BOT_ROOT}`` substituted as systemd does) against the built-in exchange.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
from pathlib import Path

import pytest
from ops_helpers import REPO, clean_environ, make_bot_dir, wait_until

from fleece.bot_process import STOP_TIMEOUT_SECONDS
from fleece.errors import EXIT_CONFIG_ERROR, FleeceError
from fleece.systemd import (
    MIN_WATCHDOG_SECONDS,
    notify,
    render_dropin,
    watchdog_seconds,
    watchdog_warning,
)

UNIT = REPO / "alpaca-bot.service"


def unit_settings(text: str) -> dict[str, list[str]]:
    """``Section.Key`` -> values, in order (systemd allows a key several times)."""
    found: dict[str, list[str]] = {}
    section = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, _, value = line.partition("=")
        found.setdefault(f"{section}.{key.strip()}", []).append(value.strip())
    return found


@pytest.fixture(scope="module")
def unit() -> dict[str, list[str]]:
    return unit_settings(UNIT.read_text())


def expand(command: str, environ: dict[str, str]) -> list[str]:
    """Split ExecStart= and substitute ``${VAR}`` the way systemd does for words."""
    return [
        re.sub(r"\$\{(\w+)\}", lambda m: environ.get(m.group(1), ""), word)
        for word in command.split()
    ]


# --------------------------------------------------------------------------- the unit


def test_the_unit_waits_for_the_network(unit: dict[str, list[str]]) -> None:
    assert unit["Unit.After"] == ["network-online.target"]
    assert unit["Unit.Wants"] == ["network-online.target"]


def test_bot_root_comes_from_the_optional_defaults_file(unit: dict[str, list[str]]) -> None:
    assert unit["Service.EnvironmentFile"] == ["-/etc/default/alpaca-bot"]
    assert "BOT_ROOT=/opt/alpaca-fleece" in unit["Service.Environment"]


def test_exec_start_uses_bot_root_for_every_path(unit: dict[str, list[str]]) -> None:
    (command,) = unit["Service.ExecStart"]
    words = command.split()
    assert words[0] == "/usr/bin/env"  # systemd wants a literal absolute program
    assert "--chdir=${BOT_ROOT}" in words
    assert "PATH=${BOT_ROOT}/.venv/bin:/usr/local/bin:/usr/bin:/bin" in words
    assert "LOG_DIR=${BOT_ROOT}/logs" in words
    assert words[-2:] == ["${BOT_ROOT}/.venv/bin/python", "${BOT_ROOT}/orchestrator.py"]
    assert "/opt/alpaca-fleece" not in command


def test_the_unit_restarts_on_failure_but_not_on_a_refused_config(
    unit: dict[str, list[str]],
) -> None:
    assert unit["Service.Restart"] == ["on-failure"]
    assert unit["Service.RestartPreventExitStatus"] == [str(EXIT_CONFIG_ERROR)]
    assert unit["Service.KillSignal"] == ["SIGTERM"]
    assert unit["Service.TimeoutStopSec"] == [str(STOP_TIMEOUT_SECONDS)]


def test_the_unit_is_hardened(unit: dict[str, list[str]]) -> None:
    assert unit["Service.NoNewPrivileges"] == ["yes"]
    assert unit["Service.ProtectSystem"] == ["strict"]
    assert unit["Service.PrivateTmp"] == ["yes"]
    assert unit["Install.WantedBy"] == ["multi-user.target"]


def test_the_unit_waits_for_ready_and_watches_the_bot(unit: dict[str, list[str]]) -> None:
    assert unit["Service.Type"] == ["notify"]
    assert unit["Service.NotifyAccess"] == ["main"]  # env(1) execs python: the main PID
    # The bot pings from every poll cycle, once a minute; the bot warns below this.
    assert int(unit["Service.WatchdogSec"][0]) >= MIN_WATCHDOG_SECONDS
    assert int(unit["Service.TimeoutStartSec"][0]) >= 90


def test_the_exec_start_line_runs_the_bot_for_real_and_notifies_systemd(tmp_path: Path) -> None:
    # What systemd would run for BOT_ROOT=<a bot directory>: cwd, PATH and LOG_DIR come from
    # env(1), so the bot finds its .env and config and logs into ${BOT_ROOT}/logs. systemd's
    # side of Type=notify is a datagram socket named by NOTIFY_SOCKET; the test plays it.
    bot = make_bot_dir(tmp_path)
    (command,) = unit_settings(UNIT.read_text())["Service.ExecStart"]
    argv = expand(command, {"BOT_ROOT": str(bot.root)})
    address = str(tmp_path / "notify")
    messages: list[str] = []
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as systemd:
        systemd.bind(address)
        systemd.settimeout(0.1)

        def heard(message: str) -> bool:
            while True:
                try:
                    messages.append(systemd.recv(4096).decode())
                except TimeoutError:
                    return message in messages

        proc = subprocess.Popen(
            argv,
            cwd="/",
            env=clean_environ({"NOTIFY_SOCKET": address}),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            ready = wait_until(lambda: heard("READY=1"), 120)
            pinged = wait_until(
                lambda: heard("WATCHDOG=1") and messages.count("WATCHDOG=1") >= 3, 60
            )
            running = " bot running mode=sim" in bot.log()
            proc.send_signal(signal.SIGTERM)
            code = proc.wait(timeout=120)
            heard("STOPPING=1")
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert ready and running, bot.log()[-2000:]
    assert pinged, messages
    assert code == 0, bot.log()[-3000:]
    assert "shutdown complete" in bot.log()
    assert bot.db.exists()
    # READY=1 once trading, pings while it runs, STOPPING=1 when the graceful shutdown begins.
    assert messages.index("READY=1") < messages.index("WATCHDOG=1") < messages.index("STOPPING=1")
    assert messages.count("READY=1") == 1


# --------------------------------------------------------------------------- the drop-in


def test_the_drop_in_pins_the_resolved_bot_root() -> None:
    text = render_dropin(Path("/srv/alpaca-fleece"), "trader", "trader")

    settings = unit_settings(text)

    assert settings["Service.User"] == ["trader"] and settings["Service.Group"] == ["trader"]
    assert settings["Service.ReadWritePaths"] == [
        "",  # resets the unit's default list
        "/srv/alpaca-fleece/data /srv/alpaca-fleece/logs",
    ]
    assert "${" not in "".join(line for line in text.splitlines() if not line.startswith("#"))


@pytest.mark.parametrize("root", ["relative/path", "/srv/with space", "/srv/100%", "/srv/$HOME"])
def test_the_drop_in_refuses_paths_systemd_would_misread(root: str) -> None:
    with pytest.raises(FleeceError):
        render_dropin(Path(root), "trader", "trader")


@pytest.fixture
def installed(tmp_path: Path) -> Path:
    """`make systemd-install` into a scratch tree (no sudo, no systemctl)."""
    bot_root = tmp_path / "bot"
    bot_root.mkdir()
    done = subprocess.run(
        [
            "make",
            "-s",
            "systemd-install",
            "UV=true",
            "SUDO=",
            "SYSTEMCTL=true",
            f"SYSTEMD_DIR={tmp_path / 'systemd'}",
            f"BOT_DEFAULTS={tmp_path / 'default' / 'alpaca-bot'}",
            f"BOT_ROOT={bot_root}",
            "SERVICE_USER=root",
        ],
        cwd=REPO,
        env=clean_environ(),
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return tmp_path


def test_make_systemd_install_writes_unit_defaults_and_drop_in(installed: Path) -> None:
    bot_root = installed / "bot"
    unit = installed / "systemd" / "alpaca-bot.service"
    dropin = unit_settings((installed / "systemd/alpaca-bot.service.d/bot-root.conf").read_text())

    assert unit.read_text() == UNIT.read_text()
    assert f"BOT_ROOT={bot_root}" in (installed / "default/alpaca-bot").read_text().splitlines()
    assert dropin["Service.ReadWritePaths"][-1] == f"{bot_root}/data {bot_root}/logs"
    assert dropin["Service.User"] == ["root"]
    assert (bot_root / "data").is_dir() and (bot_root / "logs").is_dir()


@pytest.mark.skipif(
    shutil.which("systemd-analyze") is None and not os.environ.get("CI"),
    reason="systemd-analyze missing (make test installs it with apt-get; CI always runs this)",
)
def test_systemd_analyze_verifies_the_installed_unit(installed: Path) -> None:
    units = installed / "systemd"
    done = subprocess.run(
        ["systemd-analyze", "verify", "alpaca-bot.service"],
        cwd=units,
        env={**clean_environ(), "SYSTEMD_UNIT_PATH": f"{units}:"},
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "alpaca-bot" not in done.stderr, done.stderr  # no warning about our files


@pytest.mark.skipif(
    shutil.which("systemd-analyze") is None and not os.environ.get("CI"),
    reason="systemd-analyze missing (make test installs it with apt-get; CI always runs this)",
)
def test_systemd_does_not_expand_variables_in_read_write_paths(tmp_path: Path) -> None:
    # Why the drop-in exists: the same ${BOT_ROOT} that works in ExecStart= is dropped here.
    (tmp_path / "alpaca-bot.service.d").mkdir()
    shutil.copy(UNIT, tmp_path / "alpaca-bot.service")
    (tmp_path / "alpaca-bot.service.d" / "x.conf").write_text(
        "[Service]\nReadWritePaths=${BOT_ROOT}/data\n"
    )
    done = subprocess.run(
        ["systemd-analyze", "verify", "alpaca-bot.service"],
        cwd=tmp_path,
        env={**clean_environ(), "SYSTEMD_UNIT_PATH": f"{tmp_path}:"},
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert "path is not absolute, ignoring: ${BOT_ROOT}/data" in done.stderr


# --------------------------------------------------------------------------- sd_notify


def test_notify_sends_one_datagram_to_the_notify_socket(tmp_path: Path) -> None:
    address = str(tmp_path / "notify.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as systemd:
        systemd.bind(address)

        sent = notify("READY=1\nSTATUS=trading", {"NOTIFY_SOCKET": address})

        assert sent
        assert systemd.recv(1024) == b"READY=1\nSTATUS=trading"


def test_notify_reaches_an_abstract_socket(tmp_path: Path) -> None:
    name = f"fleece-test-{os.getpid()}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as systemd:
        systemd.bind("\0" + name)

        assert notify("WATCHDOG=1", {"NOTIFY_SOCKET": "@" + name})
        assert systemd.recv(1024) == b"WATCHDOG=1"


def test_notify_outside_systemd_does_nothing(tmp_path: Path) -> None:
    assert notify("READY=1", {}) is False
    assert notify("READY=1", {"NOTIFY_SOCKET": str(tmp_path / "nobody-listens")}) is False


def test_the_watchdog_interval_is_half_of_watchdog_sec() -> None:
    mine = str(os.getpid())

    assert watchdog_seconds({"WATCHDOG_USEC": "300000000", "WATCHDOG_PID": mine}) == 150.0
    assert watchdog_seconds({"WATCHDOG_USEC": "300000000", "WATCHDOG_PID": "1"}) is None
    assert watchdog_seconds({}) is None


def test_a_watchdog_too_short_for_the_bots_pings_draws_a_warning() -> None:
    mine = str(os.getpid())
    short = watchdog_warning({"WATCHDOG_USEC": "60000000", "WATCHDOG_PID": mine})

    assert short is not None and "WatchdogSec=60s" in short
    assert watchdog_warning({"WATCHDOG_USEC": "600000000", "WATCHDOG_PID": mine}) is None
    assert watchdog_warning({}) is None
