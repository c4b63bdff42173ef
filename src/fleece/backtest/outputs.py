"""The files a backtest writes: ``trades.csv``, ``equity.csv``, ``stats.json`` (and the report).

Every file is a function of the inputs only (no wall-clock time, no run duration, no path), so
the same bars, config and options give the same bytes: ``stats.json`` carries what was run and
what came out, never how long it took.
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from fleece.accounting import cents_text
from fleece.backtest.equity import EquityCurve
from fleece.backtest.runner import BacktestResult
from fleece.backtest.stats import Stats, compute_stats
from fleece.exchange.schemas import price
from fleece.protection import fill_reasons
from fleece.state_store import format_ts

TRADES_CSV = "trades.csv"
EQUITY_CSV = "equity.csv"
STATS_JSON = "stats.json"
REPORT_HTML = "report.html"
TRADES_HEADER = ("timestamp_utc", "symbol", "side", "qty", "price", "client_order_id")
EQUITY_HEADER = ("timestamp_utc", "equity", "cash")


def write_trades_csv(result: BacktestResult, path: Path) -> None:
    """One row per fill: ``timestamp_utc,symbol,side,qty,price,client_order_id``."""
    with path.open("w", newline="", encoding="utf-8") as f:
        out = csv.writer(f, lineterminator="\n")
        out.writerow(TRADES_HEADER)
        for fill in result.fills:
            out.writerow(
                (
                    format_ts(fill.timestamp),
                    fill.symbol,
                    fill.side.value,
                    fill.qty,
                    price(fill.price),
                    fill.client_order_id,
                )
            )


def utc_stamps(seconds: np.ndarray) -> list[str]:
    """Whole epoch seconds as the ``timestamp_utc`` of every file a backtest or a sweep writes:
    the store's form (:func:`~fleece.state_store.format_ts`), made with numpy."""
    whole = np.datetime_as_string(np.asarray(seconds).astype("datetime64[s]"), unit="s")
    return [f"{stamp}.000000Z" for stamp in whole.tolist()]


def write_equity_csv(curve: EquityCurve, path: Path) -> None:
    """One row per minute close of every session: ``timestamp_utc,equity,cash``
    (:func:`utc_stamps`: every instant of the curve is a whole second)."""
    with path.open("w", newline="", encoding="utf-8") as f:
        f.write(",".join(EQUITY_HEADER) + "\n")
        f.writelines(
            f"{stamp},{cents_text(equity)},{cents_text(cash)}\n"
            for stamp, equity, cash in zip(
                utc_stamps(curve.ts), curve.equity.tolist(), curve.cash.tolist(), strict=True
            )
        )


def run_summary(result: BacktestResult) -> dict[str, Any]:
    """What was run, as recorded in ``stats.json``."""
    cfg = result.config
    limits = cfg.limits
    reasons = fill_reasons(result.fills, result.intents).values()
    days = [s.day.isoformat() for s in result.sessions]
    return {
        "symbols": list(result.market.symbols),
        "first_session": days[0] if days else None,
        "last_session": days[-1] if days else None,
        "cash": cfg.cash,
        "slippage_bps": cfg.slippage_bps,
        "strategy": {"name": cfg.strategy.name, **cfg.strategy.params.model_dump()},
        "risk": {
            "max_position_pct": limits.max_position_pct,
            "max_daily_loss_pct": limits.max_daily_loss_pct,
            "max_trades_per_day": limits.max_trades_per_day,
            "max_concurrent_positions": limits.max_concurrent_positions,
            "circuit_breaker_failures": limits.circuit_breaker_failures,
        },
        "stale_order_minutes": cfg.stale_order_minutes,
        "bars": result.market.bar_count,
        "regular_bars": result.bars,
        "signals": result.signals,
        "orders": len(result.intents),
        "orders_by_status": dict(sorted(Counter(i.status.value for i in result.intents).items())),
        "refusals_by_reason": dict(sorted(Counter(r.reason for r in result.refusals).items())),
        "protection": {
            "stop_loss_pct": cfg.protection.stop_loss_pct,
            "take_profit_pct": cfg.protection.take_profit_pct,
            "trailing_stop_pct": cfg.protection.trailing_stop_pct,
            "mode": cfg.protection.mode,
        },
        "protective_exits": dict(sorted(Counter(r.value for r in reasons).items())),
    }


def write_stats_json(result: BacktestResult, stats: Stats, path: Path) -> None:
    """The run's description and its statistics, as sorted, indented JSON."""
    body = {"run": run_summary(result), "stats": stats.to_dict()}
    path.write_text(json.dumps(body, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def write_outputs(result: BacktestResult, out_dir: Path, *, report: bool = True) -> Stats:
    """Write the four outputs of a run into ``out_dir`` (created if missing).

    Returns:
        The statistics written to ``stats.json``.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    stats = compute_stats(result.equity, result.fills, result.initial_cents)
    write_trades_csv(result, out_dir / TRADES_CSV)
    write_equity_csv(result.equity, out_dir / EQUITY_CSV)
    write_stats_json(result, stats, out_dir / STATS_JSON)
    if report:
        from fleece.backtest.report import write_report

        write_report(result, stats, out_dir / REPORT_HTML)
    return stats
