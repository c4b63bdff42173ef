"""Local stand-ins for the outside world of notifications, all on 127.0.0.1.

- :class:`Receiver`: an HTTP server that records every request (apprise's ``json://`` posts,
  heartbeat pings), as a webhook service or healthchecks.io would receive them;
- :class:`Silent`: a port that accepts connections and never answers (a hanging notifier);
- :class:`BotApi`: a stand-in of Telegram's Bot API (``getMe``, ``deleteWebhook``,
  ``getUpdates``, ``sendMessage``) for python-telegram-bot's ``base_url``.

Nothing here reaches beyond the loopback interface.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

BOT_TOKEN = "123456789:AAFleeceTestTokenAbcdefghijklmnopqrs"


@dataclass(frozen=True)
class Hit:
    """One request a stand-in received."""

    method: str
    path: str
    body: bytes

    def json(self) -> dict[str, Any]:
        """The body as JSON (apprise's json:// payload: version, title, message, type)."""
        value = json.loads(self.body)
        assert isinstance(value, dict)
        return value


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        """A client that hung up mid-answer (a cancelled long poll) is no test failure."""


class _QuietHandler(BaseHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        """Requests are recorded by the stand-in, not printed."""


@contextmanager
def _serving(handler: type[BaseHTTPRequestHandler]) -> Iterator[int]:
    """Serve ``handler`` on a free loopback port (yielded) until the block ends."""
    server = _Server(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class Receiver:
    """Records every request; answers 200 (or ``status``)."""

    status: int = 200
    hits: list[Hit] = field(default_factory=list)
    url: str = ""

    def messages(self) -> list[dict[str, Any]]:
        """The JSON bodies of the POSTs so far (apprise's messages)."""
        return [h.json() for h in list(self.hits) if h.method == "POST"]

    def titles(self) -> list[str]:
        """The messages' titles."""
        return [str(m["title"]) for m in self.messages()]

    def pings(self) -> list[Hit]:
        """The GETs so far (heartbeat pings)."""
        return [h for h in list(self.hits) if h.method == "GET"]

    def text(self) -> str:
        """Everything received, as one text (to look for secrets)."""
        return "\n".join(
            f"{h.method} {h.path} {h.body.decode(errors='replace')}" for h in self.hits
        )


@contextmanager
def receiver(status: int = 200) -> Iterator[Receiver]:
    """Serve a :class:`Receiver` on a free loopback port."""
    record = Receiver(status)

    class Handler(_QuietHandler):
        def _record(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            record.hits.append(Hit(self.command, self.path, self.rfile.read(length)))
            self.send_response(record.status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"OK")

        do_POST = do_GET = _record  # noqa: N815 (http.server's names)

    with _serving(Handler) as port:
        record.url = f"127.0.0.1:{port}"
        yield record


@contextmanager
def root_logging_restored() -> Iterator[None]:
    """Put the root logger's handlers back as they were when the block ends (a scenario that
    sets up logging as ``fleece run`` does replaces them)."""
    root = logging.getLogger()
    handlers = list(root.handlers)
    try:
        yield
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
            handler.close()
        for handler in handlers:
            root.addHandler(handler)


@contextmanager
def silent() -> Iterator[str]:
    """A loopback ``host:port`` that accepts connections and never answers a byte."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)  # connections complete in the backlog; nobody ever reads them
    try:
        yield f"127.0.0.1:{listener.getsockname()[1]}"
    finally:
        listener.close()


# --------------------------------------------------------------------------- Telegram


@dataclass
class BotApi:
    """The Bot API's state: queued updates and the messages the bot sent."""

    token: str = BOT_TOKEN
    base_url: str = ""
    updates: list[dict[str, Any]] = field(default_factory=list)
    sent: list[dict[str, Any]] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)
    wrong_token: int = 0
    _next_id: int = 1
    _cond: threading.Condition = field(default_factory=threading.Condition)

    def command(self, text: str, *, chat: int, user: int = 4242, username: str = "op") -> None:
        """Queue a message with a command, as if ``user`` typed ``text`` in ``chat``."""
        with self._cond:
            uid = self._next_id
            self._next_id += 1
            word = text.split(" ", 1)[0]
            self.updates.append(
                {
                    "update_id": uid,
                    "message": {
                        "message_id": uid,
                        "date": int(time.time()),
                        "chat": {"id": chat, "type": "private"},
                        "from": {
                            "id": user,
                            "is_bot": False,
                            "first_name": "Op",
                            "username": username,
                        },
                        "text": text,
                        "entities": [{"type": "bot_command", "offset": 0, "length": len(word)}],
                    },
                }
            )
            self._cond.notify_all()

    def replies_to(self, chat: int) -> list[str]:
        """The texts the bot sent to ``chat``."""
        return [str(m["text"]) for m in list(self.sent) if int(m["chat_id"]) == chat]

    def polls(self) -> int:
        """How many getUpdates calls arrived."""
        return self.calls.count("getUpdates")

    def answer(self, method: str, params: dict[str, Any]) -> Any:
        self.calls.append(method)
        if method == "getMe":
            return {"id": 1, "is_bot": True, "first_name": "fleece", "username": "fleece_bot"}
        if method == "deleteWebhook":
            if params.get("drop_pending_updates") in (True, "true", "True"):
                with self._cond:
                    self.updates.clear()
            return True
        if method == "getUpdates":
            return self._get_updates(int(params.get("offset") or 0))
        if method == "sendMessage":
            self.sent.append({"chat_id": params["chat_id"], "text": params["text"]})
            return {
                "message_id": 10_000 + len(self.sent),
                "date": int(time.time()),
                "chat": {"id": int(params["chat_id"]), "type": "private"},
                "text": params["text"],
            }
        return True

    def _get_updates(self, offset: int) -> list[dict[str, Any]]:
        with self._cond:
            # A short long-poll: enough to be realistic, short enough for a quick stop.
            self._cond.wait_for(
                lambda: any(u["update_id"] >= offset for u in self.updates), timeout=0.2
            )
            self.updates = [u for u in self.updates if u["update_id"] >= offset]
            return list(self.updates)


def _params(handler: BaseHTTPRequestHandler, body: bytes) -> dict[str, Any]:
    kind = handler.headers.get("Content-Type", "")
    if "json" in kind:
        value = json.loads(body or b"{}")
        return value if isinstance(value, dict) else {}
    params: dict[str, Any] = {}
    for key, values in urllib.parse.parse_qs(body.decode()).items():
        try:
            params[key] = json.loads(values[0])
        except ValueError:
            params[key] = values[0]
    return params


@contextmanager
def bot_api() -> Iterator[BotApi]:
    """Serve a :class:`BotApi` on a free loopback port; ``base_url`` ends in ``/bot``."""
    api = BotApi()

    class Handler(_QuietHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            prefix = f"/bot{api.token}/"
            if not self.path.startswith(prefix):
                api.wrong_token += 1
                self._reply(401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
                return
            method = self.path[len(prefix) :].split("?", 1)[0]
            self._reply(200, {"ok": True, "result": api.answer(method, _params(self, body))})

        do_GET = do_POST  # noqa: N815

        def _reply(self, status: int, payload: dict[str, Any]) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    with _serving(Handler) as port:
        api.base_url = f"http://127.0.0.1:{port}/bot"
        yield api
