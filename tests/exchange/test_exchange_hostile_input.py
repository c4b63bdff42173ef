"""Specification of hostile input: the exchange answers everything in Alpaca's shape, never a 5xx.

Client input is bounded before it is converted or parsed: numbers before arithmetic, bodies (size
and JSON depth) before the fault layer or the app reads them and before the keys are checked.
Every refusal is ``{"code": int, "message": str}`` with one of Alpaca's statuses. Schemathesis,
driven by the exchange's own OpenAPI (valid and invalid requests alike), finds no 5xx over real
HTTP; the cases found by hand have their own specifications.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import date
from typing import Any

import httpx
import pytest
import schemathesis
from exchange_helpers import AUTH, KEY, SECRET, fixture_bars, ny, stepped
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.generation import GenerationMode

from fleece.exchange import ExchangeServer
from fleece.exchange.app import create_app
from fleece.exchange.fault_plan import FaultPlan
from fleece.exchange.faults import FaultInjector

START = ny("09:30", date(2013, 10, 7))
ALPACA_STATUSES = {400, 401, 403, 404, 405, 422, 429}


def alpaca_error(answer: httpx.Response | Any, status: int | None = None) -> dict[str, Any]:
    """The body of an error answer, checked to be Alpaca's shape (and ``status`` if given)."""
    assert answer.status_code in ALPACA_STATUSES if status is None else answer.status_code == status
    kind = answer.headers.get("content-type")  # schemathesis's answers list each header's values
    assert (kind[0] if isinstance(kind, list) else kind).startswith("application/json")
    body: dict[str, Any] = answer.json()
    assert set(body) == {"code", "message"}
    assert isinstance(body["code"], int) and isinstance(body["message"], str)
    return body


@pytest.fixture(scope="module")
def server() -> Iterator[ExchangeServer]:
    """SPY and IBM served from 2013-10-07 09:30 New York, with the fault admin routes."""
    with ExchangeServer(stepped(fixture_bars(), START), KEY, SECRET) as served:
        yield served


@pytest.fixture
def http(server: ExchangeServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, headers=AUTH, timeout=30) as client:
        yield client


def order(**fields: Any) -> dict[str, Any]:
    body = {"symbol": "SPY", "qty": "1", "side": "buy", "type": "market", "time_in_force": "day"}
    return body | fields


# ---------------------------------------------------------------- numbers


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"type": "limit", "limit_price": "1e30"}, "limit_price"),
        ({"type": "limit", "limit_price": 1e30}, "limit_price"),
        ({"qty": "1e1000000"}, "qty"),
        ({"qty": "-1e1000000"}, "qty"),
        ({"qty": 1e308}, "qty"),
        ({"qty": "1" * 5000}, "qty"),
        ({"type": "limit", "limit_price": "1e-1000000"}, "sub-penny"),
    ],
    ids=[
        "price-1e30",
        "price-1e30-number",
        "qty-1e1000000",
        "qty-minus",
        "qty-1e308",
        "qty-5000-digits",
        "price-tiny",
    ],
)
def test_an_order_with_a_number_out_of_any_range_is_refused_before_conversion(
    http: httpx.Client, fields: dict[str, Any], named: str
) -> None:
    answer = http.post("/v2/orders", json=order(**fields))

    assert named in alpaca_error(answer, 422)["message"]
    assert http.get("/v2/account").status_code == 200  # and everyone else is still answered


@pytest.mark.parametrize("params", [{"qty": "1e1000000"}, {"percentage": "1e1000000"}])
def test_closing_a_position_with_a_number_out_of_any_range_is_refused(
    http: httpx.Client, params: dict[str, str]
) -> None:
    answer = http.delete("/v2/positions/SPY", params=params)

    assert "out of range" in alpaca_error(answer, 422)["message"]


def test_a_page_token_with_a_naive_timestamp_is_refused(http: httpx.Client) -> None:
    token = base64.urlsafe_b64encode(b"SPY|2013-10-04T10:00:00").decode()

    answer = http.get(
        "/v2/stocks/bars", params={"symbols": "SPY", "timeframe": "1Min", "page_token": token}
    )

    assert alpaca_error(answer, 422)["message"] == "invalid page_token"


@pytest.mark.parametrize("start", ["9999-12-31", "0001-01-01", "1900-01-01"])
def test_a_calendar_outside_its_range_is_refused(http: httpx.Client, start: str) -> None:
    answer = http.get("/v2/calendar", params={"start": start})

    assert "outside the market calendar" in alpaca_error(answer, 422)["message"]


@pytest.mark.parametrize("minutes", [1e308, "Infinity", "NaN", -1, 10**400])
def test_the_clock_cannot_be_advanced_by_a_number_out_of_range(
    http: httpx.Client, minutes: Any
) -> None:
    body = f'{{"minutes": {minutes}}}'

    answer = http.post(
        "/v1/sim/advance", content=body, headers={"content-type": "application/json"}
    )

    alpaca_error(answer)


def test_the_clock_cannot_be_advanced_past_the_market_calendar() -> None:
    with (
        ExchangeServer(stepped(fixture_bars(), START), KEY, SECRET) as own,
        httpx.Client(base_url=own.url, headers=AUTH, timeout=30) as http,
    ):
        for _ in range(40):  # a year at a time, until the calendar's end refuses
            answer = http.post("/v1/sim/advance", json={"minutes": 366 * 24 * 60})
            if answer.status_code != 200:
                break

        assert "market calendar" in alpaca_error(answer, 422)["message"]
        assert http.get("/v2/clock").status_code == 200  # the clock stopped where it could


def test_a_fault_plan_with_a_number_too_large_for_a_float_is_refused(http: httpx.Client) -> None:
    body = '{"rate": 1' + "0" * 400 + "}"

    answer = http.post("/v1/sim/faults", content=body, headers={"content-type": "application/json"})

    alpaca_error(answer, 422)


# ---------------------------------------------------------------- bodies, before authentication


@pytest.mark.parametrize("auth", [True, False], ids=["authenticated", "anonymous"])
@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"[" * 20_000 + b"]" * 20_000, "nested deeper than 32 levels"),
        (b'{"a":' * 5_000 + b"1" + b"}" * 5_000, "nested deeper than 32 levels"),
        (b"[" * 200_000 + b"]" * 200_000, "too large"),
        (b'{"symbol": "' + b"x" * 100_000 + b'"}', "too large"),
    ],
    ids=["array-20000-deep", "object-5000-deep", "array-200000-deep", "100-kB"],
)
def test_a_body_too_deep_or_too_large_is_refused_before_parsing_and_authentication(
    server: ExchangeServer, body: bytes, reason: str, auth: bool
) -> None:
    headers = {"content-type": "application/json", **(AUTH if auth else {})}

    answer = httpx.post(f"{server.url}/v2/orders", content=body, headers=headers, timeout=30)

    assert reason in alpaca_error(answer, 400)["message"]


def test_a_streamed_body_is_cut_at_the_limit_without_a_declared_length(
    server: ExchangeServer,
) -> None:
    chunks = (b"[" * 1024 for _ in range(100))  # chunked: no Content-Length to trust

    answer = httpx.post(f"{server.url}/v2/orders", content=chunks, headers=AUTH, timeout=30)

    assert "too large" in alpaca_error(answer, 400)["message"]


def test_a_body_at_alpacas_depth_still_reaches_the_exchange(http: httpx.Client) -> None:
    bracket = order(order_class="bracket", take_profit={"limit_price": "200"})

    answer = http.post("/v2/orders", json=bracket)

    # The exchange itself read the nested leg (and asks for the missing one).
    assert "stop_loss.stop_price" in alpaca_error(answer, 422)["message"]


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/v2/nowhere", 404),
        ("PUT", "/v2/account", 405),
        ("GET", "/v2/orders/no-such-order", 404),
    ],
)
def test_unknown_routes_and_methods_answer_in_alpacas_shape(
    http: httpx.Client, method: str, path: str, status: int
) -> None:
    alpaca_error(http.request(method, path), status)


def test_malformed_json_answers_in_alpacas_shape(http: httpx.Client) -> None:
    answer = http.post(
        "/v2/orders", content=b"{not json", headers={"content-type": "application/json"}
    )

    alpaca_error(answer)


def test_without_keys_every_route_answers_401_in_alpacas_shape(server: ExchangeServer) -> None:
    alpaca_error(httpx.get(f"{server.url}/v2/account", timeout=30), 401)
    alpaca_error(httpx.post(f"{server.url}/v2/orders", json=order(), timeout=30), 401)


# ---------------------------------------------------------------- the fuzzer


def _schema() -> Any:
    """The exchange's own OpenAPI, as FastAPI describes the app (fault routes included)."""
    app = create_app(stepped(fixture_bars(), START), KEY, SECRET, FaultInjector())
    return schemathesis.openapi.from_dict(app.openapi())


SCHEMA = _schema()
REQUESTS = st.one_of(
    SCHEMA.as_strategy(GenerationMode.POSITIVE), SCHEMA.as_strategy(GenerationMode.NEGATIVE)
)


@settings(
    max_examples=250,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
@given(case=REQUESTS)
def test_no_generated_request_gets_a_server_error(server: ExchangeServer, case: Any) -> None:
    try:
        answer = case.call(base_url=server.url, headers=AUTH, timeout=30)
    finally:
        server.faults.configure(FaultPlan())  # a generated plan must not inject 5xx into the next

    assert answer.status_code < 500, f"{case.method} {case.formatted_path}: {answer.text[:200]}"
    if answer.status_code >= 400:
        alpaca_error(answer)
