"""Remote control from Telegram: ``/status /positions /halt /resume /flatten /daily``.

A python-telegram-bot application polling the Bot API (``getUpdates``; no webhook, so nothing
listens on the network), run as one more task of the bot's event loop: its handlers read the
trader's objects between the bot's steps, like the dashboard's routes do, and its HTTP calls are
asynchronous, so a slow or unreachable Telegram never holds up the trading path. It never raises:
when Telegram cannot be reached it retries with a growing pause, for as long as the bot runs.

Only chats listed in ``TELEGRAM_ALLOWED_CHAT_IDS`` are obeyed. Every command, obeyed or not, is
recorded in the store's ``commands`` table with the chat and user who sent it; a refused one gets
no answer (a stranger learns nothing) and a warning in the log. Commands sent while the bot was
not running are dropped at start (``drop_pending_updates``): a stale ``/flatten`` never fires
hours later.

``/flatten`` is queued in the command log like ``fleece flatten`` and executed by the bot between
two cycles; the answer comes when it is done. ``/halt`` and ``/resume`` set the persisted kill
switch at once, as ``fleece halt`` and the dashboard do.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from fleece.control import commands
from fleece.control.replies import HELP, daily_text, positions_text, status_text
from fleece.notify.messages import kill_switch_set_text, one_line

if TYPE_CHECKING:
    from telegram import Update
    from telegram.ext import Application, ContextTypes

    from fleece.publisher import SnapshotPublisher

log = logging.getLogger(__name__)

POLL_TIMEOUT_S = 10
RETRY_FIRST_S = 2.0
RETRY_MAX_S = 300.0
KNOWN = ("status", "positions", "halt", "resume", "flatten", "daily", "help", "start")
MAX_ARGS = 200


def file_url(base_url: str) -> str:
    """The Bot API's file endpoint next to ``base_url`` (``.../bot`` -> ``.../file/bot``)."""
    head, _, tail = base_url.rstrip("/").rpartition("/")
    return f"{head}/file/{tail}"


class TelegramControl:
    """The Telegram bot of one running bot.

    Args:
        live: the running bot's snapshots, store and clock.
        token: ``TELEGRAM_BOT_TOKEN``.
        allowed: ``TELEGRAM_ALLOWED_CHAT_IDS``.
        base_url: ``TELEGRAM_API_URL`` (the token is appended to it).
        flatten_wait: real seconds ``/flatten`` waits for the bot's outcome.
    """

    def __init__(
        self,
        live: SnapshotPublisher,
        *,
        token: str,
        allowed: frozenset[int],
        base_url: str,
        flatten_wait: float = commands.DEFAULT_WAIT_S,
    ) -> None:
        self._live = live
        self._token = token
        self._allowed = allowed
        self._base_url = base_url
        self._flatten_wait = flatten_wait
        self.polling = asyncio.Event()

    @classmethod
    def for_live(cls, live: SnapshotPublisher) -> TelegramControl:
        """The control the running bot's configuration describes (``TELEGRAM_BOT_TOKEN`` set)."""
        s = live.config.settings
        assert s.telegram_bot_token is not None
        return cls(
            live,
            token=s.telegram_bot_token.get_secret_value(),
            allowed=frozenset(s.telegram_allowed_chat_ids),
            base_url=s.telegram_api_url,
        )

    def _application(self) -> Application[Any, Any, Any, Any, Any, Any]:
        from telegram.ext import ApplicationBuilder, MessageHandler, filters

        app = (
            ApplicationBuilder()
            .token(self._token)
            .base_url(self._base_url)
            .base_file_url(file_url(self._base_url))
            .get_updates_read_timeout(POLL_TIMEOUT_S + 10)
            .build()
        )
        # block=False: a /flatten waiting for its outcome does not hold up a /status.
        app.add_handler(MessageHandler(filters.COMMAND, self._on_command, block=False))
        return app

    async def serve(self) -> None:
        """Poll Telegram until cancelled; never raises."""
        pause = RETRY_FIRST_S
        while True:
            try:
                await self._serve_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Telegram down, a bad token: retry, never stop the bot
                log.warning(
                    "telegram control unavailable reason=%s; retrying in %.0fs",
                    type(exc).__name__,
                    pause,
                )
            self.polling.clear()
            await asyncio.sleep(pause)
            pause = min(pause * 2, RETRY_MAX_S)

    async def _serve_once(self) -> None:
        app = self._application()
        async with app:  # initialize (getMe) ... shutdown
            await app.start()
            assert app.updater is not None
            await app.updater.start_polling(
                timeout=POLL_TIMEOUT_S,
                drop_pending_updates=True,
                allowed_updates=["message"],
                error_callback=self._polling_error,
            )
            log.info("telegram control polling allowed_chats=%d", len(self._allowed))
            self.polling.set()
            try:
                await asyncio.Event().wait()  # until the task is cancelled
            finally:
                await app.updater.stop()
                await app.stop()

    @staticmethod
    def _polling_error(exc: Exception) -> None:
        log.warning("telegram polling failed reason=%s", type(exc).__name__)

    # ---- commands ------------------------------------------------------------------------------
    async def _on_command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message, chat, user = update.effective_message, update.effective_chat, update.effective_user
        if message is None or chat is None or not message.text:
            return
        word, _, rest = message.text.strip().partition(" ")
        name = word.lstrip("/").split("@", 1)[0].lower()[:32]
        args = one_line(rest, MAX_ARGS)
        sender = f"telegram chat {chat.id} user {user.id if user else '?'}"
        if user is not None and user.username:
            sender += f" (@{user.username[:64]})"
        store, now = self._live.store, self._live.clock.now()
        if chat.id not in self._allowed:
            store.add_command(now, "telegram", sender, name, args, "refused", "chat not allowed")
            log.warning("telegram command refused: chat not allowed %s command=%s", sender, name)
            return
        if name == "flatten":
            await message.reply_text("flatten: queued for the bot's next cycle...")
            command_id = commands.request(
                store, "flatten", source="telegram", sender=sender, now=now
            )
            record = await commands.await_result(
                store, command_id, self._flatten_wait, self._live.clock.now
            )
            await message.reply_text(commands.outcome_line(record))
            return
        reply, status = self._answer(name, args, sender)
        store.add_command(now, "telegram", sender, name, args, status, one_line(reply, 200))
        log.info("telegram command %s from %s: %s", name, sender, status)
        await message.reply_text(reply)

    def _answer(self, name: str, args: str, sender: str) -> tuple[str, str]:
        live = self._live
        if name == "status":
            return status_text(live.latest), "done"
        if name == "positions":
            return positions_text(live.latest), "done"
        if name == "daily":
            return daily_text(live.latest, live.store), "done"
        if name in ("halt", "resume"):
            return self._kill_switch(name == "halt", args or f"halted from {sender}"), "done"
        if name in ("help", "start"):
            return HELP, "done"
        return f"unknown command /{name}\n{HELP}", "failed"

    def _kill_switch(self, on: bool, reason: str) -> str:
        live = self._live
        now = live.clock.now()
        live.store.set_kill_switch(on, reason if on else "resumed from telegram", now)
        log.warning("kill switch %s from telegram", "ON" if on else "OFF")
        snap = live.rejudge()  # the bot's state follows at once (and notifies)
        return kill_switch_set_text(
            snap.kill_switch, snap.kill_switch_reason, snap.state, snap.state_reason
        )
