"""Specification of the exchange's fault injection: each kind does what it says, seeded.

Decisions are checked on the injector itself; what each kind does to a client is checked over
HTTP against the served exchange (httpx, so that the raw answer is visible).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from reliability_helpers import EIGHT_SYMBOLS, Served, ny, serve, synthetic, wait_for

from fleece.errors import ConfigError
from fleece.exchange.fault_plan import DEFAULT_KINDS, FaultPlan, plan_from_json
from fleece.exchange.faults import SERVER_ERRORS, FaultInjector

ORDER = {"symbol": "AAPL", "qty": "10", "side": "buy", "type": "market", "time_in_force": "day"}


def draws(injector: FaultInjector, n: int, method: str = "GET", path: str = "/v2/account") -> list:
    return [injector.decide(method, path) for _ in range(n)]


def order(cid: str, qty: int = 10) -> dict[str, str]:
    return {**ORDER, "qty": str(qty), "client_order_id": cid}


# ---------------------------------------------------------------- decisions


def test_the_same_seed_draws_the_same_faults_in_the_same_order() -> None:
    plan = FaultPlan(rate=0.3, seed=42)
    assert draws(FaultInjector(plan), 200) == draws(FaultInjector(plan), 200)


def test_another_seed_draws_other_faults() -> None:
    first = draws(FaultInjector(FaultPlan(rate=0.3, seed=1)), 200)
    assert first != draws(FaultInjector(FaultPlan(rate=0.3, seed=2)), 200)


def test_the_share_of_faulty_answers_follows_the_rate() -> None:
    decisions = draws(FaultInjector(FaultPlan(rate=0.1, seed=3)), 10_000)
    assert 0.09 <= sum(d is not None for d in decisions) / 10_000 <= 0.11


def test_no_rate_means_no_fault() -> None:
    assert set(draws(FaultInjector(), 1000)) == {None}


def test_order_only_kinds_never_touch_other_requests() -> None:
    injector = FaultInjector(FaultPlan(rate=1.0, seed=4, kinds=frozenset(DEFAULT_KINDS)))
    kinds = {d.kind for d in draws(injector, 2000) if d is not None}
    assert kinds == {"5xx", "429", "slow", "drop"}


def test_order_submissions_meet_every_kind() -> None:
    injector = FaultInjector(FaultPlan(rate=1.0, seed=5))
    kinds = {d.kind for i in range(2000) if (d := injector.decide("POST", "/v2/orders", f"c{i}"))}
    assert kinds == set(DEFAULT_KINDS)


def test_server_errors_are_500_502_503_or_504() -> None:
    injector = FaultInjector(FaultPlan(rate=1.0, seed=6, kinds=frozenset({"5xx"})))
    statuses = Counter(d.status for d in draws(injector, 1000) if d is not None)
    assert set(statuses) == set(SERVER_ERRORS)


def test_the_admin_routes_are_never_faulted() -> None:
    injector = FaultInjector(FaultPlan(rate=1.0, seed=7))
    assert set(draws(injector, 100, "POST", "/v1/sim/advance")) == {None}


def test_every_order_attempt_is_counted_by_client_order_id_even_when_faulted() -> None:
    injector = FaultInjector(FaultPlan(rate=1.0, seed=8, kinds=frozenset({"5xx"})))
    for cid in ("a", "b", "a"):
        injector.decide("POST", "/v2/orders", cid)
    counts = injector.counts()
    assert counts["order_attempts"] == 2
    assert counts["duplicate_submissions"] == 1
    assert counts["duplicated_client_order_ids"] == ["a"]


def test_an_unknown_kind_is_one_clear_error() -> None:
    with pytest.raises(ConfigError, match="unknown meteor; known: 5xx,"):
        FaultPlan.parse_kinds("5xx,meteor")


def test_all_means_every_kind() -> None:
    assert "garbage" in FaultPlan.parse_kinds("all")


def test_a_rate_outside_0_to_1_is_refused() -> None:
    with pytest.raises(ConfigError, match="between 0 and 1"):
        FaultPlan(rate=1.5)


def test_an_admin_body_changes_only_the_fields_it_names() -> None:
    plan = plan_from_json({"rate": 0.5, "kinds": ["429"]}, FaultPlan(seed=9, slow_seconds=3))
    assert plan == FaultPlan(rate=0.5, seed=9, kinds=frozenset({"429"}), slow_seconds=3)


@pytest.mark.parametrize(
    "body", [{"rate": "high"}, {"seed": 1.5}, {"kinds": 3}, {"colour": "red"}, {"rate": True}]
)
def test_a_bad_admin_body_is_refused(body: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        plan_from_json(body, FaultPlan())


# ---------------------------------------------------------------- over HTTP


@pytest.fixture
def market() -> Iterator[Served]:
    """Eight symbols at the second session's open, standing still until stepped."""
    with serve(synthetic(EIGHT_SYMBOLS), ny("09:30")) as served:
        yield served


def only(market: Served, kind: str, **options: float) -> None:
    market.faults.configure(FaultPlan(rate=1.0, seed=1, kinds=frozenset({kind}), **options))


def accepted(market: Served) -> list[str]:
    return [o.client_order_id for o in market.orders()]


def test_a_server_error_is_answered_without_processing_the_request(market: Served) -> None:
    only(market, "5xx")
    with market.http() as http:
        answer = http.post("/v2/orders", json=order("five"))
    assert answer.status_code in SERVER_ERRORS
    assert answer.json()["message"].startswith("injected fault")
    assert accepted(market) == []


def test_a_429_carries_retry_after_and_is_not_processed(market: Served) -> None:
    only(market, "429", retry_after_seconds=2)
    with market.http() as http:
        answer = http.post("/v2/orders", json=order("limited"))
    assert answer.status_code == 429
    assert answer.headers["Retry-After"] == "2"
    assert accepted(market) == []


def test_a_slow_answer_outlasts_the_client_timeout_but_the_request_is_processed(
    market: Served,
) -> None:
    # The answer is held ten times the client's timeout: a loaded machine cannot let the client
    # read it in time. The order is processed before the hold, but maybe after the client gave
    # up: wait for it (a guard, not a measured duration).
    only(market, "slow", slow_seconds=2.0)
    with market.http(timeout=0.2) as http, pytest.raises(httpx.ReadTimeout):
        http.post("/v2/orders", json=order("slowpoke"))
    # Under load the client may give up before the exchange's thread got to the order.
    wait_for(lambda: bool(accepted(market)), "the slow order to be processed")
    assert accepted(market) == ["slowpoke"]


def test_a_dropped_connection_gets_no_answer_and_is_not_processed(market: Served) -> None:
    only(market, "drop")
    with market.http() as http, pytest.raises(httpx.TransportError):
        http.post("/v2/orders", json=order("dropped"))
    assert accepted(market) == []


def test_the_ambiguous_case_accepts_the_order_while_the_client_sees_a_dropped_connection(
    market: Served,
) -> None:
    only(market, "ambiguous")
    with market.http() as http, pytest.raises(httpx.TransportError):
        http.post("/v2/orders", json=order("limbo"))
    market.faults.configure(FaultPlan())
    with market.http() as http:
        found = http.get("/v2/orders:by_client_order_id", params={"client_order_id": "limbo"})
    assert found.status_code == 200 and found.json()["status"] == "filled"


def test_a_rejected_order_is_refused_with_403_and_does_not_exist(market: Served) -> None:
    only(market, "reject")
    with market.http() as http:
        answer = http.post("/v2/orders", json=order("nope"))
    assert answer.status_code == 403
    assert accepted(market) == []


def test_a_partial_fill_fills_half_first_then_the_rest_on_the_next_bar(market: Served) -> None:
    only(market, "partial")
    market.advance(0.1)
    with market.http() as http:
        answer = http.post("/v2/orders", json=order("halves", qty=11)).json()
        first = http.get(f"/v2/orders/{answer['id']}").json()  # after the answer, at once
        market.advance(1)
        second = http.get(f"/v2/orders/{answer['id']}").json()
    assert (answer["status"], answer["filled_qty"]) == ("pending_new", "0")
    assert (first["status"], first["filled_qty"], first["filled_at"]) == (
        "partially_filled",
        "5",
        None,
    )
    assert (second["status"], second["filled_qty"]) == ("filled", "11")
    assert market.positions() == {"AAPL": 11}


def test_a_partially_filled_order_that_expires_keeps_its_fill(market: Served) -> None:
    only(market, "partial")
    market.advance(6 * 60 + 29.5)  # 15:59:30: the last bar of the session
    with market.http() as http:
        placed = http.post("/v2/orders", json=order("late", qty=4)).json()
        market.advance(5)
        final = http.get(f"/v2/orders/{placed['id']}").json()
    assert (final["status"], final["filled_qty"]) == ("expired", "2")
    assert market.positions() == {"AAPL": 2}


def test_garbage_answers_are_html_or_empty_with_status_200(market: Served) -> None:
    only(market, "garbage")
    with market.http() as http:
        bodies = {http.get("/v2/account").text for _ in range(2)}
    assert bodies == {
        "",
        "<html><head><title>502 Bad Gateway</title></head><body>bad gateway</body></html>",
    }


def test_faults_are_changed_at_run_time_through_the_admin_route(market: Served) -> None:
    with market.http() as http:
        changed = http.post("/v1/sim/faults", json={"rate": 1.0, "kinds": "5xx"}).json()
        refused = http.get("/v2/account")
        shown = http.get("/v1/sim/faults").json()
    assert changed["plan"]["rate"] == 1.0 and changed["plan"]["kinds"] == ["5xx"]
    assert refused.status_code in SERVER_ERRORS
    assert shown["injected"] == {"5xx": 1}


def test_a_bad_admin_request_is_a_422_with_one_line(market: Served) -> None:
    with market.http() as http:
        answer = http.post("/v1/sim/faults", json={"rate": 7})
    assert answer.status_code == 422
    assert "\n" not in answer.json()["message"]


def test_the_admin_route_needs_the_keys(market: Served) -> None:
    with httpx.Client(base_url=market.url, timeout=30) as http:
        assert http.post("/v1/sim/faults", json={"rate": 1.0}).status_code == 401
    assert market.faults.plan.rate == 0


def test_the_exchange_command_takes_fault_options(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from fleece.cli import app

    result = CliRunner().invoke(
        app,
        ["exchange", "--synthetic", "--symbols", "SPY", "--faults", "5xx,meteor"],
        env={"ALPACA_API_KEY": "k" * 12, "ALPACA_SECRET_KEY": "s" * 12},
    )
    assert result.exit_code == 2
    assert "unknown meteor" in result.output
