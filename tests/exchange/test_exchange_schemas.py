"""Every kind of answer validates against Alpaca's own OpenAPI component schemas.

The specs (``shared/alpaca-openapi``, OpenAPI 3.0) are turned into JSON Schema: ``$ref`` is
resolved and ``nullable: true`` becomes "or null". Relaxed, and only these (see SOURCE.md):

- ``stock_bar.n`` and ``stock_bar.vw`` may be null: recorded bar files often carry no trade count
  or VWAP and the exchange does not invent them (alpaca-py accepts null).

The spec's other demands are met as written: ``Order.notional`` is present (null), calendar days
carry ``session_open``/``session_close``/``settlement_date``, positions every required field.
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

SPECS = Path(__file__).resolve().parents[2].parent / "shared" / "alpaca-openapi"
RELAXED_NULLABLE = {("market-data-api.json", "stock_bar"): ("n", "vw")}


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
    for (relaxed_spec, name), fields in RELAXED_NULLABLE.items():
        for field in fields if relaxed_spec == spec else ():
            schemas[name]["properties"][field]["nullable"] = True
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

    def order(body: dict[str, Any]) -> Any:
        answer = http.post("/v2/orders", json=body)
        assert answer.status_code == 200, answer.text
        return answer.json()

    market = {"symbol": "SPY", "qty": "10", "side": "buy", "type": "market", "time_in_force": "day"}
    answers: dict[str, tuple[Draft7Validator, Any]] = {}
    answers["order (filled market)"] = (validator(TRADING, "Order"), order(market))
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
    error = validator(TRADING, "Error")
    answers["error 401"] = (error, httpx.get(served.url + "/v2/account", timeout=30).json())
    answers["error 403"] = (error, http.post("/v2/orders", json=market | {"qty": 10**6}).json())
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
    return answers


@pytest.fixture(scope="module")
def answers() -> Iterator[dict[str, tuple[Draft7Validator, Any]]]:
    with serve(stepped(fixture_bars(), ny("10:00", date(2013, 10, 7)))) as served:
        yield _collect(served)


NAMES = [
    "order (filled market)",
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
