"""Specification of the exit codes: one rule for every ``fleece`` command and the bot itself.

A refused configuration exits 2, which systemd (``RestartPreventExitStatus=2``) never restarts,
because a restart cannot fix it; every other failure exits 1, which it restarts. Before, the bot
had a rule of its own (anything but a broker or disk failure exited 2), so a bot stopped by a
data or store error exited 2 and stayed down under systemd, while ``fleece`` commands exited 1
for the very same errors.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from fleece.errors import (
    EXIT_CONFIG_ERROR,
    EXIT_FAILURE,
    BrokerError,
    ConfigError,
    DataError,
    LiveTradingRefused,
    exit_code,
)
from fleece.intents import IntentTransitionError
from fleece.store.schema import StateStoreError
from fleece.store_health import StoreDiskError, StoreUnusableError
from fleece.store_lock import StoreBusyError

STORE = Path("data/trades.db")


@pytest.mark.parametrize(
    "refusal",
    [
        ConfigError("config/trading.yaml", "risk.max_position_pct", "must be a fraction"),
        LiveTradingRefused(".env", "ALPACA_PAPER", "is false"),
        StoreBusyError(STORE, 1234),
        StoreUnusableError(STORE, "is not an SQLite database"),
    ],
    ids=type,
)
def test_a_refused_configuration_exits_2(refusal: ConfigError) -> None:
    assert exit_code(refusal) == EXIT_CONFIG_ERROR == 2


@pytest.mark.parametrize(
    "failure",
    [
        BrokerError("broker unreachable", status=503),
        StoreDiskError(STORE, "the disk is full", "database or disk is full"),
        DataError("SPY: bar starts must be strictly increasing"),
        IntentTransitionError("an intent cannot go from filled to new"),
        StateStoreError("unknown client_order_id 'x'"),
    ],
    ids=type,
)
def test_every_other_failure_exits_1_so_that_a_restart_may_succeed(failure: Exception) -> None:
    assert exit_code(failure) == EXIT_FAILURE == 1
