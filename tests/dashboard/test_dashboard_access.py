"""Who may read the dashboard: the token on every route with data, the Host check on every
loopback bind (``::1`` included), no page that loads code from elsewhere.

The app is the real one, over a real (empty) store; the routes are enumerated from the app
itself, so a route added later is covered without editing this file.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from dashboard_helpers import BEARER, TOKEN, config_for, wait_for
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from pydantic import SecretStr
from starlette.routing import Mount

from fleece.dashboard import DashboardServer, DashboardView, create_app
from fleece.dashboard.app import STATIC
from fleece.state_store import StateStore

PUBLIC = {"/", "/healthz", "/vendor/plotly.min.js", "/static/dashboard.js"}
# Routes with data the issue names: they must be among the enumerated ones.
WITH_DATA = {"/api/status", "/api/account", "/api/fills", "/metrics", "/api/openapi.json"}
LOOPBACK_BINDS = ["127.0.0.1", "127.0.0.2", "localhost", "::1"]
LOOPBACK_HOST_HEADERS = ["127.0.0.1:8080", "localhost:8080", "localhost", "[::1]:8080", "[::1]"]
FOREIGN_HOST_HEADERS = ["attacker.example", "attacker.example:8080", "127.0.0.1.nip.io", "[::2]"]


@pytest.fixture
def view(tmp_path: Path) -> Iterator[DashboardView]:
    """A read model over an empty store of a bot configured with a token."""
    config = config_for(tmp_path, {"FLEECE_MODE": "sim", "DASHBOARD_TOKEN": TOKEN})
    with StateStore(tmp_path / "trades.db") as store:
        yield DashboardView(store, config)


def app_with_token(view: DashboardView, host: str = "127.0.0.1") -> FastAPI:
    """The dashboard app of a bot that has ``DASHBOARD_TOKEN`` set."""
    return create_app(view, token=SecretStr(TOKEN), host=host)


def every_route(app: FastAPI) -> list[tuple[str, str]]:
    """(method, path) of every route of the app, one file of each static mount."""
    found: list[tuple[str, str]] = []
    for route in app.routes:
        if isinstance(route, APIRoute):
            method = "POST" if "POST" in route.methods else "GET"
            path = route.path + ("?symbol=SPY" if route.path == "/api/bars" else "")
            found.append((method, path))
        elif isinstance(route, Mount):
            found.append(("GET", f"{route.path}/dashboard.js"))
        elif hasattr(route, "path"):
            found.append(("GET", route.path))
    return found


def test_with_a_token_every_route_but_healthz_and_the_page_code_needs_it(
    view: DashboardView,
) -> None:
    app = app_with_token(view)
    routes = every_route(app)
    client = TestClient(app, base_url="http://127.0.0.1")

    without = {path: client.request(method, path).status_code for method, path in routes}
    wrong = {
        path: client.request(method, path, headers={"Authorization": "Bearer wrong-token-x"})
        for method, path in routes
    }
    with_token = {
        path: client.request(method, path, headers=BEARER).status_code for method, path in routes
    }

    paths = {path.split("?")[0] for _, path in routes}
    assert paths >= WITH_DATA and paths >= PUBLIC
    assert {p for p, code in without.items() if code != 401} == PUBLIC
    assert {p for p, answer in wrong.items() if answer.status_code != 401} == PUBLIC
    assert all(code != 401 for code in with_token.values()), with_token
    assert with_token["/api/account"] == with_token["/metrics"] == 200
    assert all(
        a.headers.get("www-authenticate") == "Bearer" for p, a in wrong.items() if p not in PUBLIC
    )


def test_without_a_token_a_loopback_dashboard_is_read_only(view: DashboardView) -> None:
    client = TestClient(create_app(view, token=None), base_url="http://127.0.0.1")

    assert client.get("/api/account").status_code == 200
    assert client.post("/api/halt", headers=BEARER).status_code == 403


def test_the_api_docs_are_left_out_and_no_page_loads_code_from_elsewhere(
    view: DashboardView,
) -> None:
    client = TestClient(app_with_token(view), base_url="http://127.0.0.1", headers=BEARER)

    docs = client.get("/api/docs")
    served = [client.get("/").text] + [
        client.get(f"/static/{f.name}").text for f in STATIC.iterdir() if f.is_file()
    ]

    assert docs.status_code == 404
    for text in served:
        assert "http://" not in text.replace("http://www.w3.org/2000/svg", "")
        assert "https://" not in text
    assert "script-src 'self'" in client.get("/").headers["content-security-policy"]


@pytest.mark.parametrize("bind", LOOPBACK_BINDS)
def test_every_loopback_bind_refuses_requests_naming_another_host(
    view: DashboardView, bind: str
) -> None:
    client = TestClient(app_with_token(view, host=bind), base_url="http://127.0.0.1")

    foreign = {
        h: client.get("/healthz", headers={"Host": h}).status_code for h in FOREIGN_HOST_HEADERS
    }
    loopback = {
        h: client.get("/api/status", headers={"Host": h, **BEARER}).status_code
        for h in LOOPBACK_HOST_HEADERS
    }

    assert set(foreign.values()) == {400}, foreign
    assert set(loopback.values()) == {200}, loopback


def test_a_public_bind_with_a_token_takes_any_host_name_but_still_needs_the_token(
    view: DashboardView,
) -> None:
    client = TestClient(app_with_token(view, host="0.0.0.0"), base_url="http://127.0.0.1")
    named = {"Host": "bot.example.net"}

    assert client.get("/api/status", headers=named).status_code == 401
    assert client.get("/api/status", headers={**named, **BEARER}).status_code == 200


def test_a_dashboard_listening_on_ipv6_loopback_refuses_dns_rebinding(
    view: DashboardView,
) -> None:
    server = DashboardServer(view, host="::1", port=0, token=SecretStr(TOKEN))
    url = server.bind()
    thread = threading.Thread(target=asyncio.run, args=(server.serve(),), daemon=True)
    thread.start()
    try:
        wait_for("the dashboard on [::1]", lambda: _answers(f"{url}/healthz"))
        rebound = httpx.get(
            f"{url}/api/status", headers={"Host": "rebind.example", **BEARER}, timeout=30
        )
        direct = httpx.get(f"{url}/api/status", headers=BEARER, timeout=30)
    finally:
        server.stop()
        thread.join(timeout=30)

    assert url.startswith("http://[::1]:")
    assert rebound.status_code == 400
    assert direct.status_code == 200


def _answers(url: str) -> bool:
    try:
        httpx.get(url, timeout=2)
    except httpx.HTTPError:
        return False
    return True


def test_a_refused_token_is_logged_without_the_token_or_the_guess(
    view: DashboardView, caplog: pytest.LogCaptureFixture
) -> None:
    client = TestClient(app_with_token(view), base_url="http://127.0.0.1")
    guess = TOKEN[:-1] + "X"

    with caplog.at_level(logging.DEBUG, logger="fleece"):
        refused = client.get("/api/account", headers={"Authorization": f"Bearer {guess}"})

    assert refused.status_code == 401
    assert any("wrong token" in r.getMessage() for r in caplog.records)
    assert all(TOKEN not in r.getMessage() and guess not in r.getMessage() for r in caplog.records)
    assert TOKEN not in refused.text and guess not in refused.text
