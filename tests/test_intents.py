"""Specification of the order-intent lifecycle: statuses, transitions and fill arithmetic."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fleece.intents import (
    FINAL_STATUSES,
    OPEN_STATUSES,
    UNFINISHED_STATUSES,
    FillIncrement,
    ImpossibleFillError,
    IntentRecord,
    IntentStatus,
    IntentTransitionError,
    fill_increment,
    round_half_even,
    status_after_fill,
    status_for_broker,
    transition,
    written,
)
from fleece.models import OrderIntent, Side, to_ticks

S = IntentStatus


# -- statuses ----------------------------------------------------------------------------------


def test_every_status_is_either_open_or_final() -> None:
    assert set(IntentStatus) == OPEN_STATUSES | FINAL_STATUSES
    assert not OPEN_STATUSES & FINAL_STATUSES
    assert list(UNFINISHED_STATUSES) == [
        S.NEW,
        S.SUBMITTED,
        S.ACCEPTED,
        S.PENDING_NEW,
        S.PARTIALLY_FILLED,
    ]


def test_a_broker_status_with_a_fill_while_still_working_reads_partially_filled() -> None:
    assert status_for_broker("new", 0) is S.ACCEPTED
    assert status_for_broker("done_for_day", 3) is S.PARTIALLY_FILLED
    assert status_for_broker("replaced", 0) is S.CANCELED
    assert status_for_broker("teleported", 0) is S.ACCEPTED  # unknown: kept open


# -- transitions -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (S.NEW, S.SUBMITTED),  # about to send
        (S.SUBMITTED, S.SUBMITTED),  # a send retried after a lost answer
        (S.SUBMITTED, S.ACCEPTED),
        (S.SUBMITTED, S.REJECTED),
        (S.NEW, S.FAILED),  # never left us
        (S.NEW, S.ACCEPTED),  # found at the broker after all
        (S.ACCEPTED, S.PARTIALLY_FILLED),
        (S.PARTIALLY_FILLED, S.CANCELED),
        (S.PENDING_NEW, S.FAILED),  # not at the broker at start-up
        (S.FILLED, S.FILLED),  # the order read again
        (S.CANCELED, S.CANCELED),
    ],
)
def test_the_lifecycle_allows(current: IntentStatus, target: IntentStatus) -> None:
    assert transition(current, target) is target


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (S.ACCEPTED, S.SUBMITTED),  # the broker has it: never sent twice
        (S.PARTIALLY_FILLED, S.SUBMITTED),
        (S.SUBMITTED, S.NEW),  # nothing goes back to unsent
        (S.ACCEPTED, S.DRY_RUN),
        (S.FILLED, S.CANCELED),  # final is final
        (S.CANCELED, S.ACCEPTED),
        (S.FAILED, S.SUBMITTED),
        (S.DRY_RUN, S.SUBMITTED),  # a dry run is never sent
    ],
)
def test_the_lifecycle_refuses(current: IntentStatus, target: IntentStatus) -> None:
    with pytest.raises(IntentTransitionError, match=f"from {current} to {target}"):
        transition(current, target)


@pytest.mark.parametrize("final", sorted(FINAL_STATUSES))
def test_a_final_status_never_changes_but_by_a_fill(final: IntentStatus) -> None:
    for target in set(IntentStatus) - {final}:
        with pytest.raises(IntentTransitionError):
            transition(final, target)


def test_an_unknown_status_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="bogus"):
        transition(S.NEW, "bogus")


@pytest.mark.parametrize(
    ("current", "cumulative", "expected"),
    [
        (S.ACCEPTED, 4, S.PARTIALLY_FILLED),
        (S.ACCEPTED, 10, S.FILLED),
        (S.CANCELED, 4, S.CANCELED),  # the rest will never fill
        (S.EXPIRED, 4, S.EXPIRED),
        (S.CANCELED, 10, S.FILLED),  # the fill came before the cancel took
        (S.FAILED, 4, S.PARTIALLY_FILLED),  # a fact outranks what we believed
    ],
)
def test_a_fill_moves_the_status(
    current: IntentStatus, cumulative: int, expected: IntentStatus
) -> None:
    assert status_after_fill(current, cumulative, qty=10) is expected


# -- an intent's progress ---------------------------------------------------------------------

T0 = datetime(2024, 11, 29, 14, 30, tzinfo=UTC)
INTENT = OrderIntent("cid", "sma", "SPY", Side.BUY, 10, T0, T0)


def test_a_written_intent_has_learnt_nothing_yet_and_reads_back_as_itself() -> None:
    record = IntentRecord.of(INTENT, written(INTENT, S.NEW))

    assert (record.status, record.filled_qty, record.submit_attempts) == (S.NEW, 0, 0)
    assert record.to_intent() == INTENT
    assert record.progress() == written(INTENT, S.NEW)


def test_each_send_attempt_is_counted_and_none_once_the_broker_has_it() -> None:
    later = T0 + timedelta(seconds=5)
    progress = written(INTENT, S.NEW)

    counts = [progress.send_attempted(T0), progress.send_attempted(later)]
    progress.move(S.ACCEPTED, later, broker_order_id="b-1")

    assert counts == [1, 2]
    with pytest.raises(IntentTransitionError):
        progress.send_attempted(later)
    assert (progress.status, progress.submit_attempts) == (S.ACCEPTED, 2)  # refused: unchanged


def test_a_move_keeps_what_it_is_not_told() -> None:
    progress = written(INTENT, S.NEW)
    progress.move(S.ACCEPTED, T0, broker_order_id="b-1", error="slow")

    progress.move(S.CANCELED, T0)

    assert (progress.broker_order_id, progress.last_error) == ("b-1", "slow")


def test_a_fill_records_the_brokers_figures_and_keeps_the_first_order_id() -> None:
    progress = written(INTENT, S.NEW)
    progress.move(S.ACCEPTED, T0, broker_order_id="b-1")

    progress.filled(INTENT.qty, 4, 100.25, "leg-2", T0)

    assert (progress.status, progress.filled_qty, progress.filled_avg_price) == (
        S.PARTIALLY_FILLED,
        4,
        100.25,
    )
    assert progress.broker_order_id == "b-1"


# -- fill arithmetic ---------------------------------------------------------------------------


def test_partial_fills_become_rows_at_the_execution_prices() -> None:
    # 3 at 100.10 then 7 at 100.106: the broker reports 10 at an average of 100.1042.
    first = fill_increment([], 3, 100.1)
    second = fill_increment([(3, 100.1)], 10, 100.1042)

    assert first == FillIncrement(3, 1_001_000)
    assert second == FillIncrement(7, 1_001_060)
    assert second.price == 100.106


def test_a_repeated_or_stale_report_adds_nothing() -> None:
    recorded = [(3, 100.1), (7, 100.106)]

    assert fill_increment(recorded, 10, 100.1042) is None  # read again
    assert fill_increment(recorded, 3, 100.1) is None  # an older answer


def test_a_price_between_ticks_rounds_half_to_even() -> None:
    # 1 share at 100.0000 recorded; the broker's total of 3 shares is 300.0001 (3,000,001 ticks):
    # the 2 new shares cost 1,000,000.5 ticks each, which rounds to the even tick.
    assert fill_increment([(1, 100.0)], 3, 300.0001 / 3) == FillIncrement(2, 1_000_000)
    assert fill_increment([(1, 100.0)], 3, 300.0003 / 3) == FillIncrement(2, 1_000_002)


def test_a_report_implying_a_non_positive_price_is_refused() -> None:
    with pytest.raises(ImpossibleFillError, match="non-positive"):
        fill_increment([(5, 100.0)], 6, 50.0)


@given(st.lists(st.tuples(st.integers(1, 500), st.integers(1, 5_000_000)), min_size=1, max_size=6))
def test_rows_at_tick_executions_sum_to_the_brokers_total_and_never_double(
    executions: list[tuple[int, int]],
) -> None:
    recorded: list[tuple[int, float]] = []
    cumulative = paid_ticks = 0
    for qty, ticks in executions:
        cumulative += qty
        paid_ticks += qty * ticks
        for _ in range(2):  # every report read twice
            new = fill_increment(recorded, cumulative, paid_ticks / cumulative / 10_000)
            if new is not None:
                recorded.append((new.qty, new.price))

        assert sum(q for q, _ in recorded) == cumulative
        assert sum(q * to_ticks(p) for q, p in recorded) == paid_ticks


@given(
    st.lists(
        st.tuples(st.integers(1, 500), st.floats(0.01, 5_000, allow_nan=False)),
        min_size=1,
        max_size=6,
    )
)
def test_errors_of_prices_between_ticks_never_accumulate(
    executions: list[tuple[int, float]],
) -> None:
    recorded: list[tuple[int, float]] = []
    cumulative, paid = 0, 0.0
    for qty, price in executions:
        cumulative += qty
        paid += qty * price
        average = paid / cumulative
        new = fill_increment(recorded, cumulative, average)
        assert new is not None
        recorded.append((new.qty, new.price))

        # Within half a tick per share of the newest row, whatever came before.
        broker_ticks = Fraction(average) * cumulative * 10_000
        off = abs(sum(q * to_ticks(p) for q, p in recorded) - broker_ticks)
        assert off <= Fraction(new.qty, 2) + Fraction(1, 2)


@given(st.integers(-(10**12), 10**12), st.integers(1, 10**6))
def test_rounding_is_fractions_half_to_even(numerator: int, denominator: int) -> None:
    assert round_half_even(numerator, denominator) == round(Fraction(numerator, denominator))
