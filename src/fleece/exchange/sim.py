"""The simulated exchange: bars, a clock, the matching engine and the request counters.

Plans and tapes. The bars given are taken as the consolidated tape (``data_feed="sip"``), from
which the IEX tape is derived (:mod:`fleece.data.iex`, seeded by ``seed``); with
``data_feed="iex"`` the bars already are IEX bars and every feed serves them as they are. The
plan says what the account may read and which tape its orders fill on: on ``free`` (a new paper
account) ``feed=sip`` is refused for the last 15 minutes and orders fill on the IEX tape, the
bars the account reads, so that a backtest on the bars the bot was fed reproduces its fills; on
``unlimited`` orders fill on the full tape. :class:`SimExchange`'s own defaults (``unlimited``,
bars served as given) change nothing in what it is handed; :func:`build_exchange`, used by
``fleece exchange`` and ``FLEECE_MODE=sim``, defaults to the free plan on the IEX tape.

Every request goes through :meth:`SimExchange.synced`, which takes the lock (FastAPI runs sync
handlers in a thread pool), reads the simulated clock, skips closed nights when running at
speed, and brings the engine up to that instant before anything is read or changed. Processing
is therefore lazy and deterministic: the same bars, seed and request times give the same ids,
fills and balances.
"""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any, Protocol, TypedDict, Unpack

from fleece.accounting import OPENING_CASH, opening_cash_problem
from fleece.calendar import ONE_MINUTE, MarketCalendar
from fleece.clock import ScaledClock
from fleece.data.iex import iex_tape, publish_delay
from fleece.data.session import session_for
from fleece.data.synthetic import DEFAULT_SYNTHETIC_START
from fleece.errors import ConfigError
from fleece.exchange.assets import AssetBook
from fleece.exchange.engine import Engine
from fleece.exchange.market import BarStore
from fleece.exchange.orders import IdSource, OrderRequest, ReplaceRequest, SimOrder
from fleece.exchange.partial_fills import PaperPartialFills
from fleece.exchange.rate_limit import RateLimiter
from fleece.models import FEEDS, REQUESTS_PER_MINUTE, Bar

# The market is skipped over when it has been closed this long; the clock then lands this long
# before the next open, so a client sees the pre-open minutes and the open itself.
SKIP_AFTER_CLOSE = timedelta(minutes=5)
LAND_BEFORE_OPEN = timedelta(minutes=2)
# Without --start a synthetic market needs a fixed first day, so runs are reproducible.
# The request and submission counters by name, as the state file keeps them.
Counters = dict[str, dict[str, int]]
PLANS = ("free", "unlimited")
#: Alpaca's free plan allows SIP data only this far in the past.
SIP_DELAY = timedelta(minutes=15)


class SimClock(Protocol):
    """A clock the exchange can read and move forward (ScaledClock, ManualClock)."""

    def now(self) -> datetime:
        """The simulated current time (UTC)."""
        ...

    def advance(self, delta: timedelta) -> datetime:
        """Move forward by ``delta`` and return the new time."""
        ...


class MarketOptions(TypedDict, total=False):
    """The account's and the market's options, as :class:`SimExchange` takes (and describes)
    them; :func:`build_exchange` hands them on."""

    cash: float
    slippage_bps: float
    skip_closed: bool
    plan: str
    data_feed: str
    partial_fills: float
    inactive: Sequence[str]
    rate_limit: int
    late_bars: float


class SimExchange:
    """One simulated account trading over recorded or synthetic bars.

    Args:
        bars: 1-minute bars per symbol (sorted, UTC-aware bar starts).
        clock: the simulated clock; the engine starts at its current time.
        calendar: the market calendar (NYSE by default).
        cash: starting cash in dollars (more than 0).
        slippage_bps: market-order slippage in basis points.
        seed: seeds order ids, generated client_order_ids, the account id and the IEX tape.
        skip_closed: when the clock runs at speed, jump over nights and weekends.
        plan: ``free`` or ``unlimited`` (see the module docstring).
        data_feed: what ``bars`` are: ``sip`` (the IEX tape is derived) or ``iex`` (served as is).
        partial_fills: the fraction of fills split in two, 0 to 1
            (:mod:`fleece.exchange.partial_fills`).
        inactive: symbols whose asset is inactive (not tradable).
        rate_limit: requests per simulated minute (per API) before 429s.
        late_bars: the share of bars published :data:`~fleece.data.iex.LATE_BY` after their
            minute (Alpaca re-issues a bar with late trades about 30 s later); fills and marks
            are not delayed, only what the data API serves.
    """

    def __init__(
        self,
        bars: Mapping[str, Sequence[Bar]],
        *,
        clock: SimClock,
        calendar: MarketCalendar | None = None,
        cash: float = OPENING_CASH,
        slippage_bps: float = 0.0,
        seed: int = 0,
        skip_closed: bool = True,
        plan: str = "unlimited",
        data_feed: str = "iex",
        partial_fills: float = 0.0,
        inactive: Sequence[str] = (),
        rate_limit: int = REQUESTS_PER_MINUTE,
        late_bars: float = 0.0,
    ) -> None:
        if problem := opening_cash_problem(cash):
            raise ConfigError("exchange", "cash", problem)
        if not 0.0 <= partial_fills <= 1.0:
            raise ConfigError("exchange", "partial_fills", "must be between 0 and 1")
        _check_choice("plan", plan, PLANS)
        if not 0 <= late_bars <= 1:
            raise ConfigError("exchange", "late_bars", f"must be in [0, 1], got {late_bars}")
        self.late_bars = late_bars
        self.seed = seed
        _check_choice("data_feed", data_feed, FEEDS)
        if rate_limit < 1:
            raise ConfigError("exchange", "rate_limit", "must be at least 1 request a minute")
        self.calendar = calendar or MarketCalendar()
        self.plan = plan
        self.data_feed = data_feed
        # The clock is read through the exchange: a restored state file replaces it.
        self.limiter = RateLimiter(rate_limit, self._clock_now)
        full = BarStore(bars, self.calendar)
        iex = full if data_feed == "iex" else BarStore(iex_tape(bars, seed), self.calendar)
        #: What each ``feed`` serves.
        self.tapes = {"sip": full, "iex": iex}
        #: The tape the account's orders fill on and its positions are valued at.
        self.store = iex if plan == "free" else full
        self.assets = AssetBook(full.symbols, inactive)
        self.clock = clock
        self.created_at = clock.now()
        self.engine = Engine(
            self.store,
            self.calendar,
            start=self.created_at,
            cash_cents=round(cash * 100),
            slippage_bps=slippage_bps,
            ids=IdSource(seed),
            assets=self.assets,
        )
        if partial_fills:
            self.engine.partial_fills = PaperPartialFills(partial_fills, seed)
        self.account_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"fleece-exchange/account/{seed}"))
        self.account_number = f"PA{abs(seed) % 10**10:010d}"
        self._skip = skip_closed and isinstance(clock, ScaledClock) and clock.speed > 0
        # Re-entrant: a caller holding synced() may still call submit(), advance() or state().
        self._lock = threading.RLock()
        self._requests: Counter[str] = Counter()
        self._submissions: Counter[str] = Counter()

    @contextmanager
    def synced(self) -> Iterator[datetime]:
        """Hold the lock with the engine brought up to the simulated now; yield that now."""
        with self._lock:
            yield self._sync()

    def published(self, bar: Bar, now: datetime) -> bool:
        """True once ``bar`` is published at ``now`` (its minute closed, and any delay passed)."""
        delay = publish_delay(bar, self.seed, self.late_bars)
        return bar.timestamp + ONE_MINUTE + delay <= now

    def _sync(self) -> datetime:
        now = self.clock.now()
        cal = self.calendar
        if self._skip and not cal.is_open(now) and not cal.is_open(now - SKIP_AFTER_CLOSE):
            target = cal.next_open(now) - LAND_BEFORE_OPEN
            if target > now:
                now = self.clock.advance(target - now)
        self.engine.advance_to(now)
        return now

    def _clock_now(self) -> datetime:
        return self.clock.now()

    def default_feed(self) -> str:
        """The feed a request without ``feed`` reads: the best the plan allows."""
        return "iex" if self.plan == "free" else "sip"

    def advance(self, minutes: float) -> datetime:
        """Move the clock forward by ``minutes`` (the stepped mode) and process what is due."""
        if minutes < 0:
            raise ValueError("minutes must be >= 0")
        with self._lock:
            self.clock.advance(timedelta(minutes=minutes))
            return self._sync()

    def submit(self, request: OrderRequest) -> SimOrder:
        """Submit an order now, counting the attempt per client_order_id (even if refused)."""
        with self.synced():
            if request.client_order_id is not None:
                self._submissions[request.client_order_id] += 1
            order = self.engine.submit(request)
            if request.client_order_id is None:
                self._submissions[order.client_order_id] += 1
            return order

    def replace(self, order_id: str, change: ReplaceRequest) -> SimOrder:
        """Replace an open order now (``PATCH``), counting the new client_order_id's attempt."""
        with self.synced():
            if change.client_order_id is not None:
                self._submissions[change.client_order_id] += 1
            order = self.engine.replace(order_id, change)
            if change.client_order_id is None:
                self._submissions[order.client_order_id] += 1
            return order

    def export_counters(self) -> Counters:
        """The request and submission counters (saved by :mod:`fleece.exchange.state_file`)."""
        with self._lock:
            return {"requests": dict(self._requests), "submissions": dict(self._submissions)}

    def import_counters(self, saved: Counters) -> None:
        """Restore what :meth:`export_counters` returned (after a restart)."""
        with self._lock:
            self._requests = Counter(dict(saved.get("requests", {})))
            self._submissions = Counter(dict(saved.get("submissions", {})))

    def count_request(self, route: str) -> None:
        """Count one request to ``route`` (e.g. ``"GET /v2/account"``)."""
        with self._lock:
            self._requests[route] += 1

    def state(self) -> dict[str, Any]:
        """The simulated now and the counters (``GET /v1/sim/state``).

        ``orders_submitted`` counts every order accepted (including those the close-position
        routes create); ``client_order_id_submissions`` counts every ``POST /v2/orders``
        attempt per client_order_id, refused ones included, so a resubmission always shows.
        """
        with self.synced() as now:
            return {
                "now": now.isoformat().replace("+00:00", "Z"),
                "speed": getattr(self.clock, "speed", 0.0),
                "symbols": list(self.store.symbols),
                "requests": dict(sorted(self._requests.items())),
                "orders_submitted": self.engine.order_count,
                "client_order_id_submissions": dict(self._submissions),
                "plan": self.plan,
                "rate_limited": self.limiter.counts(),
            }


def build_exchange(
    symbols: Sequence[str] | None = None,
    *,
    data_dir: Path | None = None,
    synthetic: bool = False,
    start: date | datetime | None = None,
    days: int = 5,
    speed: float = 1.0,
    seed: int = 0,
    paused: bool = False,
    **options: Unpack[MarketOptions],
) -> SimExchange:
    """Build an exchange over a directory of bar files or over synthetic bars.

    Args:
        symbols: the symbols to trade (all files of ``data_dir`` when None; required if synthetic).
        data_dir: a directory of ``<SYMBOL>.csv``/``.parquet`` minute bars.
        synthetic: generate ``days`` sessions of bars instead (seeded by ``seed``).
        start: a day (the clock starts at that session's open, or the next one's) or an instant;
            by default the first session with regular bars (synthetic: 2024-01-02).
        days: sessions of synthetic bars.
        speed: simulated seconds per real second; 0 stands still until advanced.
        seed: seeds synthetic bars and every id.
        paused: the clock holds still at its start until ``exchange.clock.resume()``.
        options: the account and the market (:class:`MarketOptions`, see :class:`SimExchange`),
            except that the plan is ``free`` (a new paper account: IEX in real time, fills on
            the IEX tape) and the bars are the consolidated tape (``data_feed="sip"``) unless
            told otherwise.

    Raises:
        ConfigError: (one line) contradictory or missing arguments, or no usable bars.
        DataError: the bar files cannot be read.
    """
    if (data_dir is None) == (not synthetic):
        raise ConfigError("exchange", "data", "give exactly one of a data directory or synthetic")
    if speed < 0:
        raise ConfigError("exchange", "speed", "must be >= 0")
    calendar = MarketCalendar()
    bars = _load(symbols, data_dir, start, days, seed)
    if not bars:
        raise ConfigError("exchange", "data", "no bars for the requested symbols")
    begin = _start_instant(start, bars, calendar)
    options.setdefault("plan", "free")
    options.setdefault("data_feed", "sip")
    clock = ScaledClock(begin, speed, paused=paused)
    return SimExchange(bars, clock=clock, calendar=calendar, seed=seed, **options)


def _check_choice(name: str, value: str, allowed: Sequence[str]) -> None:
    if value not in allowed:
        raise ConfigError("exchange", name, f"must be one of {', '.join(allowed)}; got {value!r}")


def _load(
    symbols: Sequence[str] | None,
    data_dir: Path | None,
    start: date | datetime | None,
    days: int,
    seed: int,
) -> dict[str, list[Bar]]:
    if data_dir is not None:
        # Lazily: pyarrow is slow to import.
        from fleece.data.importer import load_bars_dir, log_problems

        result = load_bars_dir(data_dir, symbols)
        log_problems(result.problems, data_dir)
        return result.bars
    if not symbols:
        raise ConfigError("exchange", "symbols", "synthetic bars need at least one symbol")
    if days < 1:
        raise ConfigError("exchange", "days", "must be >= 1")
    from fleece.data.synthetic import generate_bars

    first = start.date() if isinstance(start, datetime) else (start or DEFAULT_SYNTHETIC_START)
    return generate_bars(symbols, first, days, seed)


def _start_instant(
    start: date | datetime | None, bars: Mapping[str, Sequence[Bar]], calendar: MarketCalendar
) -> datetime:
    if isinstance(start, datetime):
        if start.tzinfo is None:
            raise ConfigError("exchange", "start", "an instant must be timezone-aware")
        return start.astimezone(UTC)
    if start is None:
        firsts = [_first_regular(series, calendar) for series in bars.values()]
        first = min((ts for ts in firsts if ts is not None), default=None)
        if first is None:
            raise ConfigError("exchange", "data", "no regular-session bars to trade")
        return calendar.next_session(first).open
    return calendar.next_session(datetime.combine(start, time(0), tzinfo=UTC)).open


def _first_regular(series: Sequence[Bar], calendar: MarketCalendar) -> datetime | None:
    return next((b.timestamp for b in series if session_for(b.timestamp, calendar)), None)
