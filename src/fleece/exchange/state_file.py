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

The format is plain JSON, the same bytes on every Python: ``format``, ``version`` and ``layout``
(a digest of the declared types the file follows, so a file written by a build whose engine has
other fields is refused by name, not misread), the market's fingerprint, then the data. The engine
is written and read by :mod:`fleece.exchange.typed_json` from its declared attributes, so a file
can only hold data, and reading it only builds the types the code declares: nothing in a file is
ever looked up or called. Whatever is wrong with a file (not JSON, truncated, tampered, another
version or market, a value of the wrong type) is one line naming the file and the reason
(:class:`~fleece.errors.ConfigError`, exit 2).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import time
from collections import Counter
from dataclasses import KW_ONLY, dataclass, field
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict

from fleece.clock import ScaledClock
from fleece.errors import ConfigError

if TYPE_CHECKING:
    from fleece.exchange.faults import FaultInjector
    from fleece.exchange.sim import SimExchange
    from fleece.exchange.typed_json import Codec

log = logging.getLogger(__name__)

FORMAT = "fleece-exchange-state"
FORMAT_VERSION = 2  # 1 was a pickle: never read again
# A state file is the exchange's memory of one session: far below this; bounded before reading.
MAX_STATE_BYTES = 512 * 1024 * 1024
_PICKLE_START = b"\x80"


class Fingerprint(TypedDict):
    """What identifies the market a snapshot belongs to."""

    symbols: list[str]
    account_id: str
    created_at: str


def fingerprint(exchange: SimExchange) -> Fingerprint:
    """What identifies the market a snapshot belongs to (symbols, account, first instant)."""
    return {
        "symbols": list(exchange.store.symbols),
        "account_id": exchange.account_id,
        "created_at": exchange.created_at.isoformat(),
    }


@cache
def _schema() -> tuple[Codec, Any, str]:
    """The codec, the file's declared shape and the digest of its layout (built on first use:
    the engine's modules pull in pandas, and the CLI imports this module for its table)."""
    from fleece.calendar import MarketCalendar
    from fleece.exchange.account_rules import AssetLookup
    from fleece.exchange.engine import Engine, FillSplit
    from fleece.exchange.faults import SavedCounts
    from fleece.exchange.market import BarStore
    from fleece.exchange.sim import Counters
    from fleece.exchange.typed_json import Codec

    # The bars, the calendar, the assets and the fill hooks (faults, paper-like partial fills)
    # belong to the new process, never to the file: the exchange's arguments give them again.
    codec = Codec(external=(BarStore, MarketCalendar, FillSplit, AssetLookup))
    shape = TypedDict(  # type: ignore[name-match]  # noqa: UP013 (its types are imported lazily)
        "ExchangeState",
        {
            "format": str,
            "version": int,
            "layout": str,
            "fingerprint": Fingerprint,
            "now": datetime,
            "engine": Engine,
            "counters": Counters,
            "faults": SavedCounts | None,
        },
    )
    layout = hashlib.sha256(codec.describe(shape).encode()).hexdigest()[:16]
    return codec, shape, layout


@dataclass(eq=False)
class StateFile:
    """Saves and restores one exchange's state at ``path``.

    Args:
        path: the snapshot file (created with its folder if missing).
        exchange: the exchange to save or restore; restore before its app is built.
        faults: the fault injector whose counters are saved too (optional).
        min_interval: real seconds between snapshots caused by read-only requests.
    """

    path: Path
    exchange: SimExchange
    faults: FaultInjector | None = None
    _: KW_ONLY
    min_interval: float = 0.2
    saves: int = field(default=0, init=False)
    _write_lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)
    _last_save: float = field(default=0.0, init=False, repr=False)

    # ---------------------------------------------------------------- saving

    def snapshot(self) -> bytes:
        """The exchange's state now, as the bytes the file holds."""
        codec, shape, layout = _schema()
        exchange = self.exchange
        with exchange.synced() as now:
            state = {
                "format": FORMAT,
                "version": FORMAT_VERSION,
                "layout": layout,
                "fingerprint": fingerprint(exchange),
                "now": now,
                "engine": exchange.engine,
                "counters": exchange.export_counters(),
                "faults": self.faults.export_counts() if self.faults else None,
            }
            data = codec.dump(state, shape)
        return json.dumps(data, separators=(",", ":")).encode() + b"\n"

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
        """The :class:`~fleece.exchange.fault_layer.FaultLayer` hook: save when it matters."""
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
            ConfigError: (one line) the file is unreadable, not a state file, from another
                version, written for a different market, or holds values of the wrong type.
        """
        if not self.path.exists():
            return False
        raw = self._read()
        self._check_header(raw)
        state = self._decode(raw)
        self._restore(state)
        return True

    def _refuse(self, reason: str) -> ConfigError:
        return ConfigError(str(self.path), "state", reason.splitlines()[0] if reason else "?")

    def _read(self) -> Any:
        try:
            with self.path.open("rb") as file:
                data = file.read(MAX_STATE_BYTES + 1)
        except OSError as exc:
            raise self._refuse(f"unreadable state file: {exc.strerror}") from None
        if len(data) > MAX_STATE_BYTES:
            raise self._refuse(f"unreadable state file: larger than {MAX_STATE_BYTES} bytes")
        if data.startswith(_PICKLE_START):
            raise self._refuse(
                "unreadable state file: an old pickle state file is never read (it could run "
                "code); delete it to start afresh"
            )
        try:
            return json.loads(data.decode("utf-8"), object_pairs_hook=_no_repeated_keys)
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:
            raise self._refuse(f"unreadable state file: not JSON ({exc})") from None

    def _check_header(self, raw: Any) -> None:
        if not isinstance(raw, dict) or raw.get("format") != FORMAT:
            raise self._refuse("unreadable state file: not an exchange state file")
        version = raw.get("version")
        if type(version) is int and version > FORMAT_VERSION:
            raise self._refuse(
                f"state file format {version} is newer than this fleece reads ({FORMAT_VERSION}); "
                "use a newer fleece or another --state file"
            )
        if version != FORMAT_VERSION:
            raise self._refuse(
                f"state file format {version!r} is not read any more (this fleece reads "
                f"{FORMAT_VERSION}); delete it to start afresh or use another --state file"
            )
        _, _, layout = _schema()
        if raw.get("layout") != layout:
            raise self._refuse(
                "state file written by another build of the exchange (its state layout "
                "differs); use the same fleece or another --state file"
            )
        if raw.get("fingerprint") != fingerprint(self.exchange):
            raise self._refuse(
                "written for a different market (symbols, seed or start differ); "
                "use the same options or another --state file"
            )

    def _decode(self, raw: Any) -> dict[str, Any]:
        from fleece.exchange.typed_json import ShapeError

        codec, shape, _ = _schema()
        engine = self.exchange.engine
        try:
            state: dict[str, Any] = codec.load(raw, shape, template={"engine": engine})
            # Read back what the routes read first, so an inconsistent file fails now, not in
            # every later answer (e.g. an open order the book does not hold).
            restored = state["engine"]
            restored.account()
            restored.positions()
        except (ShapeError, KeyError, ValueError, TypeError, ArithmeticError) as exc:
            raise self._refuse(f"invalid state file: {exc}") from None
        return state

    def _restore(self, state: dict[str, Any]) -> None:
        exchange = self.exchange
        now: datetime = state["now"]
        speed = float(getattr(exchange.clock, "speed", 0.0))
        exchange.clock = ScaledClock(now, speed)
        exchange.engine = state["engine"]
        exchange.import_counters(state["counters"])
        if self.faults is not None and state["faults"] is not None:
            self.faults.import_counts(state["faults"])
        log.info(
            "exchange state restored path=%s now=%s orders=%d",
            self.path,
            now.isoformat(),
            exchange.engine.order_count,
        )


def _no_repeated_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object as a dict, refusing a key given twice (JSON would keep the last)."""
    built = dict(pairs)
    if len(built) != len(pairs):
        repeated = next(k for k, n in Counter(k for k, _ in pairs).items() if n > 1)
        raise ValueError(f"key {repeated!r} given twice")
    return built
