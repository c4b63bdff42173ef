"""Specification of ``fleece notify test``, the heartbeat pings and the notification settings."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from notify_helpers import BOT_TOKEN, receiver
from runtime_processes import clean_env

from fleece.config import load_settings
from fleece.errors import ConfigError
from fleece.notify.heartbeat import TIMEOUT_S, HeartbeatPinger
from fleece.notify.hub import Notifications

REPO = Path(__file__).resolve().parents[2]


def fleece(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fleece", *args],
        cwd=cwd,
        env=clean_env({"CONFIG_PATH": str(REPO / "config" / "trading.yaml"), **env}),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_notify_test_says_which_destination_worked(tmp_path: Path) -> None:
    with receiver() as good, receiver(status=500) as bad, receiver() as ping:
        done = fleece(
            "notify",
            "test",
            env={
                "NOTIFY_URLS": f"json://{good.url}/ok, json://user:pa55word-xyz@{bad.url}/",
                "HEARTBEAT_URL": f"http://{ping.url}/ping/0b6a3bd8-2f0e-4c4e",
            },
            cwd=tmp_path,
        )

        assert good.titles() == ["alpaca-fleece test message"]
        assert len(ping.pings()) == 1
    assert done.returncode == 1  # one destination failed
    assert f"ok     json://{good.url}/ok" in done.stdout
    assert f"FAILED json://user:****@{bad.url}/" in done.stdout
    assert "ok     heartbeat ping (HEARTBEAT_URL)" in done.stdout
    assert "pa55word-xyz" not in done.stdout + done.stderr


def test_notify_test_without_destinations_says_what_to_set(tmp_path: Path) -> None:
    done = fleece("notify", "test", env={}, cwd=tmp_path)

    assert done.returncode == 1
    assert "nothing to test: set NOTIFY_URLS" in done.stderr


def test_heartbeats_ping_the_url_and_a_failed_stop_pings_fail() -> None:
    with receiver() as service:
        pinger = HeartbeatPinger(f"http://{service.url}/ping/abc-123", min_interval=0)
        pinger.start()
        pinger.ping()
        pinger.close(failed=True)

        paths = [hit.path for hit in service.pings()]
    assert paths[-1] == "/ping/abc-123/fail"
    assert paths.count("/ping/abc-123") <= 1  # the first ping may lose the race with close
    assert pinger.failed == 0


PING_URL = "https://hc.example/ping/abc-123"
FAIL_URL = f"{PING_URL}/fail"


class Readings:
    """A monotonic clock that reads the given seconds in turn (the last one from then on)."""

    def __init__(self, *seconds: float) -> None:
        self.left = list(seconds)

    def __call__(self) -> float:
        return self.left.pop(0) if len(self.left) > 1 else self.left[0]


def recording_pinger(clock: Readings) -> tuple[HeartbeatPinger, list[tuple[str, float]]]:
    """A pinger (never started) whose pings are listed as (URL, timeout) instead of sent."""
    sent: list[tuple[str, float]] = []
    pinger = HeartbeatPinger(
        PING_URL,
        get=lambda url, timeout: sent.append((url, timeout)),
        monotonic=clock,
    )
    return pinger, sent


@pytest.mark.parametrize(
    ("spent", "fail_timeout"), [(0.0, TIMEOUT_S), (7.0, 3.0), (10.0, None), (12.0, None)]
)
def test_the_fail_ping_gets_only_what_the_stop_left_of_its_time(
    spent: float, fail_timeout: float | None
) -> None:
    # The stop's budget (config_bounds.STOP_BUDGET_SECONDS) counts the flush time once: the
    # /fail ping no longer adds its own 10 s after the worker's join.
    pinger, sent = recording_pinger(Readings(100.0, 100.0 + spent))

    pinger.close(failed=True, timeout=10.0)

    expected = (
        [] if fail_timeout is None else [("https://hc.example/ping/abc-123/fail", fail_timeout)]
    )
    assert sent == expected


def test_the_hub_gives_the_pinger_what_the_last_messages_left_of_the_flush_time() -> None:
    pinger, sent = recording_pinger(Readings(0.0))
    hub = Notifications(
        delivery=None, pinger=pinger, kinds=(), flush_seconds=8.0, monotonic=Readings(50.0, 54.5)
    )

    hub.close(exit_code=1)

    assert sent == [(FAIL_URL, 3.5)]


@pytest.mark.parametrize(
    ("env", "key", "reason"),
    [
        ({"NOTIFY_URLS": "nope://secret-value-1234"}, "NOTIFY_URLS", "URL 1 (nope://...)"),
        ({"NOTIFY_URLS": "secret-value-1234"}, "NOTIFY_URLS", "URL 1 is not an apprise URL"),
        ({"HEARTBEAT_URL": "file:///secret-value-1234"}, "HEARTBEAT_URL", "http:// or https://"),
        ({"TELEGRAM_BOT_TOKEN": "secret-value-1234"}, "TELEGRAM_BOT_TOKEN", "not a Telegram"),
        ({"TELEGRAM_BOT_TOKEN": BOT_TOKEN}, "TELEGRAM_ALLOWED_CHAT_IDS", "required with"),
        ({"TELEGRAM_ALLOWED_CHAT_IDS": "me"}, "TELEGRAM_ALLOWED_CHAT_IDS", "chat ids"),
        ({"TELEGRAM_API_URL": "http://example.com/bot"}, "TELEGRAM_API_URL", "loopback"),
    ],
)
def test_a_bad_notification_setting_is_one_line_naming_the_key_never_the_secret(
    env: dict[str, str], key: str, reason: str
) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(None, env)

    assert info.value.key == key
    assert reason in info.value.reason
    assert "secret-value-1234" not in str(info.value) and BOT_TOKEN not in str(info.value)
    assert "\n" not in str(info.value)
