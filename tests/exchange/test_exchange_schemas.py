"""Every kind of answer validates against Alpaca's own OpenAPI component schemas.

The specs (``shared/alpaca-openapi``, OpenAPI 3.0) are turned into JSON Schema: ``$ref`` is
resolved and ``nullable: true`` becomes "or null". Nothing is relaxed: ``Order.notional`` is
present (null), calendar days carry ``session_open``/``session_close``/``settlement_date``,
positions every required field, and bars ``n`` and ``vw`` as numbers (a bar recorded without them
gets an estimate, see fleece.data.iex). Every answer of the trading and market-data APIs carries
the spec's ``X-RateLimit-Limit``/``-Remaining``/``-Reset`` headers as integers.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import pytest
from exchange_helpers import Served, fixture_bars, ny, serve, stepped
from jsonschema import Draft7Validator, FormatChecker

from fleece.rate_budget import RATE_LIMIT_HEADERS

SPECS = Path(__file__).resolve().parents[2].parent / "shared" / "alpaca-openapi"


def _convert(node: Any, components: dict[str, Any]) -> Any:
    if isinstance(node, list):
        return [_convert(item, components) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[-1]
        resolved = _convert(components[name], components)
        return {"anyOf": [resolved, {"type": "null"}]} if node.get("nullable") else resolved
    skip = {"nullable", "example", "examples", "deprecated"}
    out = {k: _convert(v, components) for k, v in node.items() if k not in skip}
    if node.get("nullable"):
        return {"anyOf": [out, {"type": "null"}]}
    return out


@cache
def components(spec: str) -> dict[str, Any]:
    schemas: dict[str, Any] = json.loads((SPECS / spec).read_text())["components"]["schemas"]
    return schemas


def validator(spec: str, name: str) -> Draft7Validator:
    schemas = components(spec)
    return Draft7Validator(_convert(schemas[name], schemas), format_checker=FormatChecker())


def array_of(spec: str, name: str) -> Draft7Validator:
    schemas = components(spec)
    item = _convert(schemas[name], schemas)
    return Draft7Validator({"type": "array", "items": item}, format_checker=FormatChecker())


TRADING, DATA = "trading-api.json", "market-data-api.json"


def _collect(served: Served) -> dict[str, tuple[Draft7Validator, Any]]:
    http, day = served.http, date(2013, 10, 7)
    http.event_hooks["response"].append(_keep_headers)

    def order(body: dict[str, Any]) -> Any:
        answer = http.post("/v2/orders", json=body)
        assert answer.status_code == 200, answer.text
        return answer.json()

    market = {"symbol": "SPY", "qty": "10", "side": "buy", "type": "market", "time_in_force": "day"}
    answers: dict[str, tuple[Draft7Validator, Any]] = {}
    answers["order (pending_new market)"] = (validator(TRADING, "Order"), order(market))
    short = order(market | {"symbol": "IBM", "side": "sell", "qty": "3"})
    answers["order (short sale)"] = (validator(TRADING, "Order"), short)
    filled = http.get("/v2/orders", params={"status": "closed"}).json()[0]
    answers["order (filled market)"] = (validator(TRADING, "Order"), filled)
    limit = market | {"type": "limit", "limit_price": "1.5", "symbol": "IBM", "qty": 1}
    answers["order (open day limit)"] = (validator(TRADING, "Order"), order(limit))
    gtc = order(limit | {"time_in_force": "gtc", "client_order_id": "gtc-1"})
    answers["order (open gtc limit)"] = (validator(TRADING, "Order"), gtc)
    answers["account"] = (validator(TRADING, "Account"), http.get("/v2/account").json())
    answers["position"] = (validator(TRADING, "Position"), http.get("/v2/positions/SPY").json())
    answers["positions"] = (array_of(TRADING, "Position"), http.get("/v2/positions").json())
    answers["clock"] = (validator(TRADING, "legacy_clock"), http.get("/v2/clock").json())
    calendar = http.get("/v2/calendar", params={"start": "2024-11-25", "end": "2024-12-06"})
    answers["calendar"] = (validator(TRADING, "legacy_public_calendar_resp"), calendar.json())
    answers["assets"] = (array_of(TRADING, "Assets"), http.get("/v2/assets").json())
    answers["asset"] = (validator(TRADING, "Assets"), http.get("/v2/assets/SPY").json())
    bars_query = {"timeframe": "1Min", "start": ny("04:00", day).isoformat(), "limit": 50}
    multi = http.get("/v2/stocks/bars", params=bars_query | {"symbols": "SPY,IBM"})
    answers["bars (multi)"] = (validator(DATA, "stock_bars_resp"), multi.json())
    single = http.get("/v2/stocks/SPY/bars", params=bars_query)
    answers["bars (single)"] = (validator(DATA, "stock_bars_resp_single"), single.json())
    answers["position (short)"] = (
        validator(TRADING, "Position"),
        http.get("/v2/positions/IBM").json(),
    )
    answers["account (margin, long and short)"] = (
        validator(TRADING, "Account"),
        http.get("/v2/account").json(),
    )
    error = validator(TRADING, "Error")
    answers["error 401"] = (error, httpx.get(served.url + "/v2/account", timeout=30).json())
    answers["error 403"] = (error, http.post("/v2/orders", json=market | {"qty": 10**6}).json())
    resting = order(market | {"type": "limit", "limit_price": "1", "qty": "1"})  # a SPY buy
    wash = http.post("/v2/orders", json=market | {"side": "sell", "qty": "1"})
    answers["error 403 (wash trade)"] = (error, wash.json())
    http.delete(f"/v2/orders/{resting['id']}")
    recent_sip = http.get("/v2/stocks/bars", params=bars_query | {"symbols": "SPY", "feed": "sip"})
    answers["error 403 (recent sip, free plan)"] = (error, recent_sip.json())
    answers["error 404"] = (error, http.get("/v2/orders/nope").json())
    answers["error 422"] = (error, http.post("/v2/orders", json=market | {"qty": "0"}).json())
    answers["error 422 (data)"] = (
        error,
        http.get("/v2/stocks/bars", params={"symbols": "SPY"}).json(),
    )
    closed = http.delete("/v2/positions/SPY", params={"qty": 1}).json()
    answers["close position"] = (validator(TRADING, "Order"), closed)
    cancelled = http.delete("/v2/orders").json()
    answers["cancel all (207)"] = (array_of(TRADING, "CanceledOrderResponse"), cancelled)
    answers["cancelled order"] = (validator(TRADING, "Order"), cancelled[0]["body"])
    liquidated = http.delete("/v2/positions").json()
    answers["close all (207)"] = (array_of(TRADING, "PositionClosedReponse"), liquidated)
    answers |= _protective_orders(http, order, market)
    served.exchange.limiter.exhaust("trading")
    answers["error 429"] = (error, http.get("/v2/account").json())
    return answers


def _protective_orders(
    http: httpx.Client, order: Any, market: dict[str, Any]
) -> dict[str, tuple[Draft7Validator, Any]]:
    """Stops, a trailing stop (hwm), a replacement and the order classes (legs), on a flat book."""
    schema = validator(TRADING, "Order")
    legs = {"take_profit": {"limit_price": "400"}, "stop_loss": {"stop_price": "100"}}
    bracket = order(market | {"symbol": "IBM", "order_class": "bracket", **legs})
    entry = order(market)  # SPY long again (the book was flattened), filled at the next request
    assert http.get(f"/v2/orders/{entry['id']}").json()["status"] == "filled"
    exits = {"side": "sell", "qty": "2", "time_in_force": "gtc"}
    stop = order(market | exits | {"type": "stop", "stop_price": "100"})
    trailing = order(market | exits | {"type": "trailing_stop", "trail_percent": "1"})
    replacing = http.patch(f"/v2/orders/{trailing['id']}", json={"trail": "2"}).json()
    replaced = http.get(f"/v2/orders/{trailing['id']}").json()
    oco = order(market | exits | {"type": "limit", "order_class": "oco", **legs})
    nested = http.get("/v2/orders", params={"status": "open", "nested": "true"}).json()
    return {
        "order (bracket with held legs)": (schema, bracket),
        "order (stop)": (schema, stop),
        "order (trailing stop)": (schema, trailing),
        "order (replacing)": (schema, replacing),
        "order (replaced)": (schema, replaced),
        "order (oco with legs)": (schema, oco),
        "orders (nested)": (array_of(TRADING, "Order"), nested),
    }


SEEN_HEADERS: list[tuple[str, int, dict[str, str]]] = []


def _keep_headers(response: httpx.Response) -> None:
    SEEN_HEADERS.append((response.request.url.path, response.status_code, dict(response.headers)))


@pytest.fixture(scope="module")
def answers() -> Iterator[dict[str, tuple[Draft7Validator, Any]]]:
    bars = fixture_bars()
    start = ny("10:00", date(2013, 10, 7))
    with serve(stepped(bars, start, plan="free", data_feed="iex")) as served:
        yield _collect(served)


NAMES = [
    "order (pending_new market)",
    "order (filled market)",
    "order (short sale)",
    "position (short)",
    "account (margin, long and short)",
    "error 403 (wash trade)",
    "error 403 (recent sip, free plan)",
    "error 429",
    "order (open day limit)",
    "order (open gtc limit)",
    "account",
    "position",
    "positions",
    "clock",
    "calendar",
    "assets",
    "asset",
    "bars (multi)",
    "bars (single)",
    "error 401",
    "error 403",
    "error 404",
    "error 422",
    "error 422 (data)",
    "close position",
    "cancel all (207)",
    "cancelled order",
    "close all (207)",
    "order (bracket with held legs)",
    "order (stop)",
    "order (trailing stop)",
    "order (replacing)",
    "order (replaced)",
    "order (oco with legs)",
    "orders (nested)",
]


@pytest.mark.parametrize("name", NAMES)
def test_the_answer_satisfies_the_openapi_schema(
    answers: dict[str, tuple[Draft7Validator, Any]], name: str
) -> None:
    schema, body = answers[name]

    problems = [f"{list(e.absolute_path)}: {e.message}" for e in schema.iter_errors(body)]

    assert problems == []
    assert body not in ([], {}, None)


def test_every_collected_answer_is_checked(answers: dict[str, Any]) -> None:
    assert sorted(answers) == sorted(NAMES)


def test_every_authorised_answer_carries_the_rate_limit_headers_as_integers(
    answers: dict[str, Any],
) -> None:
    seen = [(path, status, headers) for path, status, headers in SEEN_HEADERS]
    checked = [h for path, status, h in seen if status != 401 and not path.startswith("/v1/sim")]

    assert len(checked) >= 20
    for headers in checked:
        values = {name: headers.get(name.lower()) for name in RATE_LIMIT_HEADERS}
        assert all(v is not None and v.isdigit() for v in values.values()), values


def test_the_rate_limit_headers_the_bot_reads_and_the_exchange_sends_are_alpacas() -> None:
    names: set[str] = set()

    def collect(node: Any) -> None:
        if isinstance(node, dict):
            names.update(node.get("headers") or {})
            for value in node.values():
                collect(value)
        elif isinstance(node, list):
            for value in node:
                collect(value)

    collect(json.loads((SPECS / "trading-api.json").read_text()))

    assert set(RATE_LIMIT_HEADERS) == {n for n in names if n.startswith("X-RateLimit-")}


def test_orders_with_legs_stops_and_trails_say_what_alpaca_says(
    answers: dict[str, Any],
) -> None:
    bracket = answers["order (bracket with held legs)"][1]
    trailing = answers["order (trailing stop)"][1]
    replacing, replaced = answers["order (replacing)"][1], answers["order (replaced)"][1]

    assert bracket["order_class"] == "bracket"
    assert [(leg["type"], leg["status"], leg["legs"]) for leg in bracket["legs"]] == [
        ("limit", "held", None),
        ("stop", "held", None),
    ]
    assert (trailing["type"], trailing["trail_percent"]) == ("trailing_stop", "1")
    assert trailing["hwm"] is not None and trailing["stop_price"] is not None
    assert (replaced["status"], replaced["replaced_by"]) == ("replaced", replacing["id"])
    assert replacing["replaces"] == replaced["id"]
    # Newest first; the legs are under their primary order, not listed on their own.
    assert [o["order_class"] for o in answers["orders (nested)"][1]] == [
        "oco",
        "simple",
        "simple",
        "bracket",
    ]


def test_the_margin_account_and_the_short_position_say_what_alpaca_says(
    answers: dict[str, Any],
) -> None:
    account = answers["account (margin, long and short)"][1]
    short = answers["position (short)"][1]

    assert (account["multiplier"], account["shorting_enabled"]) == ("2", True)
    assert float(account["short_market_value"]) < 0 < float(account["long_market_value"])
    assert (short["side"], short["qty"]) == ("short", "-3")
