"""The fast path of a strategy with a vectorised one: cycles only where something can happen.

The strategy's vectorised path finds each symbol's candidate minutes first
(:mod:`fleece.backtest.signals`: where it would enter if flat and exit if holding); the polling
cycle then runs at a candidate minute that can signal given what the trader holds, and every
minute while an order is open; the minutes it skips are checked for the daily loss line
(:mod:`fleece.backtest.loss_scan`: numpy finds where the equity could have reached it, the
trader itself decides). Tests hold it equal to the exact path.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from fleece.backtest.loss_scan import LossScanner
from fleece.backtest.signals import Candidates, CandidateSignals, find_candidates
from fleece.minute_grid import MINUTE_S
from fleece.models import Bar

if TYPE_CHECKING:
    from fleece.backtest.run_view import RunView


async def run_vectorised(run: RunView) -> None:
    """Cycles at candidate bars and while orders are open; skipped minutes are scanned."""
    await run._seed()
    if not len(run.grid):
        return
    assert isinstance(run.strategy, CandidateSignals)
    cands = find_candidates(run.market, run.minute_grid, run.strategy.base)
    opens = np.array([int(s.open.timestamp()) for s in run.sessions], dtype=np.int64)
    fixed = np.union1d(np.unique(cands.decide_at), opens)
    first = int(run.grid[0]) - MINUTE_S
    if run.start_at is not None:
        first = max(first, run.start_at)
        fixed = fixed[fixed > first]
    scanner = LossScanner(run)
    # Candidates of instant fixed[n] are cands[ends[n - 1]:ends[n]].
    starts = np.searchsorted(cands.decide_at, fixed, "left").tolist()
    ends = np.searchsorted(cands.decide_at, fixed, "right").tolist()
    last = first
    total = len(fixed)
    for n, at in enumerate(fixed.tolist()):
        if run.orders.has_open:
            last = await _open_order_minutes(run, last, at, scanner)
        a, b = starts[n], ends[n]
        # An order still open now may fill in this very cycle (its refresh comes before the
        # bars), changing what is held: then every candidate goes to the trader, whose own
        # holding test decides after the refresh, as the bot's does.
        polled = run.orders.has_open
        bars, ups = _live_candidates(run, cands, a, b, polled) if b > a else ([], [])
        if bars or polled:
            scanner.scan(last, at, inclusive=False)
            await run.cycle(at, bars, ups)
        else:
            scanner.scan(last, at, inclusive=True)
        last = at
        if run.progress is not None and n % 2000 == 0:
            run.progress(n / total)
    end = int(run.grid[-1])
    last = await _open_order_minutes(run, last, end + MINUTE_S, scanner)
    scanner.scan(last, end, inclusive=True)
    run.broker.advance_to(run.at(max(end, last)))


async def _open_order_minutes(run: RunView, last: int, until: int, scanner: LossScanner) -> int:
    """While an order is open, poll every minute (as the bot does) before ``until``."""
    grid = run.grid
    while run.orders.has_open:
        i = int(np.searchsorted(grid, last, "right"))
        if i >= len(grid) or grid[i] >= until:
            break
        at = int(grid[i])
        scanner.scan(last, at, inclusive=False)
        await run.cycle(at, [], [])
        last = at
    return last


def _live_candidates(
    run: RunView, cands: Candidates, a: int, b: int, every: bool = False
) -> tuple[list[Bar], list[bool]]:
    """The candidate minutes of one instant that can signal given what the trader holds.

    The test is the trader's own: a symbol counts as held when a position is held or a buy
    is pending. An entry candidate while held, or an exit candidate while flat, makes the
    strategy return None, so the trader is not called for it. With ``every`` (holdings may
    change before the bars are seen) nothing is left out.
    """
    bars: list[Bar] = []
    ups: list[bool] = []
    held = run.trader.portfolio.qty
    pending = run.orders.pending_buys() if run.orders.has_open else frozenset()
    for j in range(a, b):
        symbol = cands.names[j]
        holding = held.get(symbol, 0) > 0 or symbol in pending
        up = cands.ups[j]
        if every or up != holding:
            bars.append(cands.bar(j, run.market))
            ups.append(up)
    return bars, ups
