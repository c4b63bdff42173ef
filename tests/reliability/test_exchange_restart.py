"""Specification of an exchange restart under a running bot: the bot rides it out, nothing lost.

``fleece exchange --state FILE`` runs as its own process, its clock moved by the test minute by
minute; the real bot trades against it. Mid-session the exchange is killed with SIGKILL and
started again on the same port with the same state file. The bot must keep running through the
outage, and at the end the exchange's orders (kept across the restart) and the store agree: no
order sent twice (the fault layer's counters survive the restart too), no fill lost.
"""

from __future__ import annotations

import asyncio
import re
import signal
import socket
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from reliability_helpers import (
    AUTH,
    EIGHT_SYMBOLS,
    KEY,
    SECRET,
    SteppedBot,
    config_from,
    paper_env,
    scenario,
    until,
    verdict,
    wait_for,
)

from fleece.exchange.orders import OrderStatus, OrderType, SimOrder, TimeInForce
from fleece.models import Side

LISTENING = re.compile(r"listening on (http://\S+)")


def unreachable(caplog: pytest.LogCaptureFixture) -> int:
    """How often the bot has logged that it could not read the exchange's clock."""
    return sum("exchange clock unreachable" in r.getMessage() for r in caplog.records)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class ExchangeProcess:
    """``python -m fleece.exchange`` with a state file, restartable on the same port."""

    folder: Path
    port: int
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.starts += 1
        argv = [sys.executable, "-m", "fleece.exchange", "--synthetic", "--speed", "0"]
        argv += ["--port", str(self.port), "--symbols", ",".join(EIGHT_SYMBOLS)]
        argv += ["--start", "2024-11-25", "--days", "2", "--seed", "7"]
        argv += ["--state", str(self.folder / "exchange.state")]
        out = self.folder / f"exchange-{self.starts}.out"
        with out.open("wb") as stdout:
            self.process = subprocess.Popen(
                argv,
                env={"ALPACA_API_KEY": KEY, "ALPACA_SECRET_KEY": SECRET, "PATH": "/usr/bin"},
                stdout=stdout,
                stderr=subprocess.STDOUT,
            )
        wait_for(
            lambda: LISTENING.search(out.read_text(errors="replace")) is not None,
            "the exchange to listen",
            90,
        )

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=30)

    def get(self, route: str, **params: Any) -> Any:
        with httpx.Client(base_url=self.url, headers=AUTH, timeout=10) as http:
            answer = http.get(route, params=params)
            answer.raise_for_status()
            return answer.json()


class RemoteFaults:
    def __init__(self, exchange: ExchangeProcess) -> None:
        self.exchange = exchange

    def counts(self) -> dict[str, Any]:
        return dict(self.exchange.get("/v1/sim/faults"))


class RemoteMarket:
    """What :class:`SteppedBot` needs of a market, over HTTP."""

    def __init__(self, exchange: ExchangeProcess) -> None:
        self.exchange = exchange
        self.faults = RemoteFaults(exchange)

    def advance(self, minutes: float = 1) -> None:
        with httpx.Client(base_url=self.exchange.url, headers=AUTH, timeout=10) as http:
            http.post("/v1/sim/advance", json={"minutes": minutes}).raise_for_status()


def sim_orders(exchange: ExchangeProcess) -> list[SimOrder]:
    """The exchange's orders (JSON) as the few SimOrder fields the verdict reads."""
    orders = exchange.get("/v2/orders", status="all", limit=500, direction="asc")
    now = datetime.now(UTC)
    return [
        SimOrder(
            id=o["id"],
            client_order_id=o["client_order_id"],
            symbol=o["symbol"],
            side=Side(o["side"]),
            type=OrderType(o["type"]),
            time_in_force=TimeInForce(o["time_in_force"]),
            qty=int(o["qty"]),
            limit_price=None,
            submitted_at=now,
            eligible_from=now,
            expires_at=None,
            reserved_cents=0,
            status=OrderStatus(o["status"]),
            updated_at=now,
            filled_qty=int(o["filled_qty"]),
            filled_avg_price=float(o["filled_avg_price"]) if o["filled_avg_price"] else None,
        )
        for o in orders
    ]


@pytest.mark.timeout(600)
def test_the_bot_rides_out_an_exchange_killed_and_restarted_mid_session(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    paths = scenario(tmp_path / "bot", EIGHT_SYMBOLS)
    exchange = ExchangeProcess(tmp_path, free_port())
    exchange.start()
    try:
        exchange_market = RemoteMarket(exchange)
        # The exchange starts at the first session's open; move to the second session's.
        exchange_market.advance(24 * 60)
        env = paper_env(paths, exchange.url, ALPACA_TIMEOUT_SECONDS="1")

        async def session() -> tuple[int, int, int]:
            harness = await SteppedBot(config_from(env), exchange_market).start()  # type: ignore[arg-type]
            await harness.step_until(
                lambda: (
                    exchange.get("/v2/orders", status="all")
                    and len(exchange.get("/v2/orders", status="all")) >= 3
                ),
                "three orders before the restart",
                limit=120,
            )
            before = len(exchange.get("/v2/orders", status="all", limit=500))
            met = unreachable(caplog)
            exchange.kill()
            # The bot meets the dead exchange: a clock read fails, all its retries included.
            await until(lambda: unreachable(caplog) > met, "the bot to meet the dead exchange")
            exchange.start()
            await harness.step(30)
            code = await harness.stop()
            return before, code, harness.cycles

        before, code, cycles = asyncio.run(session())
        orders = sim_orders(exchange)
        positions = {p["symbol"]: int(p["qty"]) for p in exchange.get("/v2/positions")}
        counts = RemoteFaults(exchange).counts()
    finally:
        exchange.stop()

    found = verdict(paths.db, orders, positions, counts)
    assert code == 0
    assert len(orders) > before  # trading went on after the restart
    assert counts["order_attempts"] >= len(orders)  # the counters survived the restart
    assert found.duplicates == 0
    assert found.fills_lost == 0
    assert found.unmatched_intents == [] and found.unmatched_orders == []
    assert found.position_mismatches == {}
    assert found.integrity == "ok"
    assert cycles >= 30
    assert not [r for r in caplog.records if "task crashed" in r.getMessage()]
