"""What only the running bot knows, gathered for the read model (:mod:`fleece.read_model`)."""

from __future__ import annotations

from fleece.broker import Broker
from fleece.read_model import Activity, LiveFacts
from fleece.stream_polling import BarPoller
from fleece.trader import Trader


def live_facts(
    trader: Trader,
    poller: BarPoller | None,
    broker: Broker | None,
    *,
    bars: int,
    symbols: tuple[str, ...],
    simulated_time: bool,
) -> LiveFacts:
    """The trader's account, holdings, prices and state, the poller's times, the counters."""
    account = trader.account
    state, why = trader.state
    return LiveFacts(
        state=state,
        state_reason=why,
        breaker_tripped=trader.breaker.tripped,
        breaker_failures=trader.breaker.consecutive,
        equity=account.equity if account else None,
        cash=account.cash if account else None,
        buying_power=account.buying_power if account else None,
        last_equity=account.last_equity if account else None,
        holdings=dict(trader.portfolio.qty),
        last_prices=dict(trader.last_price),
        last_bar_at=poller.last_bar_at if poller else None,
        last_poll_at=poller.last_success if poller else None,
        symbols=symbols,
        simulated_time=simulated_time,
        activity=Activity(
            polls=poller.polls if poller else 0,
            bars=bars,
            signals=trader.signals,
            orders_submitted=trader.orders.submitted,
            refusals=sum(trader.refusals.values()),
            requests=dict(broker.requests) if broker else {},
            errors=dict(broker.errors) if broker else {},
            skipped_bars=dict(poller.skipped) if poller else {},
        ),
    )
