"""Specification of the in-memory store: it answers as the SQLite state store does."""

from __future__ import annotations

import tempfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from fleece.backtest.memory_store import MemoryStore
from fleece.models import OrderIntent, Refusal, Side, TradingState
from fleece.state_store import StateStore, StateStoreError

T0 = datetime(2024, 1, 2, 15, 0, tzinfo=UTC)


def intent(cid: str, side: Side = Side.BUY, qty: int = 10, minute: int = 0) -> OrderIntent:
    at = T0 + timedelta(minutes=minute)
    return OrderIntent(cid, "sma_crossover", "SPY", side, qty, at, at)


def exercise(store: MemoryStore | StateStore) -> list[object]:
    """The same calls on either store; returns every answer."""
    answers: list[object] = [
        store.add_intent(intent("a", minute=1)),
        store.add_intent(intent("a", minute=1)),  # duplicate: refused, untouched
        store.add_intent(intent("b", Side.SELL, 7, minute=2)),
        store.mark_submit_attempt("a", T0 + timedelta(minutes=1)),
        store.mark_submit_attempt("a", T0 + timedelta(minutes=1)),
    ]
    store.set_intent_status("a", "accepted", broker_order_id="o-a", now=T0 + timedelta(minutes=2))
    # Partial fills reported cumulatively, at an average that is not a whole tick per share.
    answers.append(store.record_fill("a", "o-a", "SPY", Side.BUY, 3, 100.1, T0))
    answers.append(store.record_fill("a", "o-a", "SPY", Side.BUY, 3, 100.1, T0))  # repeat
    answers.append(store.record_fill("a", "o-a", "SPY", Side.BUY, 10, 100.10333, T0))
    store.set_intent_status("b", "canceled", error="stale", now=T0 + timedelta(minutes=3))
    answers.append([(r.client_order_id, r.status) for r in store.unfinished_intents()])
    answers.append(
        [
            (
                r.client_order_id,
                r.status,
                r.broker_order_id,
                r.filled_qty,
                r.filled_avg_price,
                r.last_error,
                r.submit_attempts,
                r.updated_at,
            )
            for r in store.all_intents()
        ]
    )
    day = date(2024, 1, 2)
    answers += [
        store.trades_submitted(day),
        store.increment_trades_submitted(day),
        store.increment_trades_submitted(day),
        store.trades_submitted(day),
        store.reducing_latch(),
    ]
    store.set_reducing_latch(day, T0)
    store.set_breaker(True, 5, T0)
    store.set_trading_state(TradingState.HALTED, "circuit_breaker", T0)
    store.add_refusal(Refusal("SPY", Side.BUY, "max_trades_per_day", "20 trades", T0))
    answers += [store.reducing_latch(), store.breaker(), store.kill_switch()]
    return answers


def test_the_memory_store_answers_every_call_as_the_state_store(tmp_path: Path) -> None:
    with StateStore(tmp_path / "trades.db") as sqlite:
        expected = exercise(sqlite)

    assert exercise(MemoryStore()) == expected


def test_fills_keep_the_cumulative_total_to_the_tick() -> None:
    store = MemoryStore()
    store.add_intent(intent("a"))

    # 3 at 100.10 then 7 at 100.106: the broker reports 10 at an average of 100.1042.
    store.record_fill("a", "o", "SPY", Side.BUY, 3, 100.1, T0)
    store.record_fill("a", "o", "SPY", Side.BUY, 10, 100.1042, T0)

    assert [(f.qty, f.price) for f in store.fills] == [(3, 100.1), (7, 100.106)]


def test_an_unknown_client_order_id_is_refused_like_the_state_store() -> None:
    with pytest.raises(StateStoreError):
        MemoryStore().set_intent_status("nope", "filled", now=T0)


def test_refusals_are_counted_by_reason() -> None:
    store = MemoryStore()
    for reason in ("b", "a", "b"):
        store.add_refusal(Refusal("SPY", Side.BUY, reason, "", T0))

    assert store.refusal_counts() == {"a": 1, "b": 2}


def test_both_stores_refuse_to_send_an_intent_the_broker_has() -> None:
    with tempfile.TemporaryDirectory() as tmp, StateStore(Path(tmp) / "t.db") as sqlite:
        for store in (sqlite, MemoryStore()):
            store.add_intent(intent("a"))
            store.mark_submit_attempt("a", T0)
            store.set_intent_status("a", "accepted", broker_order_id="o-a", now=T0)

            with pytest.raises(StateStoreError, match="cannot go from accepted to submitted"):
                store.mark_submit_attempt("a", T0)
            with pytest.raises(StateStoreError, match="cannot go from accepted to new"):
                store.set_intent_status("a", "new", now=T0)


Report = tuple[str, int, int, float]  # client_order_id, order qty, cumulative qty, average


@st.composite
def cumulative_reports(draw: st.DrawFn) -> list[Report]:
    """Orders' cumulative fill reports as a broker gives them: interleaved, repeated, stale."""
    reports: list[Report] = []
    executions = st.lists(
        st.tuples(st.integers(1, 300), st.integers(1, 5_000_000)), min_size=1, max_size=4
    )
    for n, fills in enumerate(draw(st.lists(executions, min_size=1, max_size=3))):
        qty = sum(q for q, _ in fills) + draw(st.integers(0, 20))  # some never fill completely
        states: list[tuple[int, float]] = []
        cumulative = paid = 0
        for q, ticks in fills:
            cumulative += q
            paid += q * ticks
            # Sometimes the broker's average is rounded to 4 decimals, sometimes not.
            average = paid / cumulative / 10_000
            states.append((cumulative, draw(st.sampled_from([average, round(average, 4)]))))
        reads = draw(st.lists(st.sampled_from(states), min_size=1, max_size=8))
        reports += [(f"o{n}", qty, c, avg) for c, avg in reads]
    return draw(st.permutations(reports))


def replay(store: MemoryStore | StateStore, reports: list[Report]) -> list[object]:
    """Record ``reports`` on ``store``; every fill it returns (or its refusal), then every
    intent's state."""
    for cid, qty, _, _ in reports:
        if store.get_intent(cid) is None:
            store.add_intent(intent(cid, qty=qty))
    written: list[object] = []
    for cid, _, cumulative, average in reports:
        try:
            written.append(
                store.record_fill(cid, f"b-{cid}", "SPY", Side.BUY, cumulative, average, T0)
            )
        except StateStoreError as exc:
            # A report whose average, rounded by the broker, leaves no positive price for the
            # new shares (possible at prices of a few ticks): both stores refuse it alike.
            written.append(str(exc))
    return written + [
        (r.client_order_id, r.status, r.filled_qty, r.filled_avg_price) for r in store.all_intents()
    ]


@settings(max_examples=40, deadline=None)
@given(cumulative_reports())
# 1 @ 1 tick and 1 @ 2 ticks reported as 2 @ 0.0002 (rounded), then a third share at 1 tick:
# 3 @ 4/3 ticks leaves the third share no positive price.
@example([("o0", 3, 2, 0.0002), ("o0", 3, 3, 4 / 3 / 10_000)])
def test_both_stores_record_the_same_trades_for_the_same_reports(reports: list[Report]) -> None:
    with tempfile.TemporaryDirectory() as tmp, StateStore(Path(tmp) / "t.db") as sqlite:
        expected = replay(sqlite, reports)

    assert replay(MemoryStore(), reports) == expected
