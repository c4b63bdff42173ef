"""``fleece replay DAY``: run a live day's recorded bars through the backtest and compare decisions.

The bot keeps every bar it acted on (``bars``), every order intent (``order_intents``), every fill
(``trades``), equity snapshots and its runs. A replay rebuilds the day's starting point from them
(the cash of the last equity snapshot before the open, the positions the fills before the open
add up to), warms the strategy on the recorded bars before the open, then replays the day through
the backtest path: the same strategy, risk manager and order manager, fills by the exchange's
engine. Every decision (an order intent of the strategy, identified by its deterministic
client_order_id) that the bot took and the replay did not, or the other way round, or that
differs in size, is reported. Only minutes when the bot was running (its recorded runs) are
compared, so a bot started at noon is not blamed for the morning.

It catches what unit tests cannot see on real days: clock and session mistakes, missed or
duplicated bars, state that drifted. Sizes can differ for an honest reason (live fills are not
the simulated ones, so equity drifts by a few dollars); they are reported apart.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta

from fleece.accounting import cash_flow_cents, signed_qty
from fleece.backtest.data import market_from_bars
from fleece.backtest.runner import BacktestConfig, run_backtest
from fleece.calendar import ONE_MINUTE, MarketCalendar, Session
from fleece.errors import DataError
from fleece.models import Bar, Fill, Side, to_ticks
from fleece.runtime_times import CALENDAR_DAYS_BACK, backfill_start
from fleece.state_store import IntentRecord, StateStore

NOT_REPLAYED = "not_replayed"  # the bot decided, the replay did not
NOT_IN_BOT = "not_in_bot"  # the replay decided, the bot did not
QTY = "qty"  # both decided, with different sizes


@dataclass(frozen=True, slots=True)
class Decision:
    """One order the strategy asked for: what, how many, on which bar."""

    client_order_id: str
    symbol: str
    side: Side
    qty: int
    signal_timestamp: datetime


@dataclass(frozen=True, slots=True)
class Difference:
    """A decision the bot and the replay do not share (``kind``: not_replayed, not_in_bot, qty)."""

    kind: str
    client_order_id: str
    symbol: str
    side: Side
    signal_timestamp: datetime
    bot_qty: int | None
    replay_qty: int | None

    def line(self) -> str:
        """One line for the terminal."""
        what = {
            NOT_REPLAYED: "the bot decided, the replay did not",
            NOT_IN_BOT: "the replay decided, the bot did not",
            QTY: f"size differs: bot {self.bot_qty}, replay {self.replay_qty}",
        }[self.kind]
        return (
            f"{self.signal_timestamp:%H:%M}Z {self.symbol} {self.side.value}: {what} "
            f"({self.client_order_id})"
        )


@dataclass(frozen=True)
class ReplayReport:
    """What a replay compared and found.

    Attributes:
        day: the session replayed.
        bars: regular-session bars of the day replayed.
        bot: the bot's decisions in the compared windows.
        replay: the replay's decisions in the compared windows.
        differences: every difference, in time order.
        windows: the stretches of the session when the bot was running.
        start_cash: cash at the open, from the last equity snapshot before it.
        start_positions: positions at the open, from the fills before it.
    """

    day: date
    bars: int
    bot: list[Decision]
    replay: list[Decision]
    differences: list[Difference]
    windows: list[tuple[datetime, datetime]]
    start_cash: float
    start_positions: dict[str, int]

    @property
    def decisions_differ(self) -> bool:
        """True when an order was taken by one side only (sizes aside)."""
        return any(d.kind != QTY for d in self.differences)


def _decision(record: IntentRecord) -> Decision:
    return Decision(
        record.client_order_id, record.symbol, record.side, record.qty, record.signal_timestamp
    )


def positions_before(fills: Sequence[Fill], instant: datetime) -> dict[str, int]:
    """Shares held at ``instant`` according to the recorded ``fills``."""
    held: defaultdict[str, int] = defaultdict(int)
    for fill in fills:
        if fill.timestamp < instant:
            held[fill.symbol] += signed_qty(fill.side, fill.qty)
    return {s: q for s, q in sorted(held.items()) if q > 0}


def cash_before(
    store: StateStore, fills: Sequence[Fill], instant: datetime, until: datetime
) -> float:
    """Cash at ``instant``: the last equity snapshot before it, else one taken later.

    A store's first session has no snapshot before its open (the bot snapshots once a minute
    after it). Cash moves only with fills, so the first snapshot up to ``until`` (the session's
    close) gives it with the ``fills`` between ``instant`` and the snapshot undone, to the cent as
    the exchange books them.

    Raises:
        DataError: no snapshot before ``instant`` nor before ``until``.
    """
    recent = store.equity_curve(instant - timedelta(days=14))
    earlier = [s for s in recent if s.timestamp < instant]
    if earlier:
        return earlier[-1].cash
    later = [s for s in recent if s.timestamp <= until]
    if not later:
        raise DataError(
            f"no equity snapshot in the two weeks before {instant:%Y-%m-%d %H:%M}Z nor in that "
            "session: the starting cash is unknown (give --cash)"
        )
    first = later[0]
    cents = round(first.cash * 100)
    for fill in fills:
        if instant <= fill.timestamp <= first.timestamp:
            cents -= cash_flow_cents(fill.side, to_ticks(fill.price), fill.qty)  # undone
    return cents / 100


def running_windows(store: StateStore, session: Session) -> list[tuple[datetime, datetime]]:
    """The parts of ``session`` when the bot was running (the whole session if unrecorded)."""
    runs = store.runs(limit=100_000)
    if not runs:
        return [(session.open, session.close)]
    windows = []
    for run in sorted(runs, key=lambda r: r.started_at):
        start = max(run.started_at, session.open)
        stop = min(run.stopped_at or session.close, session.close)
        if start < stop:
            windows.append((start, stop))
    return windows


def _inside(decision: Decision, windows: list[tuple[datetime, datetime]]) -> bool:
    decided = decision.signal_timestamp + ONE_MINUTE  # decided once its bar had closed
    return any(start <= decided <= stop for start, stop in windows)


def compare(bot: list[Decision], replayed: list[Decision]) -> list[Difference]:
    """Every decision taken by one side only, or sized differently, in time order.

    Decisions are matched on what they are (symbol, side, signal bar), not on their stored id,
    so a record whose side or bar was changed shows as two differences.
    """

    def key(d: Decision) -> tuple[str, Side, datetime]:
        return (d.symbol, d.side, d.signal_timestamp)

    ours = {key(d): d for d in bot}
    theirs = {key(d): d for d in replayed}
    found: list[Difference] = []
    for k in ours.keys() | theirs.keys():
        b, r = ours.get(k), theirs.get(k)
        d = b or r
        assert d is not None
        if b is None or r is None or b.qty != r.qty:
            kind = NOT_IN_BOT if b is None else NOT_REPLAYED if r is None else QTY
            found.append(
                Difference(
                    kind,
                    d.client_order_id,
                    d.symbol,
                    d.side,
                    d.signal_timestamp,
                    b.qty if b else None,
                    r.qty if r else None,
                )
            )
    return sorted(found, key=lambda x: (x.signal_timestamp, x.symbol, x.side, x.kind))


def replay_day(
    store: StateStore,
    day: date,
    config: BacktestConfig,
    *,
    cash: float | None = None,
    calendar: MarketCalendar | None = None,
) -> ReplayReport:
    """Replay ``day`` from the bot's store and compare its decisions with the bot's.

    Args:
        store: the bot's state store.
        day: the session to replay.
        config: limits and windows (its cash is replaced by the day's starting cash).
        cash: the cash at the open; None takes it from the store (:func:`cash_before`).
        calendar: the market calendar (NYSE by default).

    Raises:
        DataError: not a trading day, no bars recorded for it, or the starting state unknown.
    """
    cal = calendar or MarketCalendar()
    session = cal.session(day)
    if session is None:
        raise DataError(f"{day}: not a trading day")
    # The history the live bot's warm-up loads at the open (fleece.runtime_times), which the
    # strategy's state depends on, whatever its window.
    window = MarketCalendar.from_days(cal.sessions(day - CALENDAR_DAYS_BACK, day))
    first_open = backfill_start(window, session.open, config.strategy.warmup)
    # What the strategy was fed: a late bar (its minute already judged empty) never was.
    recorded = store.bars_between(
        None, first_open - timedelta(hours=6), session.close, fed_only=True
    )
    of_day = [b for b in recorded if session.contains(b.timestamp)]
    if not of_day:
        raise DataError(f"{day}: no bars recorded for that session")
    by_symbol: dict[str, list[Bar]] = defaultdict(list)
    for bar in recorded:
        by_symbol[bar.symbol].append(bar)
    fills = store.fills()
    start_cash = (
        cash if cash is not None else cash_before(store, fills, session.open, session.close)
    )
    held = positions_before(fills, session.open)
    result = run_backtest(
        market_from_bars(by_symbol, cal),
        replace(config, cash=start_cash, mode="fast"),
        start_at=session.open,
        holdings=held,
    )
    windows = running_windows(store, session)
    name = config.strategy.name  # the configured strategy's decisions, whichever it is
    bot = [
        _decision(r)
        for r in store.all_intents()
        if r.strategy == name and session.contains(r.signal_timestamp)
    ]
    replayed = [_decision(r) for r in result.intents if r.strategy == name]
    bot = [d for d in bot if _inside(d, windows)]
    replayed = [d for d in replayed if _inside(d, windows)]
    return ReplayReport(
        day=day,
        bars=len(of_day),
        bot=bot,
        replay=replayed,
        differences=compare(bot, replayed),
        windows=windows,
        start_cash=start_cash,
        start_positions=held,
    )
