"""Specification of the state file's round trip: whatever the session, the whole engine comes back.

Hypothesis plays random sessions (market and limit orders, day and good-till-cancelled, buys and
sells, stops, trailing stops, brackets with held legs, OCO exits, refusals, cancels, partial
fills, session closes, request and fault counters), saves the exchange, restores a fresh one from
the file, and compares EVERYTHING the two hold: every attribute of the engine reached by walking
the objects themselves (not through the file's codec), the pending-event heap, the id
generator's position, the tie-break sequence, the counters. Then both play on with the same
requests and must stay identical.
"""

from __future__ import annotations

import itertools
import random
from contextlib import suppress
from dataclasses import fields, is_dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reliability_helpers import FIRST_DAY, ny, synthetic

from fleece.calendar import MarketCalendar
from fleece.clock import ScaledClock
from fleece.exchange import SimExchange
from fleece.exchange.fault_plan import FaultPlan
from fleece.exchange.faults import FaultInjector
from fleece.exchange.market import BarStore
from fleece.exchange.orders import (
    ExchangeError,
    ExitLegs,
    OrderClass,
    OrderRequest,
    OrderType,
    TimeInForce,
)
from fleece.exchange.state_file import StateFile
from fleece.models import Side

SYMBOLS = ("AAPL", "SPY", "TSLA")
BARS = synthetic(SYMBOLS)
START = ny("09:30", FIRST_DAY)
PLAN = FaultPlan(rate=0.5, seed=3, kinds=frozenset({"partial", "5xx", "429"}))
EXTERNAL = (BarStore, MarketCalendar, FaultInjector)

orders = st.tuples(
    st.just("order"),
    st.sampled_from(SYMBOLS),
    st.sampled_from(["buy", "buy", "sell"]),
    st.integers(1, 60),
    st.sampled_from([None, 0.97, 0.999, 1.0, 1.02]),
    st.sampled_from(["day", "gtc"]),
)
protective = st.tuples(
    st.just("protect"),
    st.sampled_from(SYMBOLS),
    st.sampled_from(["stop", "trailing", "bracket", "oco"]),
    st.integers(1, 20),
)
steps = st.one_of(
    orders,
    protective,
    st.tuples(st.just("advance"), st.sampled_from([0.5, 1, 3, 17, 240, 900])),
    orders,
    st.tuples(st.just("cancel"), st.integers(0, 50)),
    st.tuples(st.just("read"), st.sampled_from(["GET /v2/account", "GET /v2/orders"])),
)


def exchange_with_faults(plan: FaultPlan = PLAN) -> tuple[SimExchange, FaultInjector]:
    """A stepped exchange whose partial fills come from a seeded fault injector (as served)."""
    exchange = SimExchange(BARS, clock=ScaledClock(START, 0.0), slippage_bps=3, seed=5)
    faults = FaultInjector(plan)
    exchange.engine.fill_split = faults
    return exchange, faults


def play(exchange: SimExchange, faults: FaultInjector | None, session: list[Any], tag: str) -> None:
    """Apply ``session`` the way the served exchange would (faults decide before a submission)."""
    for n, step in enumerate(session):
        kind = step[0]
        if kind == "advance":
            exchange.advance(step[1])
        elif kind == "read":
            exchange.count_request(step[1])
        elif kind == "cancel":
            with exchange.synced():
                orders = list(exchange.engine.orders())
                # An order already final is refused, as over HTTP.
                with suppress(ExchangeError):
                    if orders:
                        exchange.engine.cancel(orders[step[1] % len(orders)].id)
        elif kind == "protect":
            protect(exchange, step, f"{tag}-{n}")
        else:
            submit(exchange, faults, step, f"{tag}-{n}")


def protect(exchange: SimExchange, step: Any, cid: str) -> None:
    """A stop, trailing stop, bracket or OCO a few per cent around the symbol's price."""
    _, symbol, kind, qty = step
    with exchange.synced() as now:
        mark = exchange.engine.mark(symbol, now) or BARS[symbol][0].open
    low, high = round(mark * 0.99, 2), round(mark * 1.01, 2)
    legs = ExitLegs(take_profit=high, stop_price=low)
    sell, gtc = Side.SELL, TimeInForce.GTC
    requests = {
        "stop": OrderRequest(symbol, qty, sell, OrderType.STOP, gtc, None, cid, stop_price=low),
        "trailing": OrderRequest(
            symbol, qty, sell, OrderType.TRAILING_STOP, gtc, None, cid, trail_percent=0.5
        ),
        "bracket": OrderRequest(
            symbol,
            qty,
            Side.BUY,
            OrderType.MARKET,
            gtc,
            None,
            cid,
            order_class=OrderClass.BRACKET,
            legs=legs,
        ),
        "oco": OrderRequest(
            symbol,
            qty,
            sell,
            OrderType.LIMIT,
            gtc,
            high,
            cid,
            order_class=OrderClass.OCO,
            legs=legs,
        ),
    }
    with suppress(ExchangeError):
        exchange.submit(requests[kind])


def submit(exchange: SimExchange, faults: FaultInjector | None, step: Any, cid: str) -> None:
    _, symbol, side, qty, limit_factor, tif = step
    if faults is not None:
        faults.decide("POST", "/v2/orders", cid)
    limit = None
    if limit_factor is not None:
        with exchange.synced() as now:
            mark = exchange.engine.mark(symbol, now) or BARS[symbol][0].open
        limit = round(mark * limit_factor, 2)
    request = OrderRequest(
        symbol,
        qty,
        Side(side),
        OrderType.MARKET if limit is None else OrderType.LIMIT,
        TimeInForce(tif),
        limit_price=limit,
        client_order_id=cid,
    )
    with suppress(ExchangeError):  # refused (no shares, no buying power): counted, as over HTTP
        exchange.submit(request)


def deep_state(value: Any) -> Any:
    """Everything ``value`` holds, as comparable data, found by walking its attributes."""
    if isinstance(value, EXTERNAL):
        return ("external", type(value).__name__)
    if isinstance(value, random.Random):
        return ("random", value.getstate())
    if isinstance(value, itertools.count):
        return ("count", repr(value))
    if isinstance(value, Enum):
        return (type(value).__name__, value.value)
    if value is None or isinstance(value, str | int | float | Decimal | date | datetime):
        return (type(value).__name__, value)
    if isinstance(value, dict):
        return ("dict", [(deep_state(k), deep_state(v)) for k, v in value.items()])
    if isinstance(value, list | tuple):
        return (type(value).__name__, [deep_state(v) for v in value])
    if isinstance(value, set | frozenset):
        return ("set", sorted(map(deep_state, value), key=repr))
    names = [f.name for f in fields(value)] if is_dataclass(value) else sorted(vars(value))
    return (type(value).__name__, {name: deep_state(getattr(value, name)) for name in names})


def whole_state(exchange: SimExchange, faults: FaultInjector) -> dict[str, Any]:
    with exchange.synced() as now:
        return {
            "now": now,
            "engine": deep_state(exchange.engine),
            "counters": exchange.export_counters(),
            "faults": faults.export_counts(),
        }


def assert_round_trip(
    folder: Path, before: list[Any], after: list[Any], plan: FaultPlan = PLAN
) -> None:
    """Play ``before``, save, restore a fresh exchange; both must hold the same, then play
    ``after`` alike."""
    original, faults = exchange_with_faults(plan)
    play(original, faults, before, "a")
    path = folder / "exchange.state"
    StateFile(path, original, faults).save()

    restored, restored_faults = exchange_with_faults(plan)
    assert StateFile(path, restored, restored_faults).load()
    restored.engine.fill_split = restored_faults  # as the server attaches it after loading

    assert whole_state(restored, restored_faults) == whole_state(original, faults)
    play(original, None, after, "b")
    play(restored, None, after, "b")
    assert whole_state(restored, restored_faults) == whole_state(original, faults)


@settings(
    max_examples=25,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    before=st.lists(steps, min_size=5, max_size=40),
    after=st.lists(steps, max_size=15),
)
def test_a_restored_exchange_holds_exactly_what_was_saved_and_goes_on_identically(
    tmp_path: Path, before: list[Any], after: list[Any]
) -> None:
    assert_round_trip(tmp_path, before, after)


# Every order split in two (the second half a bar later), orders resting, expiring at the close,
# good-till-cancelled across the night, a sale, a refusal, an order half filled when saved.
SCRIPTED_BEFORE: list[Any] = [
    ("order", "AAPL", "buy", 10, None, "day"),
    ("order", "SPY", "buy", 5, 0.97, "day"),
    ("order", "TSLA", "buy", 7, 0.999, "gtc"),
    ("advance", 0.5),
    ("order", "SPY", "buy", 9, None, "day"),
    ("advance", 3),
    ("order", "AAPL", "sell", 4, None, "day"),
    ("order", "TSLA", "sell", 100, None, "day"),
    ("read", "GET /v2/account"),
    ("advance", 400),
    ("order", "AAPL", "buy", 3, 0.999, "gtc"),
    ("protect", "SPY", "bracket", 4),
    ("protect", "AAPL", "trailing", 2),
    ("protect", "TSLA", "oco", 3),
    ("advance", 1070),
    ("order", "SPY", "buy", 2, None, "day"),
]
SCRIPTED_AFTER: list[Any] = [("advance", 900), ("order", "AAPL", "sell", 2, None, "day")]
SCRIPTED_AFTER += [("advance", 5), ("cancel", 7), ("advance", 500)]


def test_a_scripted_session_with_every_kind_of_order_round_trips(tmp_path: Path) -> None:
    splitting = FaultPlan(rate=1.0, seed=1, kinds=frozenset({"partial"}))

    assert_round_trip(tmp_path, SCRIPTED_BEFORE, SCRIPTED_AFTER, splitting)


def test_saving_the_same_state_twice_writes_the_same_bytes(tmp_path: Path) -> None:
    exchange, faults = exchange_with_faults()
    play(exchange, faults, [("order", "AAPL", "buy", 5, None, "day"), ("advance", 3)], "a")
    path = tmp_path / "exchange.state"
    StateFile(path, exchange, faults).save()
    restored, restored_faults = exchange_with_faults()
    StateFile(path, restored, restored_faults).load()

    assert StateFile(path, restored, restored_faults).snapshot() == path.read_bytes()
