"""The exchange's state on disk, so that it can be killed and restarted mid-session.

``fleece exchange --state FILE`` keeps a snapshot of everything the exchange knows that its
arguments do not already say: the matching engine (orders, pending fills, cash and positions, the
id generator's position), the simulated now, the request counters and the fault counters. The
bars are not saved: they come back from the same arguments (``--synthetic --seed``, ``--data``),
and a snapshot taken over a different market is refused.

When it is written: before the answer to every request that may change state (anything but a
``GET``) leaves the exchange, so a client never hears of an order the file does not hold; after
other requests at most every ``min_interval`` real seconds (the clock moves on); and at shutdown.
Each write goes to a temporary file that replaces the old one atomically (readable by the owner
only), so a kill at any instant leaves the previous or the new snapshot, never half of one.

On restart the engine is restored and the clock resumes at the saved instant (the market waited
while the exchange was down). The engine is deterministic, so fills due after that instant come
out exactly as they would have.

The format is a pickle read back through an allow-list of classes (the exchange's own, datetime,
decimal, collections): the file is the exchange's own memory, never input from elsewhere, and
even so a tampered file cannot make the loader call anything else.
"""

from __future__ import annotations

import io
import itertools
import logging
import os
import pickle
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fleece.clock import ScaledClock
from fleece.errors import ConfigError

if TYPE_CHECKING:
    from fleece.exchange.faults import FaultInjector
    from fleece.exchange.sim import SimExchange

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
_EXTERNAL = ("store", "calendar", "fill_split")
_BUILTINS = frozenset(
    {"dict", "list", "set", "frozenset", "tuple", "int", "float", "str", "bytes", "bool", "slice"}
)
_MODULES = frozenset({"datetime", "decimal", "collections", "random", "zoneinfo", "_random"})
_COPYREG = frozenset({"_reconstructor", "__newobj__", "__newobj_ex__"})


def fingerprint(exchange: SimExchange) -> dict[str, Any]:
    """What identifies the market a snapshot belongs to (symbols, account, first instant)."""
    return {
        "symbols": list(exchange.store.symbols),
        "account_id": exchange.account_id,
        "created_at": exchange.created_at.isoformat(),
    }


class _Pickler(pickle.Pickler):
    def __init__(self, file: io.BytesIO, external: dict[int, str]) -> None:
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        self._external = external

    def persistent_id(self, obj: Any) -> str | None:
        # The bars, the calendar and the fault hook belong to the new process, not the file.
        return self._external.get(id(obj))

    def reducer_override(self, obj: Any) -> Any:
        if isinstance(obj, itertools.count):
            # The engine's tie-break sequence; only its next value matters.
            return itertools.count, (int(repr(obj)[6:-1]),)
        return NotImplemented


class _Unpickler(pickle.Unpickler):
    def __init__(self, file: io.BytesIO, external: dict[str, Any]) -> None:
        super().__init__(file)
        self._external = external

    def persistent_load(self, pid: Any) -> Any:
        if pid not in self._external:
            raise pickle.UnpicklingError(f"unknown external object {pid!r}")
        return self._external[pid]

    def find_class(self, module: str, name: str) -> Any:
        allowed = (
            module.startswith("fleece.")
            or module in _MODULES
            or (module == "builtins" and name in _BUILTINS)
            or (module == "copyreg" and name in _COPYREG)
            or (module == "itertools" and name == "count")
        )
        if not allowed:
            raise pickle.UnpicklingError(f"{module}.{name} is not allowed in a state file")
        return super().find_class(module, name)


class StateFile:
    """Saves and restores one exchange's state at ``path``.

    Args:
        path: the snapshot file (created with its folder if missing).
        exchange: the exchange to save or restore; restore before its app is built.
        faults: the fault injector whose counters are saved too (optional).
        min_interval: real seconds between snapshots caused by read-only requests.
    """

    def __init__(
        self,
        path: Path,
        exchange: SimExchange,
        faults: FaultInjector | None = None,
        *,
        min_interval: float = 0.2,
    ) -> None:
        self.path = path
        self.exchange = exchange
        self.faults = faults
        self.min_interval = min_interval
        self.saves = 0
        self._write_lock = threading.Lock()
        self._last_save = 0.0

    def _external(self) -> dict[str, Any]:
        engine = self.exchange.engine
        return {
            "store": self.exchange.store,
            "calendar": self.exchange.calendar,
            "fill_split": getattr(engine, "fill_split", None),
        }

    # ---------------------------------------------------------------- saving

    def snapshot(self) -> bytes:
        """The exchange's state now, as the bytes the file holds."""
        exchange = self.exchange
        external = {id(obj): name for name, obj in self._external().items() if obj is not None}
        with exchange.synced() as now:
            state = {
                "version": FORMAT_VERSION,
                "fingerprint": fingerprint(exchange),
                "now": now,
                "engine": exchange.engine,
                "counters": exchange.export_counters(),
                "faults": self.faults.export_counts() if self.faults else None,
            }
            buffer = io.BytesIO()
            _Pickler(buffer, external).dump(state)
        return buffer.getvalue()

    def save(self) -> None:
        """Write a snapshot atomically (temporary file, fsync, rename)."""
        data = self.snapshot()
        with self._write_lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            temporary.replace(self.path)
            self._last_save = time.monotonic()
            self.saves += 1

    def after_request(self, method: str, path: str) -> None:
        """The :class:`~fleece.exchange.faults.FaultLayer` hook: save when it matters."""
        changing = method not in ("GET", "HEAD", "OPTIONS")
        if changing or time.monotonic() - self._last_save >= self.min_interval:
            try:
                self.save()
            except OSError as exc:
                # The exchange keeps serving; the operator sees why restarts will lose state.
                log.error("exchange state not saved path=%s reason=%s", self.path, exc.strerror)

    # ---------------------------------------------------------------- restoring

    def load(self) -> bool:
        """Restore the exchange from the file if there is one; True when it did.

        Raises:
            ConfigError: (one line) the file is unreadable, from another version, or was
                written for a different market.
        """
        if not self.path.exists():
            return False
        try:
            data = self.path.read_bytes()
            state = _Unpickler(io.BytesIO(data), self._external()).load()
        except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ValueError) as exc:
            raise ConfigError(str(self.path), "state", f"unreadable state file: {exc}") from None
        if not isinstance(state, dict) or state.get("version") != FORMAT_VERSION:
            raise ConfigError(str(self.path), "state", "not a state file of this version")
        if state.get("fingerprint") != fingerprint(self.exchange):
            raise ConfigError(
                str(self.path),
                "state",
                "written for a different market (symbols, seed or start differ); "
                "use the same options or another --state file",
            )
        self._restore(state)
        return True

    def _restore(self, state: dict[str, Any]) -> None:
        exchange = self.exchange
        now: datetime = state["now"]
        speed = float(getattr(exchange.clock, "speed", 0.0))
        exchange.clock = ScaledClock(now, speed)
        exchange.engine = state["engine"]
        exchange.import_counters(state["counters"])
        if self.faults is not None and state.get("faults"):
            self.faults.import_counts(state["faults"])
        log.info(
            "exchange state restored path=%s now=%s orders=%d",
            self.path,
            now.isoformat(),
            exchange.engine.order_count,
        )
