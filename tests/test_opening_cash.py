"""A simulated paper account opens with one figure of cash, and only a usable figure opens one.

The built-in exchange (``fleece exchange``, ``fleece run`` in sim mode, ``fleece demo``), the
backtest and the sweep simulate the same account: each starts from
:data:`fleece.accounting.OPENING_CASH` unless ``--cash`` says otherwise, and each refuses a
``--cash`` that is not a finite amount above 0 in one line.
"""

from __future__ import annotations

import inspect
import math
from dataclasses import fields
from datetime import date
from pathlib import Path

import pytest

from fleece.accounting import OPENING_CASH, opening_cash_problem
from fleece.backtest.cli import backtest_command, backtest_config
from fleece.backtest.result import BacktestConfig
from fleece.config import load_trading_config
from fleece.errors import ConfigError
from fleece.exchange import build_exchange
from fleece.exchange.server import exchange_command
from fleece.risk_limits import RiskLimits
from fleece.sweep.cli import sweep_command
from fleece.sweep.sweep import SweepSpec

CONFIG = Path(__file__).resolve().parents[1] / "config" / "trading.yaml"
OPENING_CENTS = round(OPENING_CASH * 100)


def test_alpacas_paper_account_figure_opens_every_simulated_account() -> None:
    # Alpaca opens a paper account with $100,000.
    assert OPENING_CASH == 100_000


def test_the_built_in_exchange_opens_its_account_with_the_opening_cash() -> None:
    # As `fleece run` in sim mode and `fleece demo` build it: no cash given.
    exchange = build_exchange(["SPY"], synthetic=True, start=date(2024, 1, 2), days=1, speed=0)

    assert exchange.engine.account().cash_cents == OPENING_CENTS


def test_a_backtest_and_a_sweep_open_with_the_same_cash_as_the_exchange() -> None:
    limits = RiskLimits(0.1, 0.05, 20, 10)
    sweep_default = next(f.default for f in fields(SweepSpec) if f.name == "cash")

    assert BacktestConfig(limits).cash_cents == OPENING_CENTS
    assert sweep_default == OPENING_CASH


@pytest.mark.parametrize("command", [backtest_command, sweep_command, exchange_command])
def test_every_cash_option_defaults_to_the_opening_cash(command: object) -> None:
    default = inspect.signature(command).parameters["cash"].default  # type: ignore[arg-type]

    assert default == OPENING_CASH


@pytest.mark.parametrize("cash", [0.0, -1.0, math.inf, -math.inf, math.nan])
def test_only_a_finite_amount_above_zero_opens_an_account(cash: float) -> None:
    assert opening_cash_problem(cash) == f"must be a finite amount > 0, got {cash}"
    assert opening_cash_problem(0.01) is None


@pytest.mark.parametrize("cash", [math.inf, math.nan, -5.0])
def test_the_backtest_and_the_sweep_refuse_a_bad_cash_option_in_one_line(cash: float) -> None:
    # `fleece backtest --cash inf` ended in a ValueError traceback; the sweep reported "no
    # valid parameter combination" for it. Both build their runs with backtest_config.
    trading = load_trading_config(CONFIG)

    with pytest.raises(ConfigError, match=r"--cash: must be a finite amount > 0"):
        backtest_config(trading, cash, 0.0, "fast")


@pytest.mark.parametrize("cash", [math.inf, math.nan, -5.0])
def test_the_exchange_refuses_a_bad_cash_in_one_line(cash: float) -> None:
    # `fleece exchange --cash inf` ended in an OverflowError traceback, --cash nan in
    # "cannot convert float NaN to integer".
    with pytest.raises(ConfigError, match=r"cash: must be a finite amount > 0"):
        build_exchange(["SPY"], synthetic=True, start=date(2024, 1, 2), days=1, cash=cash)


def test_a_backtest_config_refuses_what_the_exchange_refuses() -> None:
    with pytest.raises(ValueError, match=r"cash must be a finite amount > 0, got inf"):
        BacktestConfig(RiskLimits(0.1, 0.05, 20, 10), cash=math.inf)
