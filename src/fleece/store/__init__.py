"""The bot's SQLite store, one module per aggregate behind one facade.

:class:`fleece.store.facade.StateStore` (also importable as ``fleece.state_store.StateStore``)
joins the parts: :mod:`~fleece.store.orders` (order intents), :mod:`~fleece.store.fills`
(trades), :mod:`~fleece.store.equity` (equity curve, session counters),
:mod:`~fleece.store.flags` (kill switch, breaker, trading state, operator commands),
:mod:`~fleece.store.bars` and :mod:`~fleece.store.journal` (refusals, runs, heartbeats,
reconciliation), over one connection (:mod:`~fleece.store.connection`) and one schema
(:mod:`~fleece.store.schema`, where the migrations stay, in order). The rules of an intent's
life are the domain's (:mod:`fleece.intents`), shared with the backtest's in-memory store.
"""
