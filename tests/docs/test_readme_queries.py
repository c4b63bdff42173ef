"""README's database queries run on the store, and its open-orders query is the store's rule."""

from __future__ import annotations

import re
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fleece.intents import IntentStatus
from fleece.models import OrderIntent, Side
from fleece.state_store import StateStore

README = Path(__file__).resolve().parents[2] / "README.md"
T0 = datetime(2024, 11, 26, 15, 0, tzinfo=UTC)


def database_queries() -> list[str]:
    """The SQL of every ``sqlite3 data/trades.db "..."`` line under "Database queries"."""
    text = README.read_text("utf-8")
    section = re.search(r"^### Database queries\n+```bash\n(.*?)\n```", text, re.M | re.S)
    assert section, "README has no Database queries block"
    return re.findall(r'^sqlite3 data/trades\.db "(.*?)"', section.group(1), re.M)


def intent_in(status: IntentStatus, minute: int) -> OrderIntent:
    at = T0 + timedelta(minutes=minute)
    return OrderIntent(f"cid-{status.value}", "sma_crossover", "SPY", Side.BUY, 10, at, at)


def test_the_readme_open_orders_query_lists_what_the_store_calls_unfinished(
    tmp_path: Path,
) -> None:
    # Arrange: one intent in every status the lifecycle has.
    db = tmp_path / "trades.db"
    with StateStore(db) as store:
        for minute, status in enumerate(IntentStatus):
            store.add_intent(intent_in(status, minute), status)
        unfinished = {r.client_order_id for r in store.unfinished_intents()}
    (open_orders,) = [q for q in database_queries() if "status IN" in q]

    # Act
    with sqlite3.connect(db) as conn:
        listed = {row[0] for row in conn.execute(open_orders)}

    # Assert: partially filled orders are open too (the seed's three statuses left them out).
    assert listed == unfinished
    assert "cid-partially_filled" in listed


def test_every_readme_database_query_runs_on_a_new_store(tmp_path: Path) -> None:
    db = tmp_path / "trades.db"
    StateStore(db).close()

    with sqlite3.connect(db) as conn:
        for query in database_queries():
            conn.execute(query).fetchall()
