"""The persisted safety state (kill switch, breaker, latch, trading state) and operator commands."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from fleece.models import TradingState
from fleece.store.connection import StoreBase
from fleece.store.schema import format_ts, from_row

# bot_state keys.
KEY_TRADING_STATE = "trading_state"
KEY_KILL_SWITCH = "kill_switch"
KEY_BREAKER = "circuit_breaker"
KEY_REDUCING_LATCH = "reducing_latch"

#: An operator command's statuses (:mod:`fleece.control.commands`): waiting for the bot to
#: claim it, being executed, and the final ones, the only ones with a ``finished_at``.
COMMAND_WAITING = frozenset({"pending", "running"})
COMMAND_FINAL = frozenset({"done", "failed", "refused", "expired"})


def _finished_at(status: str, now: datetime) -> str | None:
    return format_ts(now) if status in COMMAND_FINAL else None


@dataclass(frozen=True, slots=True)
class CommandRecord:
    """An operator command: who asked for what, from where, and what came of it."""

    id: int
    requested_at: datetime
    source: str
    sender: str
    command: str
    args: str
    status: str
    result: str | None
    finished_at: datetime | None


def _command_from_row(r: sqlite3.Row) -> CommandRecord:
    return from_row(CommandRecord, r)


class Flags(StoreBase):
    """The ``bot_state`` and ``commands`` tables."""

    def get_state(self, key: str, default: str | None = None) -> str | None:
        """Return the ``bot_state`` value of ``key``, or ``default``."""
        rows = self._read("SELECT value FROM bot_state WHERE key = ?", (key,))
        return str(rows[0][0]) if rows else default

    def set_state(self, key: str, value: str, now: datetime) -> None:
        """Set the ``bot_state`` value of ``key``."""
        with self._write() as conn:
            conn.execute(
                "INSERT INTO bot_state (key, value, updated_at_utc) VALUES (?, ?, ?)"
                " ON CONFLICT (key) DO UPDATE SET value = excluded.value,"
                " updated_at_utc = excluded.updated_at_utc",
                (key, value, format_ts(now)),
            )

    def _get_json(self, key: str) -> dict[str, Any]:
        text = self.get_state(key)
        if text is None:
            return {}
        value = json.loads(text)
        return value if isinstance(value, dict) else {}

    def _set_json(self, key: str, value: dict[str, Any], now: datetime) -> None:
        self.set_state(key, json.dumps(value, sort_keys=True), now)

    def kill_switch(self) -> tuple[bool, str]:
        """Return (engaged, who/why); (False, "") if never set."""
        value = self._get_json(KEY_KILL_SWITCH)
        return bool(value.get("on", False)), str(value.get("reason", ""))

    def set_kill_switch(self, on: bool, reason: str, now: datetime) -> None:
        """Engage or release the kill switch, saying who and why."""
        self._set_json(KEY_KILL_SWITCH, {"on": on, "reason": reason}, now)

    def breaker(self) -> tuple[bool, int]:
        """Return (tripped, consecutive failures) of the circuit breaker; (False, 0) if unset."""
        value = self._get_json(KEY_BREAKER)
        return bool(value.get("tripped", False)), int(value.get("consecutive", 0))

    def set_breaker(self, tripped: bool, consecutive: int, now: datetime) -> None:
        """Persist the circuit breaker's state."""
        self._set_json(KEY_BREAKER, {"tripped": tripped, "consecutive": consecutive}, now)

    def reducing_latch(self) -> date | None:
        """Return the session date the daily-loss latch was set for, or None if clear."""
        day = self._get_json(KEY_REDUCING_LATCH).get("session_date")
        return date.fromisoformat(day) if day else None

    def set_reducing_latch(self, day: date | None, now: datetime) -> None:
        """Latch REDUCING for session ``day`` (None clears it)."""
        self._set_json(KEY_REDUCING_LATCH, {"session_date": day.isoformat() if day else None}, now)

    def trading_state(self) -> tuple[TradingState, str]:
        """Return the persisted trading state and why; (ACTIVE, "") if never set."""
        value = self._get_json(KEY_TRADING_STATE)
        return TradingState(value.get("state", TradingState.ACTIVE)), str(value.get("why", ""))

    def set_trading_state(self, state: TradingState, why: str, now: datetime) -> None:
        """Persist the trading state and the reason for it."""
        self._set_json(KEY_TRADING_STATE, {"state": state.value, "why": why}, now)

    # -- operator commands (fleece.control) -------------------------------------------------

    def add_command(  # noqa: PLR0917 (one row's columns)
        self,
        now: datetime,
        source: str,
        sender: str,
        command: str,
        args: str = "",
        status: str = "pending",
        result: str | None = None,
    ) -> int:
        """Record a command (``pending`` ones wait for the running bot); returns its id."""
        finished = _finished_at(status, now)
        with self._write() as conn:
            cursor = conn.execute(
                "INSERT INTO commands (requested_at_utc, source, sender, command, args, status,"
                " result, finished_at_utc) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (format_ts(now), source, sender, command, args, status, result, finished),
            )
            return int(cursor.lastrowid or 0)

    def set_command_status(
        self, command_id: int, status: str, result: str | None, now: datetime, *, was: str
    ) -> bool:
        """Move command ``command_id`` from status ``was`` to ``status``; False if it was not
        in ``was`` (someone else moved it first: the bot claimed it, or the CLI gave up)."""
        finished = _finished_at(status, now)
        with self._write() as conn:
            cursor = conn.execute(
                "UPDATE commands SET status = ?, result = ?, finished_at_utc = ?"
                " WHERE id = ? AND status = ?",
                (status, result, finished, command_id, was),
            )
            return cursor.rowcount == 1

    def command(self, command_id: int) -> CommandRecord | None:
        """Return one command, or None."""
        rows = self._read("SELECT * FROM commands WHERE id = ?", (command_id,))
        return _command_from_row(rows[0]) if rows else None

    def commands(self, status: str | None = None, limit: int = 100) -> list[CommandRecord]:
        """Return the latest ``limit`` commands (with ``status`` if given), oldest first."""
        rows = self._read(
            "SELECT * FROM (SELECT * FROM commands WHERE status = COALESCE(?, status)"
            " ORDER BY id DESC LIMIT ?) ORDER BY id",
            (status, limit),
        )
        return [_command_from_row(r) for r in rows]
