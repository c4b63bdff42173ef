"""The trader: bars in, decisions out — strategy, risk manager and order manager wired together.

This is the part of the runtime that the event bus calls for every bar. It holds no I/O of its own
beyond what the order manager and the store do, and it takes the facts it needs (account, session,
time) as arguments, so the same object is driven by the live runtime and by tests.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Protocol

from fleece.accounting import cents_of, market_order_ticks
from fleece.calendar import ONE_MINUTE, MarketCalendar, session_date
from fleece.circuit_breaker import CircuitBreaker
from fleece.clock import Clock
from fleece.errors import BrokerError
from fleece.intent_store import IntentStore
from fleece.models import (
    AccountSnapshot,
    Bar,
    Fill,
    Refusal,
    Side,
    Signal,
    TradingState,
    to_ticks,
)
from fleece.notify.events import NULL_SINK, EventSink, FillNotice, StateChanged
from fleece.order_manager import OrderManager
from fleece.ownership import Portfolio
from fleece.protection import Protector
from fleece.risk_manager import STORE_FAILURE, Approval, RiskContext, RiskManager, halt_reason
from fleece.run_stats import DecisionTimer
from fleece.strategy.api import MinuteContext, Strategy

log = logging.getLogger(__name__)


class TraderStore(IntentStore, Protocol):
    """The part of :class:`~fleece.state_store.StateStore` the trader and its order manager use.

    A protocol so that the backtest can drive this very class with an in-memory store.
    """

    def kill_switch(self) -> tuple[bool, str]: ...

    def breaker(self) -> tuple[bool, int]: ...

    def reducing_latch(self) -> date | None: ...

    def set_reducing_latch(self, day: date | None, now: datetime) -> None: ...

    def set_trading_state(self, state: TradingState, why: str, now: datetime) -> None: ...

    def trades_submitted(self, day: date) -> int: ...

    def increment_trades_submitted(self, day: date) -> int: ...

    def add_refusal(self, r: Refusal) -> None: ...


@dataclass(eq=False, kw_only=True)
class Trader:
    """Turns each bar into at most one order, through the strategy and the risk manager.

    Built with its collaborators (the kernel wires them); the rest is the run's state.
    """

    strategy: Strategy
    risk: RiskManager
    orders: OrderManager
    store: TraderStore
    clock: Clock
    breaker: CircuitBreaker
    kill_switch_env: bool
    dry_run: bool
    stale_after: timedelta = timedelta(minutes=5)

    def __post_init__(self) -> None:
        self.portfolio = Portfolio()
        # Protective exits (fleece.protection): off unless the kernel configures them.
        self.protector = Protector()
        self.sessions = MarketCalendar.from_days(())  # the broker's, loaded by the runtime
        self.account: AccountSnapshot | None = None
        self.accepting = True
        self.reserved_cash = 0.0
        self.last_price: dict[str, float] = {}
        self.signals = 0
        self.refusals: Counter[str] = Counter()
        self.state: tuple[TradingState, str] = (TradingState.ACTIVE, "")
        self.latency = DecisionTimer()
        # Notifications (fills, state changes): the runtime injects its hub; emit never blocks.
        self.events: EventSink = NULL_SINK
        # Set by the runtime's disk guard: the store cannot write, so HALTED until restart.
        self.store_failed = False

    # ---- context ----------------------------------------------------------------------------
    def kill_switch(self) -> bool:
        """On when the environment says so or an operator ran ``fleece halt``."""
        return self.kill_switch_env or self.store.kill_switch()[0]

    def halted(self) -> bool:
        """True while trading is HALTED (:func:`fleece.risk_manager.halt_reason`)."""
        return bool(
            halt_reason(
                store_failed=self.store_failed,
                kill_switch=self.kill_switch(),
                breaker_tripped=self.breaker.tripped,
            )
        )

    def context(self, now: datetime, bar: Bar | None = None) -> RiskContext:
        """Snapshot everything a risk decision depends on."""
        account = self.account or AccountSnapshot(0.0, 0.0, 0.0, 0.0)
        day = session_date(now)
        latch = self.store.reducing_latch()
        pending = self.orders.pending_symbols()
        buying = self.orders.pending_buy_shares() if self.orders.has_open else {}
        entries = sum(qty * self.last_price.get(sym, 0.0) for sym, qty in buying.items())
        return RiskContext(
            now=now,
            market_open=self.sessions.is_open(now),
            signal_on_last_bar=bar is not None and self.sessions.is_last_bar(bar.timestamp),
            equity=account.equity,
            last_equity=account.last_equity,
            buying_power=max(0.0, account.buying_power - self.reserved_cash),
            positions=dict(self.portfolio.qty),
            pending_symbols=pending,
            trades_today=self.store.trades_submitted(day),
            kill_switch=self.kill_switch(),
            breaker_tripped=self.breaker.tripped,
            reducing_latched=latch == day,
            dry_run=self.dry_run,
            store_failed=self.store_failed,
            exposure=account.gross_exposure + entries,
        )

    def update_state(self, now: datetime) -> tuple[TradingState, str]:
        """Recompute and persist the trading state (latching REDUCING for the session)."""
        self._judge(now, self.context(now))
        return self.state

    def _judge(self, now: datetime, ctx: RiskContext) -> RiskContext:
        """Persist the trading state ``ctx`` implies; return ``ctx`` with any latch just set.

        The decision that follows uses the returned snapshot, so a signal is judged on the
        very state that was recorded for it (one snapshot per signal).
        """
        state, why = self.risk.trading_state(ctx)
        day = session_date(now)
        if (
            state is TradingState.REDUCING
            and why == "daily_loss_limit"
            and not ctx.reducing_latched
            and self.store.reducing_latch() != day
        ):
            self.store.set_reducing_latch(day, now)
            ctx = replace(ctx, reducing_latched=True)
            log.warning("daily loss limit hit: REDUCING for the rest of the session")
        if (state, why) != self.state:
            log.info("trading state %s -> %s reason=%s", self.state[0].value, state.value, why)
            self.store.set_trading_state(state, why, now)
            self.events.emit(StateChanged(now, self.state[0], state, why))
            self.state = (state, why)
        return ctx

    def halt_for_store(self) -> None:
        """The runtime's disk guard: HALTED in memory (the store cannot record it)."""
        self.store_failed = True
        self.state = (TradingState.HALTED, STORE_FAILURE)

    def breaker_sync(self) -> None:
        """Pick up a ``fleece reset-breaker`` run while the bot is running."""
        tripped, _ = self.store.breaker()
        if self.breaker.tripped and not tripped:
            self.breaker.reset()
            log.info("circuit breaker reset from the store")

    def on_fill(self, fill: Fill) -> None:
        """Keep what the bot owns current with its fills (and tell the operator)."""
        self.portfolio.apply_fill(fill)
        self.protector.on_fill(fill)
        self.events.emit(FillNotice(fill, None))

    # ---- the decision path ----------------------------------------------------------------
    def warmup(self, bars: list[Bar]) -> None:
        """Feed history to the strategy without acting on it (as if flat throughout).

        A strategy's state depends on prices only (the API's rule), so the state afterwards is
        the one a bot that traded through these minutes would have.
        """
        for bar in bars:
            if not self.sessions.is_regular_bar(bar.timestamp):
                continue
            self.last_price[bar.symbol] = bar.close
            self.strategy.on_minute(bar, self.minute_context(bar, flat=True))

    def minute_context(self, bar: Bar, *, flat: bool = False) -> MinuteContext:
        """What the strategy may know at ``bar``'s close besides prices (read-only)."""
        session = self.sessions.session_at(bar.timestamp)
        ends = bar.timestamp + ONE_MINUTE
        opened, closes = (session.open, session.close) if session else (bar.timestamp, ends)
        symbol = bar.symbol
        if flat:
            return MinuteContext(ends, 0, False, False, opened, closes, self.last_price)
        orders = self.orders
        buying = selling = False
        if orders.has_open:
            buying = symbol in orders.pending_buys()
            selling = symbol in orders.pending_sells()
        return MinuteContext(
            ends,
            self.portfolio.qty.get(symbol, 0),
            buying,
            selling,
            opened,
            closes,
            self.last_price,
        )

    async def on_bar(self, bar: Bar) -> None:
        """Run one bar through strategy, risk and orders."""
        if not self.sessions.is_regular_bar(bar.timestamp):
            return  # extended-hours bars never feed the strategy (regular_only)
        self.latency.bar_arrived()
        self.last_price[bar.symbol] = bar.close
        signal = self.strategy.on_minute(bar, self.minute_context(bar))
        if self.protector.protection.watched:
            signal = self._watched_exit(bar) or signal
        if signal is not None:
            await self.act(bar, signal)

    async def act(self, bar: Bar, signal: Signal) -> None:
        """Take ``signal``, the strategy's decision at ``bar``'s close, through risk and orders.

        :meth:`on_bar` calls it; so does the backtest's bar-by-bar fast path, which asks the
        strategy itself (with the same context) and polls only where a signal came (never with
        protective exits configured: those runs take the exact path).
        """
        self.signals += 1
        now = self.clock.now()
        if not self.accepting:
            self._refuse(Refusal(bar.symbol, signal.side, "shutting_down", "", now))
            return
        if now - (bar.timestamp + timedelta(minutes=1)) > self.stale_after:
            self._refuse(
                Refusal(bar.symbol, signal.side, "stale_bar", f"bar={bar.timestamp:%H:%M}Z", now)
            )
            return
        if signal.side is Side.SELL and self._exit_may_go(now, bar):
            try:
                await self._prepare_exit(bar.symbol)
            except BrokerError as exc:
                # Without the broker's position now, a sell could open a short: not sent.
                self._refuse(Refusal(bar.symbol, signal.side, "position_unknown", str(exc), now))
                return
        ctx = self._judge(now, self.context(now, bar))
        decision = self.risk.evaluate(signal, ctx, last_price=bar.close)
        if isinstance(decision, Refusal):
            self._refuse(decision)
            return
        await self._send(decision, signal.strategy, bar, now)

    def _watched_exit(self, bar: Bar) -> Signal | None:
        """``orders.protective: bot``: the market exit a held position's minute calls for."""
        symbol = bar.symbol
        if self.portfolio.qty.get(symbol, 0) <= 0:
            return None
        if self.orders.has_open and symbol in self.orders.pending_symbols():
            return None  # its exit (or entry) is still working
        reason = self.protector.watch(bar)
        if reason is None:
            return None
        log.info("protective exit hit symbol=%s reason=%s bar=%s", symbol, reason, bar.timestamp)
        return Signal(reason.value, symbol, Side.SELL, bar.timestamp, bar.close, reason.value)

    async def protect(self, now: datetime) -> int:
        """``orders.protective: broker``: give every held position its protective order.

        A position the bot owns with no protective order working (and no order of the bot's
        still working on it) gets one; a protective order whose position is gone is cancelled.
        Runs at every poll while the market is open and once at start-up, so a crash between an
        entry's fill and its protection is repaired on restart; nothing is sent while HALTED,
        dry-running or shutting down. Returns how many orders were sent.
        """
        protection = self.protector.protection
        if not protection.held_at_broker or self.dry_run or self.halted() or not self.accepting:
            return 0
        orders = self.orders
        protected = orders.protected_symbols() if orders.has_open else frozenset()
        busy = orders.pending_symbols() if orders.has_open else frozenset()
        sent = 0
        for symbol, qty in sorted(self.portfolio.qty.items()):
            planned = self.protector.order_for(symbol)
            if qty <= 0 or symbol in protected or symbol in busy or planned is None:
                continue
            entry, kind, shape = planned
            intent = orders.protective_intent(kind, symbol, qty, entry.client_order_id, now)
            outcome = await orders.submit(intent, shape=shape)
            sent += outcome.sent
        for symbol in sorted(protected - set(self.portfolio.qty)):
            log.info("protection of a position no longer held is cancelled symbol=%s", symbol)
            await orders.cancels.cancel_protection(symbol)
        return sent

    def _exit_may_go(self, now: datetime, bar: Bar) -> bool:
        """True unless the risk manager refuses the exit whatever the broker says."""
        last = self.sessions.is_last_bar(bar.timestamp)
        return not (self.dry_run or self.halted() or last or not self.sessions.is_open(now))

    async def _prepare_exit(self, symbol: str) -> None:
        """Before an exit: no own buy left open (a wash trade), no protective order holding the
        shares (cancelled first: its fill, if it came first, is recorded), and own shares as the
        broker holds them at this moment (long only: never sell more than the account holds)."""
        if self.orders.has_open and symbol in self.orders.pending_buys():
            await self.orders.cancels.cancel_buys(symbol)
        if self.orders.has_open and symbol in self.orders.protected_symbols():
            await self.orders.cancels.cancel_protection(symbol)
        if symbol in self.orders.pending_symbols():
            return  # an order of ours is still working: the risk manager refuses the exit
        held = await self.orders.broker_qty(symbol)
        own = self.portfolio.qty.get(symbol, 0)
        if held < own:
            log.warning(
                "position shrank outside the bot symbol=%s owned=%d broker=%d", symbol, own, held
            )
            self.portfolio.cap({symbol: held}, ())

    async def _send(self, approval: Approval, strategy: str, bar: Bar, now: datetime) -> None:
        intent = self.orders.make_intent(
            strategy, approval.symbol, approval.side, approval.qty, bar.timestamp
        )
        self.latency.order_decided()
        outcome = await self.orders.submit(intent, count_on=session_date(now))
        if approval.side is Side.BUY and outcome.sent:
            # What the broker now holds of buying power for it, until the account is re-read.
            value = market_order_ticks(to_ticks(bar.close))
            self.reserved_cash += cents_of(value, approval.qty) / 100

    def _refuse(self, refusal: Refusal) -> None:
        self.refusals[refusal.reason] += 1
        self.store.add_refusal(refusal)
        log.info(
            "refused symbol=%s side=%s reason=%s %s",
            refusal.symbol,
            refusal.side.value,
            refusal.reason,
            refusal.detail,
        )
