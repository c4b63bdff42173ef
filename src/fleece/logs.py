"""Logging: one line per event with key=value context, to logs/orchestrator.out and stderr.

A filter masks every configured secret (API keys, dashboard token) in every record, whatever code
produced it, so a key can never reach a log line even through a third-party library's message.

``orchestrator.out`` rotates by size (``orchestrator.out.1`` is the newest backup). ``bot.sh`` and
``daemon.py`` also append the process's stdout and stderr to that file, so that a traceback or a
startup error written before logging is configured is not lost. In that case log lines are not
written twice (no stderr handler), and the standard streams follow the file across a rotation.

Standard library only: ``daemon.py`` imports it (the log file's place) before the bot's
dependencies are checked.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Iterable
from logging.handlers import RotatingFileHandler
from pathlib import Path

FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"
MASK = "***"
MIN_SECRET_LENGTH = 8
"""Secrets shorter than this are not masked (they would mask innocent text): a secret the user
chooses (``DASHBOARD_TOKEN``) must be at least this long, so that it is always masked."""
DEFAULT_LOG_DIR = Path("logs")
"""``LOG_DIR``'s default, relative to the bot directory (where ``daemon.py`` and ``bot.sh`` point
the process's stdout and stderr too)."""
LOG_FILE_NAME = "orchestrator.out"
"""The bot's log file in ``LOG_DIR``; it rotates into ``orchestrator.out.1`` ... ``.N``."""


DEFAULT_MAX_BYTES = 10 * 1024 * 1024
"""``LOG_MAX_BYTES``' default: the log file rotates when it would grow past 10 MiB."""
DEFAULT_BACKUPS = 5
"""``LOG_BACKUPS``' default: rotated files kept (``orchestrator.out.1`` ... ``.5``)."""


def log_file(log_dir: Path) -> Path:
    """The bot's log file in the folder ``log_dir`` (``LOG_DIR``)."""
    return log_dir / LOG_FILE_NAME


class Redactor:
    """Replaces each secret's text with ``***``: the one masking rule, for log records (below)
    and for notifications (:mod:`fleece.notify`)."""

    def __init__(self, secrets: Iterable[str]) -> None:
        # Short strings would mask innocent text; real keys are long.
        long_enough = {s for s in secrets if len(s) >= MIN_SECRET_LENGTH}
        self.secrets = sorted(long_enough, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        """``text`` with every secret masked."""
        for secret in self.secrets:
            text = text.replace(secret, MASK)
        return text


class RedactSecrets(logging.Filter):
    """Replace each secret's text in a record's final message with ``***``."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self._redact = Redactor(secrets)

    def filter(self, record: logging.LogRecord) -> bool:
        """Mask secrets in the message and drop the args (already formatted)."""
        if not self._redact.secrets:
            return True
        message = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        record.msg = self._redact(message)
        if record.exc_text:
            record.exc_text = self._redact(record.exc_text)
        record.args = None
        return True


def _fd_writes_to(fd: int, path: Path | str) -> bool:
    """True when file descriptor ``fd`` is open on the file at ``path`` (same device and inode)."""
    try:
        opened, named = os.fstat(fd), Path(path).stat()
    except OSError:
        return False
    return (opened.st_dev, opened.st_ino) == (named.st_dev, named.st_ino)


def _stderr_is(path: Path) -> bool:
    try:
        fd = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):
        # Replaced by something without a file descriptor (pytest's capture, an IDE console).
        return False
    return _fd_writes_to(fd, path)


class FollowingRotatingFileHandler(RotatingFileHandler):
    """A size-rotated log file that stdout/stderr follow when they were redirected into it.

    Without this, after a rotation the redirected streams would keep appending to the renamed
    file (``orchestrator.out.1``), and ``grep ERROR logs/orchestrator.out`` would miss a
    traceback written there.
    """

    def doRollover(self) -> None:  # noqa: N802 (the stdlib name it overrides)
        """Rotate the files, then point the standard streams that wrote here at the new one."""
        followers = [fd for fd in (1, 2) if _fd_writes_to(fd, self.baseFilename)]
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(AttributeError, OSError, ValueError):
                stream.flush()
        super().doRollover()
        if followers:
            if self.stream is None:
                self.stream = self._open()
            for fd in followers:
                os.dup2(self.stream.fileno(), fd)


def setup_logging(
    level: str,
    log_dir: Path | None,
    secrets: Iterable[str] = (),
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    backups: int = DEFAULT_BACKUPS,
    stderr: bool = True,
) -> Path | None:
    """Configure the root logger; returns the log file path (None when not logging to a file).

    Args:
        level: the root level name (``INFO`` ...).
        log_dir: the folder of ``orchestrator.out``; None logs to stderr only.
        secrets: texts masked in every record.
        max_bytes: rotate ``orchestrator.out`` when it would grow past this size (0: never).
        backups: rotated files kept (``orchestrator.out.1`` ... ``.N``).
        stderr: also log to stderr, unless stderr is already redirected into the log file.
    """
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
        handler.close()
    root.setLevel(level)
    redact = RedactSecrets(secrets)
    formatter = logging.Formatter(FORMAT)
    path: Path | None = None
    if log_dir is not None:
        log_dir.mkdir(parents=True, exist_ok=True)
        path = log_file(log_dir)
        file_handler = FollowingRotatingFileHandler(
            path, maxBytes=max_bytes, backupCount=backups, encoding="utf-8"
        )
        file_handler.setFormatter(formatter)
        file_handler.addFilter(redact)
        root.addHandler(file_handler)
    # Under bot.sh or daemon.py stderr is the log file itself: a stderr handler would write
    # every line twice.
    if stderr and not (path is not None and _stderr_is(path)):
        stream = logging.StreamHandler(sys.stderr)
        stream.setFormatter(formatter)
        stream.addFilter(redact)
        root.addHandler(stream)
    # Third-party chatter (HTTP access logs, connection pools) stays out of the bot's log.
    for noisy in ("urllib3", "uvicorn.access", "uvicorn.error", "httpx", "apprise", "telegram"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return path
