"""Where the running bot publishes its snapshot for the viewers in its process.

The runtime owns one :class:`SnapshotPublisher` and hands it to the dashboard (and its metrics)
and to the Telegram control. They read :attr:`SnapshotPublisher.latest` (published after every
poll cycle and after every operator command) and the few live handles a viewer needs (the
bot's clock for "now", the store that carries commands); they never see the bot itself, so
they do not import the runtime.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

from fleece.models import TradingState

if TYPE_CHECKING:
    from fleece.calendar import MarketCalendar
    from fleece.clock import Clock
    from fleece.config import AppConfig
    from fleece.notify.hub import Notifications
    from fleece.read_model import BotSnapshot
    from fleece.state_store import StateStore

log = logging.getLogger(__name__)

PollObserver = Callable[[float, bool], None]


class SnapshotPublisher:
    """The running bot's latest :class:`~fleece.read_model.BotSnapshot` and its live handles.

    Args:
        store: the bot's store (operator commands go through it: kill switch, commands table).
        config: the bot's configuration.
        clock: the bot's clock (simulated in sim mode): a viewer's "now".
        build: builds a fresh snapshot from the bot (:func:`fleece.read_model.build_snapshot`).
        rejudge: makes the bot judge its trading state again at once (after a kill switch
            change from a viewer), then republishes.
        sessions: the bot's market calendar, from the broker's days (None before it has one).
        speed: simulated seconds per real second (None: real time).
        events: the bot's notification hub (for its metrics), if any.
    """

    def __init__(
        self,
        store: StateStore,
        config: AppConfig,
        clock: Clock,
        *,
        build: Callable[[], BotSnapshot],
        rejudge: Callable[[], None],
        sessions: Callable[[], MarketCalendar | None] = lambda: None,
        speed: float | None = None,
        events: Notifications | None = None,
    ) -> None:
        self.store = store
        self.config = config
        self.clock = clock
        self.speed = speed
        self.events = events
        self._build = build
        self._rejudge = rejudge
        self.sessions = sessions
        self._latest: BotSnapshot | None = None
        self._observers: list[PollObserver] = []
        self.stopping = ""  # the exit reason once a stop was asked for

    @property
    def current(self) -> BotSnapshot | None:
        """The last published snapshot, None before the first (never builds: any thread)."""
        return self._latest

    @property
    def latest(self) -> BotSnapshot:
        """The last published snapshot (built now if none was published yet)."""
        if self._latest is None:
            return self.publish()
        return self._latest

    def publish(self) -> BotSnapshot:
        """Build the bot's snapshot now and make it the latest."""
        self._latest = self._build()
        return self._latest

    def publish_state(self, state: tuple[TradingState, str]) -> None:
        """Change only the trading state of the latest snapshot (the store cannot be read)."""
        if self._latest is not None:
            self._latest = replace(self._latest, state=state[0], state_reason=state[1])

    def rejudge(self) -> BotSnapshot:
        """Have the bot judge its trading state now (after a command), and publish."""
        self._rejudge()
        return self.latest

    def watch_polls(self, observer: PollObserver) -> None:
        """Call ``observer(seconds, ok)`` after every poll attempt of the bot."""
        self._observers.append(observer)

    def observe_poll(self, seconds: float, ok: bool) -> None:
        """The poller's hook: passes each attempt to the observers."""
        for observer in self._observers:
            try:
                observer(seconds, ok)
            except Exception:  # a viewer must never stop the bot's polling
                log.exception("poll observer failed")
