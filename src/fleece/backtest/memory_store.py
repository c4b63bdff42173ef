"""An in-memory store with the state store's API, for backtests.

The live bot writes every intent, fill, refusal and counter to SQLite with an fsync per
transaction: right for a process that may be killed, far too slow for a backtest that makes tens
of thousands of decisions in seconds. :class:`MemoryStore` keeps the same records in dicts and
lists and answers the calls the trader and the order manager make (the
:class:`~fleece.trader.TraderStore` protocol) with the same semantics as
:class:`~fleece.state_store.StateStore`: idempotent intents, fills recorded from cumulative
broker reports in whole ticks, per-session counters, the persisted safety state. The rules of
an intent's life (statuses, transitions, fill arithmetic) are both stores' :mod:`fleece.intents`,
and the steps that apply them (a status change, a send attempt, a fill report) both stores'
:class:`~fleece.intent_store.IntentStore`: this one supplies only how it keeps the records.
"""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import date, datetime

from fleece.intent_store import IntentStore
from fleece.intents import IntentProgress, IntentRecord, is_open
from fleece.models import Fill, OrderIntent, Refusal, TradingState
from fleece.state_store import StateStoreError


@dataclass
class MemoryStore(IntentStore):
    """Intents, fills, refusals, counters and safety state of one backtest, in memory.

    Attributes:
        fills: every fill, in the order it was recorded.
        trading_states: every change of trading state, as (time, state, why).
    """

    fills: list[Fill] = field(default_factory=list)
    _refusals: list[Refusal] = field(default_factory=list)
    trading_states: list[tuple[datetime, TradingState, str]] = field(default_factory=list)
    _intents: dict[str, tuple[OrderIntent, IntentProgress]] = field(default_factory=dict)
    _fills_of: dict[str, list[Fill]] = field(default_factory=dict)
    _unfinished: dict[str, None] = field(default_factory=dict)
    # Each intent's record as last read, until it changes (_keep): a backtest reads every
    # unfinished intent at each refresh, mostly unchanged since the one before.
    _records: dict[str, IntentRecord] = field(default_factory=dict)
    _counters: dict[date, int] = field(default_factory=dict)
    _kill_switch: tuple[bool, str] = (False, "")
    _breaker: tuple[bool, int] = (False, 0)
    _latch: date | None = None

    # -- intents -------------------------------------------------------------------------------
    def _write_intent(
        self, intent: OrderIntent, progress: IntentProgress, count_on: date | None
    ) -> bool:
        if intent.client_order_id in self._intents:
            return False
        if count_on is not None:
            self.increment_trades_submitted(count_on)
        self._intents[intent.client_order_id] = (intent, progress)
        self._fills_of[intent.client_order_id] = []
        self._keep(intent.client_order_id, progress)
        return True

    def _get(self, cid: str) -> tuple[OrderIntent, IntentProgress]:
        row = self._intents.get(cid)
        if row is None:
            raise StateStoreError(f"unknown client_order_id {cid!r}")
        return row

    def _keep(self, cid: str, progress: IntentProgress) -> None:
        self._records.pop(cid, None)
        if is_open(progress.status):
            self._unfinished[cid] = None
        else:
            self._unfinished.pop(cid, None)

    def _record(self, cid: str) -> IntentRecord:
        record = self._records.get(cid)
        if record is None:
            record = self._records[cid] = IntentRecord.of(*self._intents[cid])
        return record

    def get_intent(self, cid: str) -> IntentRecord | None:
        """The intent with client_order_id ``cid``, or None."""
        return self._record(cid) if cid in self._intents else None

    def _changing(self, cid: str) -> nullcontext[tuple[int, IntentProgress]]:
        # The progress itself, not a copy: nothing to roll back (a refused change raises
        # before it changes anything). No generator: a backtest changes intents very often.
        intent, progress = self._get(cid)
        return nullcontext((intent.qty, progress))

    def unfinished_intents(self) -> list[IntentRecord]:
        """Intents the broker may still act on, oldest first."""
        rows = [self._record(cid) for cid in self._unfinished]
        return sorted(rows, key=lambda r: (r.created_at, r.client_order_id))

    def all_intents(self) -> list[IntentRecord]:
        """Every intent, oldest first."""
        rows = [self._record(cid) for cid in self._intents]
        return sorted(rows, key=lambda r: (r.created_at, r.client_order_id))

    # -- fills (recorded by IntentStore.record_fill) ------------------------------------------
    def _recorded(self, cid: str) -> Iterable[tuple[int, float]]:
        return ((f.qty, f.price) for f in self._fills_of[cid])

    def _keep_fill(self, fill: Fill, cumulative_qty: int) -> Fill:
        self.fills.append(fill)
        self._fills_of[fill.client_order_id].append(fill)
        return fill

    # -- refusals, safety state, counters -------------------------------------------------------
    def add_refusal(self, r: Refusal) -> None:
        """Record a refused signal."""
        self._refusals.append(r)

    def refusals(self, since: datetime | None = None) -> list[Refusal]:
        """Recorded refusals (at or after ``since`` if given), in order."""
        return [r for r in self._refusals if since is None or r.timestamp >= since]

    def refusal_counts(self) -> dict[str, int]:
        """How many refusals each reason had, by reason."""
        counts: dict[str, int] = {}
        for r in self._refusals:
            counts[r.reason] = counts.get(r.reason, 0) + 1
        return dict(sorted(counts.items()))

    def kill_switch(self) -> tuple[bool, str]:
        """(engaged, reason)."""
        return self._kill_switch

    def set_kill_switch(self, on: bool, reason: str, now: datetime) -> None:
        """Engage or release the kill switch."""
        self._kill_switch = (on, reason)

    def breaker(self) -> tuple[bool, int]:
        """(tripped, consecutive failures) of the circuit breaker."""
        return self._breaker

    def set_breaker(self, tripped: bool, consecutive: int, now: datetime) -> None:
        """Keep the circuit breaker's state."""
        self._breaker = (tripped, consecutive)

    def reducing_latch(self) -> date | None:
        """The session date the daily-loss latch was set for, or None."""
        return self._latch

    def set_reducing_latch(self, day: date | None, now: datetime) -> None:
        """Latch REDUCING for session ``day`` (None clears it)."""
        self._latch = day

    def set_trading_state(self, state: TradingState, why: str, now: datetime) -> None:
        """Record a change of trading state."""
        self.trading_states.append((now, state, why))

    def trades_submitted(self, day: date) -> int:
        """Orders submitted in session ``day``."""
        return self._counters.get(day, 0)

    def increment_trades_submitted(self, day: date) -> int:
        """Count one more submitted order in session ``day``; returns the new count."""
        count = self._counters.get(day, 0) + 1
        self._counters[day] = count
        return count
