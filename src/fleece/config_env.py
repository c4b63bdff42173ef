"""The environment's settings: ``.env`` plus the process environment, validated once.

:class:`Settings` holds the variables (``ALPACA_API_KEY`` ...), read by :func:`load_settings`;
the process environment wins over the ``.env`` file (read by :mod:`fleece.config_env_file`).
Re-exported by :mod:`fleece.config`.
"""

from __future__ import annotations

import os
import re
import urllib.parse
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
)
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from fleece.config_bounds import (
    LogBytes,
    SimDays,
    SimSeed,
    SimSpeed,
    TimeoutSeconds,
)
from fleece.config_env_file import read_env_file
from fleece.config_errors import (
    DEFAULT_SOURCE,
    ENVIRONMENT,
    _first_error,
    _reason,
)
from fleece.errors import ConfigError, LiveTradingRefused
from fleece.logs import DEFAULT_BACKUPS, DEFAULT_LOG_DIR, DEFAULT_MAX_BYTES, MIN_SECRET_LENGTH
from fleece.paper_lock import DEFAULT_TIMEOUT_SECONDS, is_loopback_host

KEYS_HINT = "set them in .env, or use FLEECE_MODE=sim / make demo to run offline"

_PLACEHOLDERS = frozenset({"your_api_key_here", "your_secret_key_here"})
_TRUE_WORDS = frozenset({"true", "1", "yes"})
_FALSE_WORDS = frozenset({"false", "0", "no"})
_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
_HOST = re.compile(r"[A-Za-z0-9.:-]{1,253}")
_TELEGRAM_TOKEN = re.compile(r"\d{1,20}:[A-Za-z0-9_-]{30,100}")
_CHAT_ID = re.compile(r"-?\d{1,20}")
MAX_CHAT_IDS = 50
TELEGRAM_API_URL = "https://api.telegram.org/bot"


# --------------------------------------------------------------------------- environment


def _env_bool(value: object) -> object:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        word = value.strip().lower()
        if word in _TRUE_WORDS:
            return True
        if word in _FALSE_WORDS:
            return False
    raise ValueError(f"expected true/false/1/0/yes/no, got {value!r}")


def _upper(value: object) -> object:
    return value.strip().upper() if isinstance(value, str) else value


def _lower(value: object) -> object:
    return value.strip().lower() if isinstance(value, str) else value


def _iso_day(value: object) -> object:
    if isinstance(value, str) and not _ISO_DAY.fullmatch(value.strip()):
        raise ValueError(f"expected a date as YYYY-MM-DD, got {value!r}")
    return value.strip() if isinstance(value, str) else value


def _host(value: object) -> object:
    if isinstance(value, str) and not _HOST.fullmatch(value.strip()):
        raise ValueError(
            f"expected a host name or IP address such as 127.0.0.1 or 0.0.0.0, got {value!r}"
        )
    return value.strip() if isinstance(value, str) else value


def _token(value: SecretStr | None) -> SecretStr | None:
    if value is not None and len(value.get_secret_value().strip()) < MIN_SECRET_LENGTH:
        raise ValueError(
            f"too short: use at least {MIN_SECRET_LENGTH} characters, ideally a long random string"
        )
    return value


def _notify_urls(value: SecretStr | None) -> SecretStr | None:
    from fleece.notify.destinations import urls_problem

    if value is not None and (problem := urls_problem(value.get_secret_value())):
        raise ValueError(problem)
    return value


def _http_url(value: str, what: str) -> str:
    parts = urllib.parse.urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{what} must be an http:// or https:// URL with a host")
    return value.strip()


def _heartbeat_url(value: SecretStr | None) -> SecretStr | None:
    if value is not None:
        _http_url(value.get_secret_value(), "the heartbeat ping URL")
    return value


def _telegram_token(value: SecretStr | None) -> SecretStr | None:
    if value is not None and not _TELEGRAM_TOKEN.fullmatch(value.get_secret_value().strip()):
        raise ValueError("not a Telegram bot token (digits, a colon, then 30+ characters)")
    return value


def _chat_ids(value: object) -> object:
    if isinstance(value, str):
        words = [w for w in re.split(r"[\s,]+", value.strip()) if w]
        if len(words) > MAX_CHAT_IDS or not all(_CHAT_ID.fullmatch(w) for w in words):
            raise ValueError(
                f"expected up to {MAX_CHAT_IDS} Telegram chat ids (integers, groups are negative), "
                "separated by commas"
            )
        return tuple(int(w) for w in words)
    return value


def _telegram_api_url(value: str) -> str:
    value = _http_url(value, "TELEGRAM_API_URL")
    parts = urllib.parse.urlsplit(value)
    if parts.scheme != "https" and not is_loopback_host(parts.hostname or ""):
        raise ValueError("must be https://, or http:// on a loopback address (a local Bot API)")
    return value


def _absolute(path: Path) -> Path:
    # Relative paths are relative to the bot directory, i.e. where the bot is started.
    try:
        return path.expanduser().absolute()
    except RuntimeError:
        # '~name' of a user who does not exist (or no home at all): a one-line config error,
        # not a traceback (pydantic only turns ValueError into a validation error).
        raise ValueError(f"cannot expand '{path}': no such user's home directory") from None


EnvBool = Annotated[bool, BeforeValidator(_env_bool)]
EnvPath = Annotated[Path, AfterValidator(_absolute)]


class Settings(BaseSettings):
    """The environment variables, validated; field ``x_y`` is variable ``X_Y``.

    Build it with :func:`load_settings`. ``Settings(...)`` with keyword arguments reads
    nothing else (no ``.env``, no environment), which keeps tests hermetic.
    """

    model_config = SettingsConfigDict(frozen=True, extra="forbid", validate_default=True)

    alpaca_api_key: SecretStr | None = None
    alpaca_secret_key: SecretStr | None = None
    alpaca_paper: EnvBool = True
    allow_live_trading: EnvBool = False
    kill_switch: EnvBool = False
    circuit_breaker_reset: EnvBool = False
    dry_run: EnvBool = False
    log_level: Annotated[Literal["DEBUG", "INFO", "WARNING", "ERROR"], BeforeValidator(_upper)] = (
        "INFO"
    )
    database_path: EnvPath = Path("data/trades.db")
    config_path: EnvPath = Path("config/trading.yaml")
    fleece_mode: Annotated[Literal["paper", "sim"], BeforeValidator(_lower)] = "paper"
    alpaca_base_url: str | None = None
    alpaca_data_url: str | None = None
    # Seconds before one HTTP call to Alpaca gives up (alpaca-py sets none of its own).
    alpaca_timeout_seconds: TimeoutSeconds = DEFAULT_TIMEOUT_SECONDS
    sim_data: EnvPath | None = None
    sim_speed: SimSpeed = 300.0
    sim_seed: SimSeed = 0
    sim_days: SimDays = 1
    sim_start: Annotated[date | None, BeforeValidator(_iso_day)] = None
    dashboard_token: Annotated[SecretStr | None, AfterValidator(_token)] = None
    dashboard_enabled: EnvBool = True
    dashboard_host: Annotated[str, BeforeValidator(_host)] = "127.0.0.1"
    # 0 picks a free port (the bot logs the one it got).
    dashboard_port: Annotated[int, Field(ge=0, le=65535)] = 8080
    log_dir: EnvPath = DEFAULT_LOG_DIR
    # logs/orchestrator.out rotates at this size into orchestrator.out.1 ... .N (0: never).
    log_max_bytes: LogBytes = DEFAULT_MAX_BYTES
    log_backups: Annotated[int, Field(ge=1, le=1000)] = DEFAULT_BACKUPS
    # Notifications and remote control (fleece.notify, fleece.control): all optional.
    notify_urls: Annotated[SecretStr | None, AfterValidator(_notify_urls)] = None
    heartbeat_url: Annotated[SecretStr | None, AfterValidator(_heartbeat_url)] = None
    telegram_bot_token: Annotated[SecretStr | None, AfterValidator(_telegram_token)] = None
    telegram_allowed_chat_ids: Annotated[tuple[int, ...], BeforeValidator(_chat_ids)] = ()
    telegram_api_url: Annotated[str, AfterValidator(_telegram_api_url)] = TELEGRAM_API_URL

    _sources: dict[str, str] = PrivateAttr(default_factory=dict)
    _env_source: str = PrivateAttr(default=ENVIRONMENT)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # load_settings merges .env and the environment itself: that lets tests inject an
        # environment, and lets every refusal name the source the bad value came from.
        return (init_settings,)

    @property
    def sim(self) -> bool:
        """True when the bot runs against its built-in exchange (``FLEECE_MODE=sim``)."""
        return self.fleece_mode == "sim"

    @property
    def env_source(self) -> str:
        """Where variables are meant to be set: the ``.env`` path, or ``environment``."""
        return self._env_source

    def source_of(self, name: str) -> str:
        """Return where variable ``name`` came from: a ``.env`` path, environment or default."""
        return self._sources.get(name.upper(), DEFAULT_SOURCE)


ENV_NAMES: tuple[str, ...] = tuple(name.upper() for name in Settings.model_fields)
# Values never echoed in an error, whatever is wrong with them.
_SECRET_NAMES = frozenset(
    {
        "ALPACA_API_KEY",
        "ALPACA_SECRET_KEY",
        "DASHBOARD_TOKEN",
        "NOTIFY_URLS",
        "HEARTBEAT_URL",
        "TELEGRAM_BOT_TOKEN",
    }
)


def load_settings(
    env_file: Path | None = Path(".env"), environ: Mapping[str, str] | None = None
) -> Settings:
    """Read the environment variables from ``env_file`` and ``environ``; the latter wins.

    A missing ``env_file`` is fine (``.env`` is optional); empty values count as unset.

    Args:
        env_file: the ``.env`` file, or None to read none.
        environ: the process environment; None means ``os.environ``.

    Returns:
        The validated settings, remembering where each value came from.

    Raises:
        ConfigError: a value is invalid, or a ``.env`` line is malformed or misspelt.
    """
    env_source = str(env_file) if env_file is not None else ENVIRONMENT
    values: dict[str, str] = {}
    sources: dict[str, str] = {}
    if env_file is not None:
        for name, value in read_env_file(env_file, ENV_NAMES).items():
            values[name], sources[name] = value, env_source
    for raw_name, value in (os.environ if environ is None else environ).items():
        name = raw_name.upper()
        if name in ENV_NAMES and value.strip():
            values[name], sources[name] = value, ENVIRONMENT
    mode = values.get("FLEECE_MODE", "").strip().lower()
    if mode == "live":
        raise LiveTradingRefused(
            sources["FLEECE_MODE"],
            "FLEECE_MODE",
            "live trading is not supported: alpaca-fleece trades paper only (use paper or sim)",
        )
    try:
        fields: dict[str, Any] = {name.lower(): value for name, value in values.items()}
        settings = Settings(**fields)
    except ValidationError as exc:
        error = _first_error(exc)
        name = str(error["loc"][0]).upper() if error["loc"] else "(environment)"
        show_input = name not in _SECRET_NAMES
        raise ConfigError(
            sources.get(name, DEFAULT_SOURCE), name, _reason(error, Settings, show_input)
        ) from None
    settings._sources = sources
    settings._env_source = env_source
    if settings.dashboard_enabled:
        check_dashboard_binding(
            settings.dashboard_host,
            settings.dashboard_token,
            settings.source_of("DASHBOARD_HOST"),
            "DASHBOARD_HOST",
        )
    if settings.telegram_bot_token is not None and not settings.telegram_allowed_chat_ids:
        raise ConfigError(
            settings.source_of("TELEGRAM_BOT_TOKEN"),
            "TELEGRAM_ALLOWED_CHAT_IDS",
            "required with TELEGRAM_BOT_TOKEN: the chat ids allowed to send commands, "
            "comma-separated (anyone else is refused)",
        )
    return settings


def secret_texts(settings: Settings) -> list[str]:
    """Every configured secret as text: masked in every log line and every notification."""
    from fleece.notify.destinations import split_urls, url_secret_parts

    values = (
        settings.alpaca_api_key,
        settings.alpaca_secret_key,
        settings.dashboard_token,
        settings.telegram_bot_token,
    )
    texts = [v.get_secret_value() for v in values if v is not None]
    urls = split_urls(settings.notify_urls.get_secret_value()) if settings.notify_urls else []
    if settings.heartbeat_url is not None:
        urls.append(settings.heartbeat_url.get_secret_value())
    for url in urls:
        texts += url_secret_parts(url)
    return texts


def check_dashboard_binding(host: str, token: SecretStr | None, source: str, key: str) -> None:
    """Refuse to serve the dashboard beyond this machine without ``DASHBOARD_TOKEN``.

    On a loopback address only local users reach the page; anywhere else the Halt/Resume
    buttons would be open to the network, so a token is required.

    Args:
        host: the address the dashboard binds.
        token: the configured ``DASHBOARD_TOKEN``, if any.
        source: where ``host`` came from (named in the error).
        key: the setting or option that gave ``host`` (named in the error).

    Raises:
        ConfigError: ``host`` is not loopback and no token is configured.
    """
    if is_loopback_host(host) or (token is not None and token.get_secret_value().strip()):
        return
    raise ConfigError(
        source,
        key,
        f"binding the dashboard to {host} (not loopback) requires DASHBOARD_TOKEN; "
        "set a long random token in .env, or bind 127.0.0.1",
    )


def require_api_keys(settings: Settings) -> None:
    """Refuse to start in paper mode without both Alpaca keys (sim mode needs none).

    Raises:
        ConfigError: naming the first missing key, with a hint how to fix it.
    """
    if settings.sim:
        return
    for name, value in (
        ("ALPACA_API_KEY", settings.alpaca_api_key),
        ("ALPACA_SECRET_KEY", settings.alpaca_secret_key),
    ):
        if value is None or not value.get_secret_value().strip():
            raise ConfigError(settings.env_source, name, f"missing in paper mode: {KEYS_HINT}")
        if value.get_secret_value().strip() in _PLACEHOLDERS:
            raise ConfigError(
                settings.source_of(name), name, f"still the .env.example placeholder: {KEYS_HINT}"
            )
