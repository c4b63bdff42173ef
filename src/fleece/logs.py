"""Logging: one line per event with key=value context, to logs/orchestrator.out and stderr.

A filter masks every configured secret (API keys, dashboard token) in every record, whatever code
produced it, so a key can never reach a log line even through a third-party library's message.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable
from logging.handlers import RotatingFileHandler
from pathlib import Path

FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"
MASK = "***"


class RedactSecrets(logging.Filter):
    """Replace each secret's text in a record's final message with ``***``."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        # Short strings would mask innocent text; real keys are long.
        self._secrets = sorted({s for s in secrets if s and len(s) >= 8}, key=len, reverse=True)

    def filter(self, record: logging.LogRecord) -> bool:
        """Mask secrets in the message and drop the args (already formatted)."""
        if not self._secrets:
            return True
        message = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        for secret in self._secrets:
            message = message.replace(secret, MASK)
            if record.exc_text:
                record.exc_text = record.exc_text.replace(secret, MASK)
        record.msg = message
        record.args = None
        return True


def setup_logging(
    level: str,
    log_dir: Path | None,
    secrets: Iterable[str] = (),
    *,
    max_bytes: int = 10 * 1024 * 1024,
    backups: int = 5,
    stderr: bool = True,
) -> Path | None:
    """Configure the root logger; returns the log file path (None when not logging to a file)."""
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
        path = log_dir / "orchestrator.out"
        file_handler = RotatingFileHandler(
            path, maxBytes=max_bytes, backupCount=backups, encoding="utf-8"
        )
        file_handler.setFormatter(formatter)
        file_handler.addFilter(redact)
        root.addHandler(file_handler)
    if stderr:
        stream = logging.StreamHandler(sys.stderr)
        stream.setFormatter(formatter)
        stream.addFilter(redact)
        root.addHandler(stream)
    # Third-party chatter (HTTP access logs, connection pools) stays out of the bot's log.
    for noisy in ("urllib3", "uvicorn.access", "uvicorn.error", "httpx"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return path
