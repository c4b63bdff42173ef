"""Specification: every configured number is bounded by what it means.

A value at its bound is accepted; one step beyond it is refused with one line naming the file,
the key, the bound and why. The issue's values (a slow window of 1e11, retention of 1e11 days,
SIM_SPEED=1e308 ...) passed ``fleece config check`` and then failed at run time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from config_helpers import refusal_of
from fleece.config import load_settings, load_trading_config
from fleece.errors import ConfigError

# (section, key, the largest accepted value, a value just beyond it); the stop's two waits share
# one bound (tests/test_stop_budget.py)
TRADING_BOUNDS = [
    ("strategy", "slow", 1950, 1951),
    ("data", "warmup_bars", 1950, 1951),
    ("data", "poll_interval_seconds", 3600.0, 3600.5),
    ("risk", "max_trades_per_day", 78_000, 78_001),
    ("risk", "max_concurrent_positions", 10_000, 10_001),
    ("risk", "circuit_breaker_failures", 1_000, 1_001),
    ("orders", "stale_order_minutes", 390, 391),
    ("housekeeping", "heartbeat_seconds", 3600.0, 3601.0),
    ("housekeeping", "equity_snapshot_seconds", 3600.0, 3601.0),
    ("housekeeping", "bar_retention_days", 3660, 3661),
    ("risk", "stop_loss_pct", 0.5, 0.51),
    ("risk", "take_profit_pct", 10.0, 10.5),
    ("risk", "trailing_stop_pct", 0.5, 0.51),
]
# (variable, the extreme accepted values, values just beyond them)
ENV_BOUNDS = [
    ("SIM_SPEED", ["1", "10000"], ["0.99", "10000.5", "1e308"]),
    ("SIM_DAYS", ["1", "252"], ["253", "100000"]),
    ("SIM_SEED", ["0", str(2**63 - 1)], ["-1", str(2**63)]),
    ("ALPACA_TIMEOUT_SECONDS", ["0.1", "300"], ["0.05", "301"]),
    ("LOG_MAX_BYTES", ["0", "1024", str(2**40)], ["1", "1023", str(2**40 + 1)]),
]


def trading_yaml(tmp_path: Path, section: str, values: dict[str, Any]) -> Path:
    document: dict[str, Any] = {"symbols": {"list": ["SPY"]}, section: values}
    if section == "strategy":
        document[section] = {"fast": 1, "medium": 2, **values}
    path = tmp_path / "trading.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    return path


@pytest.mark.parametrize(("section", "key", "bound", "beyond"), TRADING_BOUNDS)
def test_a_trading_value_at_its_bound_is_accepted(
    tmp_path: Path, section: str, key: str, bound: float, beyond: float
) -> None:
    config = load_trading_config(trading_yaml(tmp_path, section, {key: bound}))

    assert getattr(getattr(config, section), key) == bound


@pytest.mark.parametrize(("section", "key", "bound", "beyond"), TRADING_BOUNDS)
def test_a_trading_value_beyond_its_bound_is_refused_saying_why(
    tmp_path: Path, section: str, key: str, bound: float, beyond: float
) -> None:
    error = refusal_of(trading_yaml(tmp_path, section, {key: beyond}))

    assert error.key == f"{section}.{key}"
    assert error.reason.startswith(f"must be at most {bound:,g}: ")
    assert error.reason.endswith(f"(got {beyond!r})")


@pytest.mark.parametrize(
    ("section", "values", "key"),
    [
        # The issue's slow window: a MemoryError per bar while the bot reported ACTIVE.
        ("strategy", {"slow": 100_000_000_000}, "strategy.slow"),
        ("strategy", {"fast": 10, "medium": 10**12, "slow": 10**13}, "strategy.medium"),
        (
            "housekeeping",
            {"bar_retention_days": 100_000_000_000},
            "housekeeping.bar_retention_days",
        ),
        ("housekeeping", {"heartbeat_seconds": 1e300}, "housekeeping.heartbeat_seconds"),
        ("data", {"poll_interval_seconds": 1e300}, "data.poll_interval_seconds"),
        ("orders", {"stale_order_minutes": 10**14}, "orders.stale_order_minutes"),
    ],
    ids=["slow", "medium", "retention", "heartbeat", "poll", "stale"],
)
def test_the_issues_huge_values_are_refused_at_config_check(
    tmp_path: Path, section: str, values: dict[str, Any], key: str
) -> None:
    assert refusal_of(trading_yaml(tmp_path, section, values)).key == key


def test_the_window_bound_says_what_it_means(tmp_path: Path) -> None:
    error = refusal_of(trading_yaml(tmp_path, "strategy", {"slow": 100_000_000_000}))

    assert "a week of regular-session minutes (5 x 390)" in error.reason


def test_every_strategy_window_has_the_one_bound_and_reason(tmp_path: Path) -> None:
    # The Donchian channels once had their own copy of the bound, with a shorter reason.
    sma = refusal_of(trading_yaml(tmp_path, "strategy", {"slow": 1951}))
    channel = {"name": "donchian_breakout", "entry": 1951}
    path = tmp_path / "donchian.yaml"
    path.write_text(yaml.safe_dump({"symbols": {"list": ["SPY"]}, "strategy": channel}))

    donchian = refusal_of(path)

    assert donchian.key == "strategy.entry"
    assert donchian.reason == sma.reason
    assert "before its first signal" in donchian.reason


@pytest.mark.parametrize(
    ("name", "value"),
    [(name, value) for name, values, _ in ENV_BOUNDS for value in values],
)
def test_an_environment_value_at_its_bound_is_accepted(name: str, value: str) -> None:
    settings = load_settings(None, {name: value})

    assert getattr(settings, name.lower()) == type(getattr(settings, name.lower()))(value)


@pytest.mark.parametrize(
    ("name", "value"),
    [(name, value) for name, _, beyond in ENV_BOUNDS for value in beyond],
)
def test_an_environment_value_beyond_its_bound_is_refused_naming_it(name: str, value: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(None, {name: value})

    assert (info.value.source, info.value.key) == ("environment", name)
    assert "\n" not in str(info.value)
