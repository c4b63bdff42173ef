"""The viewers the running bot serves from its snapshots: the dashboard and Telegram.

Both are optional and imported only when configured (FastAPI and uvicorn, python-telegram-bot);
both see the bot through its :class:`~fleece.publisher.SnapshotPublisher` only.
"""

from __future__ import annotations

import logging
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fleece.dashboard import DashboardServer
    from fleece.publisher import SnapshotPublisher

# The runtime's own lines, under its name wherever the code lives (operators grep for it).
log = logging.getLogger("fleece.runtime")


def bound_dashboard(live: SnapshotPublisher) -> DashboardServer | None:
    """The dashboard, its port bound (a busy port fails here, before any task), or None."""
    if not live.config.settings.dashboard_enabled:
        return None
    from fleece.dashboard import DashboardServer

    dashboard = DashboardServer.for_live(live)
    log.info("dashboard listening on %s", dashboard.bind())
    return dashboard


def telegram_control(live: SnapshotPublisher) -> Coroutine[Any, Any, None] | None:
    """The Telegram control's serving loop when ``TELEGRAM_BOT_TOKEN`` is set, else None.

    Not to be supervised: it retries by itself and never raises, so a Telegram outage can
    never stop the bot.
    """
    if live.config.settings.telegram_bot_token is None:
        return None
    from fleece.control.telegram import TelegramControl

    return TelegramControl.for_live(live).serve()
