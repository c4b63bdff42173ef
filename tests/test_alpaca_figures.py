"""Alpaca's figures, each stated once and used on both sides of the wire.

The bot keeps within what Alpaca accepts and the built-in exchange refuses what Alpaca refuses;
when both read one constant, they cannot drift apart (ALPACA-FACTS.md gives the figures).
"""

from __future__ import annotations

import inspect

from fleece.config_bounds import MAX_TRADES_PER_DAY, MINUTES_PER_SESSION
from fleece.dashboard.metrics import RequestRate
from fleece.exchange.server import exchange_command
from fleece.exchange.sim import SimExchange
from fleece.models import REQUESTS_PER_MINUTE


def test_alpacas_200_requests_a_minute_is_the_exchanges_dashboards_and_configs_figure() -> None:
    exchange_default = inspect.signature(exchange_command).parameters["rate_limit"].default
    sim_default = inspect.signature(SimExchange).parameters["rate_limit"].default

    assert REQUESTS_PER_MINUTE == 200
    assert exchange_default == sim_default == REQUESTS_PER_MINUTE  # fleece exchange --rate-limit
    assert RequestRate().limit == REQUESTS_PER_MINUTE  # the dashboard's headroom
    assert MAX_TRADES_PER_DAY == REQUESTS_PER_MINUTE * MINUTES_PER_SESSION
