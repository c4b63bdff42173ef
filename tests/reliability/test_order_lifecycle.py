"""Specification of the order lifecycle as Alpaca's paper account plays it: partial fills,
``done_for_day`` followed by a fill, and the wash-trade rule, which the bot never triggers.

The market is the free plan's IEX tape of thin stocks (a third to two thirds of their minutes
have no bar), so the rest of a partly filled order often waits minutes for its symbol's next
bar: entries are still working when the strategy wants out. The exchange splits every fill (a
stress: paper splits about one in ten), and shows a share of the orders ``done_for_day`` while
they work (the fault layer's ``done_for_day`` kind): a fill that follows must still be recorded.
"""

from __future__ import annotations

import asyncio
import logging

import pytest
from reliability_helpers import (
    SteppedBot,
    intents,
    ny,
    query,
    scenario,
    serve,
    stepped_bot,
    synthetic,
    verdict,
)

from fleece.exchange.fault_plan import FaultPlan

THIN = ("NOC", "LMT", "GD", "SCCO", "NFLX", "USO", "RTX", "PAAS")
# Every fill splits (paper splits about one in ten): a buy works over several of its bars.
PAPER = {"plan": "free", "data_feed": "sip", "partial_fills": 1.0}
DONE_FOR_DAY = FaultPlan(rate=0.0, order_rate=0.5, seed=3, kinds=frozenset({"done_for_day"}))
MINUTES = 90


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The bot's record and the exchange's after an hour and a half on the thin IEX tape."""
    paths = scenario(tmp_path_factory.mktemp("lifecycle"), THIN, risk={"max_trades_per_day": 200})
    with serve(synthetic(THIN), ny("09:30"), plan=DONE_FOR_DAY, account=PAPER) as market:

        async def run() -> SteppedBot:
            harness = await stepped_bot(paths, market)
            await harness.step(MINUTES)
            await harness.stop()
            return harness

        logger = logging.getLogger("fleece")
        lines: list[str] = []
        handler = logging.Handler()
        handler.emit = lambda record: lines.append(record.getMessage())  # type: ignore[method-assign]
        logger.addHandler(handler)
        level = logger.level
        logger.setLevel(logging.INFO)
        try:
            asyncio.run(run())
        finally:
            logger.removeHandler(handler)
            logger.setLevel(level)
        counts = market.counts()
        shown_done = market.faults.done_for_day_ids()
        filled_qty = {o.client_order_id: o.filled_qty for o in market.orders()}
        submissions = market.exchange.state()["client_order_id_submissions"]
        market.faults.configure(FaultPlan())
        found = verdict(paths.db, market.orders(), market.positions(), market.counts())
        accepted = {o.client_order_id for o in market.orders()}
    return {
        "paths": paths,
        "found": found,
        "counts": counts,
        "submissions": submissions,
        "accepted": accepted,
        "lines": lines,
        "shown_done": shown_done,
        "filled_qty": filled_qty,
    }


def test_with_partial_fills_and_done_for_day_every_fill_is_recorded_once(session: dict) -> None:
    found, counts = session["found"], session["counts"]
    parts = query(
        session["paths"].db,
        "SELECT client_order_id, COUNT(*) FROM trades GROUP BY client_order_id HAVING COUNT(*) > 1",
    )

    assert counts["injected"].get("done_for_day", 0) >= 3
    assert len(parts) >= 3, "orders filled in parts, each part a trades row"
    assert found.fills_lost == 0 and found.duplicates == 0
    assert found.unmatched_intents == [] and found.unmatched_orders == []
    assert found.position_mismatches == {}
    assert found.open_intents == []


def test_an_order_seen_done_for_day_is_not_final_and_its_later_fills_are_recorded(
    session: dict,
) -> None:
    statuses = intents(session["paths"].db)
    rows = query(
        session["paths"].db,
        "SELECT client_order_id, COUNT(*), SUM(qty) FROM trades GROUP BY client_order_id",
    )
    recorded = {r[0]: (int(r[1]), int(r[2])) for r in rows}
    shown = [cid for cid in session["shown_done"] if cid in statuses]

    # Seen done_for_day with a part filled, then filled: both parts are in the store.
    in_parts = [cid for cid in shown if recorded.get(cid, (0, 0))[0] > 1]
    assert in_parts
    for cid in shown:
        assert recorded.get(cid, (0, 0))[1] == session["filled_qty"].get(cid, 0)
        assert statuses[cid] in {"filled", "canceled", "expired"}
    assert any(statuses[cid] == "filled" for cid in in_parts)


def test_the_bot_never_triggers_the_wash_trade_rule(session: dict) -> None:
    errors = query(
        session["paths"].db, "SELECT COUNT(*) FROM order_intents WHERE last_error LIKE '%wash%'"
    )
    refused = set(session["submissions"]) - session["accepted"]

    assert errors[0][0] == 0
    assert refused == set(), "every order the bot sent was accepted"
    assert any("buy cancelled before an exit" in line for line in session["lines"]), (
        "an exit met its own working buy at least once, and cancelled it first"
    )
