"""The exception hierarchy of alpaca-fleece.

::

    FleeceError
    ├── ConfigError            bad configuration: one line naming file, key and reason (exit 2)
    │   └── LiveTradingRefused the paper lock: a live endpoint or live flag was requested (exit 2)
    ├── DataError              bars that cannot be read or validated
    └── BrokerError            the broker failed or answered something we cannot use
        └── AmbiguousSubmitError  a submission whose outcome is unknown (look it up, never resend)

User-facing errors carry a message that is a single line and never contains a secret.

Exit codes (:func:`exit_code`, the one rule for every command and the bot itself): a
:class:`ConfigError` is 2, a refusal that a restart cannot fix (systemd's
``RestartPreventExitStatus=2`` does not restart it); any other error is 1 (a restart may succeed).
"""

from __future__ import annotations

EXIT_FAILURE = 1
"""Exit code of any expected failure but a refused configuration (broker, disk, data, ...)."""
EXIT_CONFIG_ERROR = 2
"""Exit code of a refused configuration (bad value, missing key, live trading requested)."""


class FleeceError(Exception):
    """Base of every error raised on purpose by alpaca-fleece."""


class ConfigError(FleeceError):
    """A configuration value is missing or invalid.

    Args:
        source: the file (or "environment") the value came from.
        key: the dotted key, e.g. ``risk.max_position_pct``.
        reason: why the value is refused, in plain words.
    """

    def __init__(self, source: str, key: str, reason: str) -> None:
        self.source = source
        self.key = key
        self.reason = reason
        super().__init__(f"{source}: {key}: {reason}")


class LiveTradingRefused(ConfigError):  # noqa: N818 (the name DESIGN.md gives it)
    """Something asked for live trading, which this bot refuses by design."""


class DataError(FleeceError):
    """Bars could not be read or failed validation in refuse mode."""


class BrokerError(FleeceError):
    """The broker (Alpaca or the built-in exchange) failed or answered unusably.

    Args:
        message: a one-line description without secrets.
        status: the HTTP status, when there was one.
        code: Alpaca's error code from the body, when there was one.
    """

    def __init__(self, message: str, status: int | None = None, code: int | None = None) -> None:
        self.status = status
        self.code = code
        super().__init__(message)


class AmbiguousSubmitError(BrokerError):
    """An order submission whose outcome is unknown (timeout, dropped connection)."""


def exit_code(exc: BaseException) -> int:
    """The process's exit code when ``exc`` stops it: 2 for a :class:`ConfigError`, else 1."""
    return EXIT_CONFIG_ERROR if isinstance(exc, ConfigError) else EXIT_FAILURE
