"""A stopped bot's store as the viewers read it (``fleece status``, the read model): shared by
their specs instead of each pasting the same config, fills and bars.

A real ``trading.yaml`` and a real SQLite store in the test's folder; no bot process.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

from fleece.config import AppConfig, load_config
from fleece.models import Bar, OrderIntent, Side
from fleece.state_store import StateStore

NOW = datetime(2024, 11, 26, 15, 0, tzinfo=UTC)  # a Tuesday, 10:00 in New York: market open
DAY = date(2024, 11, 26)
TRADING_YAML = """\
symbols:
  list: [AAPL, MSFT]
risk:
  max_trades_per_day: 20
  max_daily_loss_pct: {max_daily_loss_pct}
  circuit_breaker_failures: 5
housekeeping:
  heartbeat_seconds: 60
"""


def config_in(
    folder: Path, mode: str = "paper", max_daily_loss_pct: str = "0.05", kill_switch: bool = False
) -> AppConfig:
    """The bot's configuration with its ``trading.yaml`` and store in ``folder``."""
    (folder / "trading.yaml").write_text(TRADING_YAML.format(max_daily_loss_pct=max_daily_loss_pct))
    environ = {
        "FLEECE_MODE": mode,
        "DATABASE_PATH": str(folder / "data" / "trades.db"),
        "CONFIG_PATH": str(folder / "trading.yaml"),
        "KILL_SWITCH": "true" if kill_switch else "false",
    }
    return load_config(None, environ, require_keys=False)


def store_of(config: AppConfig) -> StateStore:
    """The store ``config`` names (created on first open)."""
    return StateStore(Path(config.settings.database_path))


def fill(store: StateStore, symbol: str, side: Side, qty: int, price: float, at: datetime) -> None:
    """One of the bot's orders, filled whole at ``price``."""
    cid = f"test-{symbol}-{side.value}-{at:%H%M%S}"
    store.add_intent(OrderIntent(cid, "test", symbol, side, qty, at, at))
    store.record_fill(cid, "b-" + cid, symbol, side, qty, price, at)


def bar(store: StateStore, symbol: str, close: float, at: datetime) -> None:
    """A stored minute bar of ``symbol`` that opened, stayed and closed at ``close``."""
    store.add_bars([Bar(symbol, at, close, close, close, close, 100)])
