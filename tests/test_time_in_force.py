"""Specification of entry orders' time in force: one value, ``day``, wherever an entry is made.

The configuration accepts only it (``orders.time_in_force``), and every layer an entry passes
that builds entries (kernel, order manager, the backtest's configuration) defaults to the same
constant, so an entry built without the configuration is still a day order; the brokers send
what they are given. Protective
exits are the other rule: good till cancelled (:attr:`ExitOrder.TIME_IN_FORCE`).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import pytest
from pydantic import ValidationError

from fleece.backtest.result import BacktestConfig
from fleece.backtest.sim_broker import SimBroker
from fleece.broker import Broker
from fleece.config_sections import OrdersConfig
from fleece.kernel import build_kernel
from fleece.models import ENTRY_TIME_IN_FORCE, ExitOrder
from fleece.order_manager import OrderManager
from fleece.order_terms import OrderBroker


def test_entries_are_day_orders_and_protective_exits_good_till_cancelled() -> None:
    assert (ENTRY_TIME_IN_FORCE, ExitOrder.TIME_IN_FORCE) == ("day", "gtc")


def test_the_configuration_defaults_to_the_entry_time_in_force_and_accepts_no_other() -> None:
    assert OrdersConfig().time_in_force == ENTRY_TIME_IN_FORCE

    with pytest.raises(ValidationError):
        OrdersConfig(time_in_force="gtc")


@pytest.mark.parametrize(
    "entry_path", [build_kernel, OrderManager, BacktestConfig], ids=lambda f: f.__qualname__
)
def test_every_layer_that_builds_entries_defaults_to_the_entry_time_in_force(
    entry_path: Callable[..., Any],
) -> None:
    default = inspect.signature(entry_path).parameters["time_in_force"].default

    assert default == ENTRY_TIME_IN_FORCE


@pytest.mark.parametrize(
    "submit",
    [OrderBroker.submit_market, Broker.submit_market, SimBroker.submit_market],
    ids=lambda f: f.__qualname__,
)
def test_the_brokers_send_the_time_in_force_they_are_given_and_have_none_of_their_own(
    submit: Callable[..., Any],
) -> None:
    # The order manager decides (from orders.time_in_force); a broker's own default would be a
    # second place where an entry's time in force could be set.
    default = inspect.signature(submit).parameters["time_in_force"].default

    assert default is inspect.Parameter.empty
