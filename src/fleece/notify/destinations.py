"""Where notifications go: one apprise URL per destination (``NOTIFY_URLS``).

apprise knows Telegram (``tgram://``), Discord, Slack, email (``mailto://``), ntfy, generic JSON
webhooks (``json://``) and dozens more; see its wiki for each URL's form. Each configured URL is
one :class:`AppriseDestination`, so a failing one is retried alone and ``fleece notify test``
can say which worked. A destination is shown by apprise's *privacy* rendering of its URL
(passwords and tokens elided), never by the URL itself.

Delivery blocks (apprise is synchronous, HTTP with its own timeouts: ``cto``/``rto`` URL
parameters, 4 s each by default); it only ever runs on the notification worker thread or in
``fleece notify test``, never on the trading path.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Protocol

from fleece.notify.events import Level
from fleece.notify.messages import Message

_SEPARATORS = re.compile(r"[\s,]+")
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]{0,31})://")
#: Bound on NOTIFY_URLS before anything parses it.
MAX_URLS = 20
MAX_URL_LENGTH = 2048


class Destination(Protocol):
    """Something a message can be delivered to."""

    label: str

    def deliver(self, message: Message) -> bool:
        """Send ``message``; True when it was accepted. May block; may raise."""
        ...


def split_urls(text: str) -> list[str]:
    """The URLs of a ``NOTIFY_URLS`` value (separated by spaces or commas)."""
    return [part for part in _SEPARATORS.split(text.strip()) if part]


def url_problem(index: int, url: str) -> str | None:
    """Why apprise cannot use the ``index``-th URL (1-based), or None; never quotes the URL."""
    if len(url) > MAX_URL_LENGTH:
        return f"URL {index} is longer than {MAX_URL_LENGTH} characters"
    scheme = _SCHEME.match(url)
    if scheme is None:
        return f"URL {index} is not an apprise URL (expected schema://..., e.g. json://host/)"
    if _instantiate(url) is None:
        return (
            f"URL {index} ({scheme.group(1).lower()}://...) is not one apprise can use: unknown "
            "service or missing parts (see apprise's wiki for that service's URL)"
        )
    return None


def urls_problem(text: str) -> str | None:
    """Why a ``NOTIFY_URLS`` value cannot be used, or None (one line, no secret in it)."""
    urls = split_urls(text)
    if len(urls) > MAX_URLS:
        return f"at most {MAX_URLS} URLs, got {len(urls)}"
    for index, url in enumerate(urls, start=1):
        problem = url_problem(index, url)
        if problem is not None:
            return problem
    return None


_HOSTLIKE = re.compile(r"(localhost|[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+|\d{1,5})")


def url_secret_parts(url: str) -> list[str]:
    """The texts of ``url`` to mask wherever they could appear: the URL itself, its user and
    password, a host that is not a host name (a bot token, a webhook id), every path segment
    and every query value. Host names, IPs and ports stay readable."""
    parts = [url]
    rest = url.split("://", 1)[-1]
    rest, _, query = rest.partition("?")
    netloc, _, path = rest.partition("/")
    userinfo, _, host = netloc.rpartition("@")
    parts += userinfo.split(":") if userinfo else []
    parts += [p for p in host.split(":") if not _HOSTLIKE.fullmatch(p)]
    parts += path.split("/")
    parts += [pair.partition("=")[2] for pair in query.split("&")]
    return [p for p in parts if p]


def _instantiate(url: str) -> Any:
    import apprise  # deferred: only processes that notify pay for importing it

    return apprise.Apprise.instantiate(url)


_NOTIFY_TYPES = {Level.INFO: "info", Level.WARNING: "warning", Level.ERROR: "failure"}


class AppriseDestination:
    """One apprise URL.

    Args:
        url: the apprise URL (validated by :func:`url_problem`).
    """

    def __init__(self, url: str) -> None:
        plugin = _instantiate(url)
        if plugin is None:
            raise ValueError("not an apprise URL")  # validated at start-up; never the URL itself
        self._plugin = plugin
        self.label = str(plugin.url(privacy=True)).split("?", 1)[0]

    def deliver(self, message: Message) -> bool:
        """Send ``message`` through apprise; True when the service accepted it."""
        import apprise

        return bool(
            self._plugin.notify(
                body=message.body,
                title=message.title,
                notify_type=apprise.NotifyType(_NOTIFY_TYPES[message.level]),
            )
        )


def destinations(urls: Sequence[str]) -> list[AppriseDestination]:
    """One destination per URL."""
    return [AppriseDestination(url) for url in urls]
