"""Configuration: the environment (``.env`` plus the process environment) and ``trading.yaml``.

Everything is validated once, at startup. A bad value never gets past :func:`load_config`: it
becomes a :class:`~fleece.errors.ConfigError` whose message is one line naming the file, the
key and the reason, e.g. ``config/trading.yaml: risk.max_postion_pct: unknown key ...``.

* :class:`Settings` holds the environment variables (``ALPACA_API_KEY`` ...), read by
  :func:`load_settings`; the process environment wins over the ``.env`` file.
* :class:`TradingConfig` holds ``trading.yaml``, read by :func:`load_trading_config`; every
  section but ``symbols`` has defaults, so the seed's short file stays valid.
* :func:`load_config` reads both, applies the paper lock (:mod:`fleece.paper_lock`) and
  returns an :class:`AppConfig`.
"""

from __future__ import annotations

import difflib
import io
import os
import re
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from dotenv import dotenv_values
from dotenv.parser import parse_stream
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    Strict,
    ValidationError,
)
from pydantic_core import ErrorDetails
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from fleece.config_bounds import (
    BreakerFailures,
    Count,  # noqa: F401 (kept here for keys with no more telling bound)
    GraceSeconds,
    HeartbeatSeconds,
    LogBytes,
    PollSeconds,
    Positions,
    ProfitFraction,
    RetentionDays,
    Seconds,  # noqa: F401 (as Count)
    SessionMinutes,
    SimDays,
    SimSeed,
    SimSpeed,
    SnapshotSeconds,
    StopFraction,
    TimeoutSeconds,
    TradesPerDay,
    WarmupBars,
    at_most,
)
from fleece.errors import ConfigError, LiveTradingRefused
from fleece.notify.events import EVENT_KINDS, EventKind, LevelName
from fleece.paper_lock import Endpoints, apply_paper_lock, is_loopback_host, resolve_endpoints
from fleece.strategy.registry import StrategySpec
from fleece.strategy.registry import resolve as resolve_strategy

ENVIRONMENT = "environment"
"""The source named in errors about a value that came from the process environment."""
DEFAULT_SOURCE = "default"
FILE_KEY = "(file)"
"""The key named in errors about a whole file (missing, empty, unreadable)."""
KEYS_HINT = "set them in .env, or use FLEECE_MODE=sim / make demo to run offline"

# Prefixes that mark a .env variable as meant for us, so a typo in one is refused, not ignored.
_OUR_PREFIXES = ("ALPACA_", "FLEECE_", "SIM_", "DASHBOARD_", "NOTIFY_", "TELEGRAM_", "HEARTBEAT_")
_PLACEHOLDERS = frozenset({"your_api_key_here", "your_secret_key_here"})
_TRUE_WORDS = frozenset({"true", "1", "yes"})
_FALSE_WORDS = frozenset({"false", "0", "no"})
_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
_PLAIN_KEY = re.compile(r"[A-Za-z0-9_-]+")
_TICKER = re.compile(r"[A-Z]{1,5}(\.[A-Z]{1,2})?")
_HOST = re.compile(r"[A-Za-z0-9.:-]{1,253}")
# The log filter masks secrets of at least 8 characters (shorter ones would mask innocent text).
MIN_TOKEN_LENGTH = 8
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
    if value is not None and len(value.get_secret_value().strip()) < MIN_TOKEN_LENGTH:
        raise ValueError(
            f"too short: use at least {MIN_TOKEN_LENGTH} characters, ideally a long random string"
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
    return path.expanduser().absolute()


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
    alpaca_timeout_seconds: TimeoutSeconds = 15.0
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
    log_dir: EnvPath = Path("logs")
    # logs/orchestrator.out rotates at this size into orchestrator.out.1 ... .N (0: never).
    log_max_bytes: LogBytes = 10 * 1024 * 1024
    log_backups: Annotated[int, Field(ge=1, le=1000)] = 5
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
        for name, value in _read_env_file(env_file).items():
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


def _read_env_file(path: Path) -> dict[str, str]:
    """Return the non-empty variables of a ``.env`` file, refusing malformed or misspelt lines."""
    source = str(path)
    if not path.exists():
        return {}
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(source, FILE_KEY, f"cannot read the file: {_os_reason(exc)}") from None
    _refuse_ambiguous_lines(source, text)
    found: dict[str, str] = {}
    for raw_name, value in dotenv_values(stream=io.StringIO(text)).items():
        name = raw_name.upper()
        if name not in ENV_NAMES:
            _refuse_if_misspelt(source, name)
            continue
        if value is not None and value.strip():
            found[name] = value
    return found


def _refuse_ambiguous_lines(source: str, text: str) -> None:
    """Refuse what YAML refuses too: a line that is no assignment, a variable set twice.

    python-dotenv would read a bare ``KILL_SWITCH`` as unset (so false) and keep the last of
    two ``KILL_SWITCH=`` lines, so a later ``false`` would silently undo a ``true``.
    """
    first: dict[str, int] = {}
    for binding in parse_stream(io.StringIO(text)):
        original = binding.original.string
        # A binding's text starts with the blank lines before it: count them to name its line.
        line = binding.original.line + original[: len(original) - len(original.lstrip())].count(
            "\n"
        )
        if binding.error:
            raise ConfigError(source, f"line {line}", "malformed line (expected NAME=value)")
        if binding.key is None:
            continue  # a comment or a blank line
        shown = binding.key if _PLAIN_KEY.fullmatch(binding.key) else ascii(binding.key)
        if binding.value is None:
            raise ConfigError(
                source,
                f"line {line}",
                f"{shown} has no '=': write {shown}=value (a bare name reads as unset)",
            )
        name = binding.key.upper() if binding.key.upper() in ENV_NAMES else binding.key
        if name in first:
            raise ConfigError(
                source,
                f"line {line}",
                f"{shown} is set again (first on line {first[name]}); keep one line: "
                "a repeated variable silently takes its last value",
            )
        first[name] = line


def env_file_warning(path: Path) -> str | None:
    """A warning line when ``path`` (the ``.env`` with the API keys) is group/other-readable.

    Returns:
        None when the file is missing or readable by its owner only.
    """
    try:
        mode = path.stat().st_mode
    except OSError:
        return None
    if not mode & 0o077:
        return None
    return (
        f"{path} is accessible by group or others (mode {mode & 0o777:o}); it holds API keys: "
        f"chmod 600 {path}"
    )


def _refuse_if_misspelt(source: str, name: str) -> None:
    # Other tools may share the .env (BOT_ROOT for systemd, ...): only names that look like
    # ours are refused, because a misspelt KILL_SWITCH silently ignored is a real danger.
    close = difflib.get_close_matches(name, ENV_NAMES, n=1, cutoff=0.8)
    if close or name.startswith(_OUR_PREFIXES):
        hint = f"did you mean {close[0]}?" if close else f"known: {', '.join(ENV_NAMES)}"
        raise ConfigError(source, name, f"unknown variable; {hint}")


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


# --------------------------------------------------------------------------- trading.yaml


def _fraction(value: float) -> float:
    if not 0 < value <= 1:
        raise ValueError(f"must be a fraction in (0, 1], e.g. 0.10 for 10% (got {value!r})")
    return value


def _ticker(value: str) -> str:
    if not _TICKER.fullmatch(value):
        raise ValueError(f"invalid symbol {value!r}: expected an upper-case ticker like AAPL")
    return value


def _distinct_tickers(values: tuple[str, ...]) -> tuple[str, ...]:
    if not values:
        raise ValueError("the symbol list is empty: list at least one ticker")
    seen: set[str] = set()
    for ticker in values:
        if ticker in seen:
            raise ValueError(f"duplicate symbol {ticker!r}")
        seen.add(ticker)
    return values


Fraction = Annotated[float, AfterValidator(_fraction)]
Ticker = Annotated[str, Strict(), AfterValidator(_ticker)]

# Strict: YAML already gives ints, floats and bools, so "20" for a count is a mistake to refuse.
_SECTION = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


class SymbolsConfig(BaseModel):
    """``symbols``: which tickers to trade (``list`` in YAML)."""

    model_config = _SECTION
    mode: Literal["explicit"] = "explicit"
    tickers: Annotated[tuple[Ticker, ...], AfterValidator(_distinct_tickers)] = Field(
        alias="list", strict=False
    )


class RiskConfig(BaseModel):
    """``risk``: limits the risk manager enforces."""

    model_config = _SECTION
    max_position_pct: Fraction = 0.10
    # 1.0 means no daily loss stop (risk_manager.has_daily_loss_stop).
    max_daily_loss_pct: Fraction = 0.05
    max_trades_per_day: TradesPerDay = 20
    max_concurrent_positions: Positions = 10
    circuit_breaker_failures: BreakerFailures = 5
    # Total exposure as a multiple of equity, whatever margin buying power says; 1.0: no borrowing.
    max_leverage: Annotated[float, Field(gt=0), at_most(4.0, "Alpaca's intraday margin")] = 1.0
    # Protective exits, as fractions of the entry price (fleece.protection); unset: none.
    stop_loss_pct: StopFraction | None = None
    take_profit_pct: ProfitFraction | None = None
    trailing_stop_pct: StopFraction | None = None


class StrategyConfig(BaseModel):
    """``strategy``: which strategy (``name``) and its parameters, beside the name.

    ``name`` is a built-in (``sma_crossover``, ``donchian_breakout``, ``opening_range``), an
    installed entry point of the group ``fleece.strategies``, ``path/to/file.py:Class`` or
    ``package.module:Class`` (:mod:`fleece.strategy.registry`); every other key is a parameter,
    validated by the strategy's own ``Params`` (unknown ones refused with a did-you-mean).
    """

    model_config = ConfigDict(extra="allow", frozen=True)
    name: Annotated[str, Field(min_length=1, max_length=500)] = "sma_crossover"
    _spec: StrategySpec | None = PrivateAttr(default=None)

    @property
    def params(self) -> dict[str, Any]:
        """The parameters as written (every key but ``name``)."""
        return dict(self.model_extra or {})

    @property
    def spec(self) -> StrategySpec:
        """The strategy class and its validated parameters (found once, then kept)."""
        if self._spec is None:
            self._spec = resolve_strategy(self.name, self.params)
        return self._spec

    def resolve(self, source: str, base: Path) -> None:
        """Find the strategy now, naming ``source`` in errors and reading files from ``base``."""
        self._spec = resolve_strategy(self.name, self.params, source=source, base=base)

    def with_params(self, **changes: Any) -> StrategyConfig:
        """A copy with some parameters changed (validated by the strategy; a sweep's axes).

        Raises:
            ValueError: a changed value the strategy refuses (``parameter: reason``).
        """
        spec = self.spec.with_params(**changes)
        copy = StrategyConfig.model_validate({"name": self.name, **spec.params.model_dump()})
        copy._spec = spec
        return copy


class DataConfig(BaseModel):
    """``data``: the market-data feed.

    ``poll_interval_seconds`` is in simulated seconds in sim mode. Bars complete on minute
    boundaries, so polling every few seconds means a bar is seen just after it closes.
    ``bar_settle_seconds``: a minute without a bar counts as empty (no trade: the strategy's
    windows repeat the last close) once a poll made this long after the minute's end answered
    without one. Alpaca publishes a minute bar 1-3 s after the minute ends; 5 s covers its worst
    case with 2 s to spare for clock skew, and still decides within the minute's first tenth.
    A sub-minute poll never lands before it.
    ``warmup_bars``: minutes of history loaded at start (at least the strategy's warm-up,
    which is also the default).
    """

    model_config = _SECTION
    feed: Literal["iex", "sip"] = "iex"
    poll_interval_seconds: PollSeconds = 5.0
    bar_settle_seconds: Annotated[float, Field(ge=0, le=30, allow_inf_nan=False)] = 5.0
    warmup_bars: WarmupBars | None = None

    @property
    def poll_offset_seconds(self) -> float:
        """How long after each minute boundary the bot polls (the backtest's cycles too).

        A sub-minute interval is that delay, but never before the minute's bars have settled
        (an earlier poll would judge the minute a minute late, and the bot would trade a minute
        after its backtest); a minute or more polls on the minute.
        """
        seconds = self.poll_interval_seconds
        return max(seconds, self.bar_settle_seconds) if seconds < 60 else 0.0


class OrdersConfig(BaseModel):
    """``orders``: how long an unfilled order may live, its time in force, and who holds the
    protective exits (``broker``: Alpaca, as good-till-cancelled orders; ``bot``: the bot watches
    each minute and sends market exits; see :mod:`fleece.protection`)."""

    model_config = _SECTION
    stale_order_minutes: SessionMinutes = 15
    time_in_force: Literal["day"] = "day"
    protective: Literal["broker", "bot"] = "broker"


def _close_mode(value: object) -> object:
    # Before own|all|none the key was a boolean: true (close) now reads as own, the safe reading
    # (the old 'sell every position on the account' was the bug), false as none.
    if value is True:
        return "own"
    if value is False:
        return "none"
    return value


class ShutdownConfig(BaseModel):
    """``shutdown``: what a graceful stop does, within ``grace_seconds``.

    ``close_positions``: ``own`` (the positions the bot's own orders built, see
    :mod:`fleece.ownership`), ``all`` (every position and order on the account) or ``none``;
    ``true``/``false`` read as ``own``/``none``. ``cancel_open_orders`` cancels the bot's open
    orders, every open order only with ``all``. ``keep_protective`` keeps the protective orders
    of the positions left open (the default), whatever the rest.
    """

    model_config = _SECTION
    cancel_open_orders: bool = True
    close_positions: Annotated[Literal["own", "all", "none"], BeforeValidator(_close_mode)] = "own"
    grace_seconds: GraceSeconds = 25.0
    # Protective orders at the broker of positions the stop leaves open stay there (they protect
    # them while the bot is down); false cancels them with the bot's other orders.
    keep_protective: bool = True


class HousekeepingConfig(BaseModel):
    """``housekeeping``: periodic tasks."""

    model_config = _SECTION
    heartbeat_seconds: HeartbeatSeconds = 60.0
    equity_snapshot_seconds: SnapshotSeconds = 60.0
    bar_retention_days: RetentionDays = 30


def _distinct_kinds(values: tuple[EventKind, ...]) -> tuple[EventKind, ...]:
    if len(set(values)) != len(values):
        raise ValueError("an event is listed twice")
    return values


class NotificationsConfig(BaseModel):
    """``notifications``: which events go to ``NOTIFY_URLS``, and how they are delivered."""

    model_config = _SECTION
    events: Annotated[tuple[EventKind, ...], AfterValidator(_distinct_kinds)] = Field(
        default=EVENT_KINDS, strict=False
    )
    min_level: LevelName = "info"
    # Fills within this many real seconds of the first one go out as one message.
    fill_batch_seconds: Annotated[float, Field(ge=0, le=60)] = 2.0
    # Real seconds without one successful broker request before "broker unreachable".
    broker_down_seconds: Annotated[float, Field(ge=10, le=86_400)] = 120.0
    queue_size: Annotated[int, Field(ge=10, le=100_000)] = 1000
    retries: Annotated[int, Field(ge=0, le=10)] = 3
    # Real seconds the stop waits for the last messages (the run summary) to go out.
    flush_seconds: Annotated[float, Field(ge=0, le=120)] = 10.0


class TradingConfig(BaseModel):
    """The whole ``trading.yaml``."""

    model_config = _SECTION
    symbols: SymbolsConfig
    session_policy: Literal["regular_only"] = "regular_only"
    risk: RiskConfig = Field(default_factory=RiskConfig)
    strategy: StrategyConfig = Field(default_factory=StrategyConfig)
    data: DataConfig = Field(default_factory=DataConfig)
    orders: OrdersConfig = Field(default_factory=OrdersConfig)
    shutdown: ShutdownConfig = Field(default_factory=ShutdownConfig)
    housekeeping: HousekeepingConfig = Field(default_factory=HousekeepingConfig)
    notifications: NotificationsConfig = Field(default_factory=NotificationsConfig)

    @property
    def tickers(self) -> tuple[str, ...]:
        """The symbols to trade, in file order."""
        return self.symbols.tickers


def load_trading_config(path: Path) -> TradingConfig:
    """Read and validate a ``trading.yaml``.

    Raises:
        ConfigError: the file is missing, unreadable, empty, malformed or has a bad value.
    """
    source = _shown_path(path)
    raw = _read_yaml(path, source)
    try:
        trading = TradingConfig.model_validate(raw)
    except ValidationError as exc:
        error = _first_error(exc)
        raise ConfigError(source, _dotted(error["loc"]), _reason(error, TradingConfig)) from None
    problem = _protection_problem(trading)
    if problem is not None:
        raise ConfigError(source, *problem)
    # Errors name this file; a file strategy's path is relative to this file's folder.
    trading.strategy.resolve(source, path.parent)
    return trading


def _protection_problem(trading: TradingConfig) -> tuple[str, str] | None:
    """A protective-exit setting the broker cannot hold, as (key, reason)."""
    risk = trading.risk
    mixed = risk.stop_loss_pct is not None or risk.take_profit_pct is not None
    if trading.orders.protective == "broker" and risk.trailing_stop_pct is not None and mixed:
        return (
            "risk.trailing_stop_pct",
            "cannot be combined with stop_loss_pct or take_profit_pct when orders.protective is "
            "broker: a position holds one protective order and Alpaca's OCO legs cannot trail "
            "(use one, or orders.protective: bot)",
        )
    return None


class _UniqueKeyLoader(yaml.SafeLoader):
    """A safe loader that refuses a key repeated in one mapping (YAML would keep the last)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[object] = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            if isinstance(key, str | int | float | bool) and key in seen:
                raise yaml.MarkedYAMLError(
                    problem=f"duplicate key {key!r}", problem_mark=key_node.start_mark
                )
            if isinstance(key, str | int | float | bool):
                seen.add(key)
        return super().construct_mapping(node, deep=deep)

    def construct_checked_timestamp(self, node: yaml.ScalarNode) -> object:
        """Construct a date, turning an impossible one (2024-02-30) into a marked error."""
        try:
            return self.construct_yaml_timestamp(node)
        except ValueError as exc:
            raise yaml.MarkedYAMLError(
                problem=f"invalid date {node.value!r} ({exc})", problem_mark=node.start_mark
            ) from None


_UniqueKeyLoader.add_constructor(
    "tag:yaml.org,2002:timestamp", _UniqueKeyLoader.construct_checked_timestamp
)


def _read_yaml(path: Path, source: str) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(source, FILE_KEY, "file not found (set CONFIG_PATH)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(source, FILE_KEY, f"cannot read the file: {_os_reason(exc)}") from None
    try:
        # The reader rejects control characters as soon as it is built, before any parsing.
        loader = _UniqueKeyLoader(text)
    except yaml.YAMLError as exc:
        raise ConfigError(source, FILE_KEY, f"malformed YAML: {_one_line(exc)}") from None
    try:
        data = loader.get_single_data()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else FILE_KEY
        problem = " ".join(str(exc.problem or exc.context or "unreadable").split())
        raise ConfigError(source, where, f"malformed YAML: {problem}") from None
    except (yaml.YAMLError, ValueError, RecursionError) as exc:
        raise ConfigError(source, FILE_KEY, f"malformed YAML: {_one_line(exc)}") from None
    finally:
        loader.dispose()
    if data is None:
        raise ConfigError(source, FILE_KEY, "the file is empty")
    if not isinstance(data, dict):
        raise ConfigError(
            source,
            "(top level)",
            f"expected a mapping of sections (symbols, risk, ...), got {type(data).__name__}",
        )
    return data


# --------------------------------------------------------------------------- both together


@dataclass(frozen=True)
class AppConfig:
    """Everything the bot needs to start: settings, trading config, and where it came from."""

    settings: Settings
    trading: TradingConfig
    config_path: Path

    @property
    def endpoints(self) -> Endpoints:
        """The checked Alpaca endpoints (see :func:`fleece.paper_lock.resolve_endpoints`)."""
        return resolve_endpoints(self.settings)


def load_config(
    env_file: Path | None = Path(".env"),
    environ: Mapping[str, str] | None = None,
    require_keys: bool = True,
    *,
    config_path: Path | None = None,
) -> AppConfig:
    """Load and validate the whole configuration, paper lock included.

    Args:
        env_file: the ``.env`` file (optional on disk), or None to read none.
        environ: the process environment; None means ``os.environ``.
        require_keys: refuse paper mode without Alpaca keys (sim mode never needs them).
        config_path: the trading YAML; None means ``CONFIG_PATH``.

    Raises:
        LiveTradingRefused: a live flag or a non-paper endpoint was configured.
        ConfigError: any other invalid value, with the file, key and reason.
    """
    settings = load_settings(env_file, environ)
    apply_paper_lock(settings)
    if require_keys:
        require_api_keys(settings)
    path = settings.config_path if config_path is None else _absolute(config_path)
    return AppConfig(settings=settings, trading=load_trading_config(path), config_path=path)


# --------------------------------------------------------------------------- error wording


def _first_error(exc: ValidationError) -> ErrorDetails:
    # An unknown key usually explains the rest (a typo also makes a required key "missing").
    errors = exc.errors(include_url=False)
    unknown = [e for e in errors if e["type"] in ("extra_forbidden", "invalid_key")]
    return (unknown or errors)[0]


_PLAIN_MESSAGES = {
    "missing": "required key is missing",
    "tuple_type": "expected a list",
    "model_type": "expected a section of keys (a mapping)",
    "model_attributes_type": "expected a section of keys (a mapping)",
    "dict_type": "expected a mapping",
    "invalid_key": "keys must be text",
}


def _reason(error: ErrorDetails, model: type[BaseModel], show_input: bool = True) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        return _unknown_key_reason(error["loc"], model)
    if kind == "value_error":
        return _one_line(error["msg"].removeprefix("Value error, "))
    message = _PLAIN_MESSAGES.get(kind) or error["msg"][:1].lower() + error["msg"][1:]
    if show_input and kind != "missing":
        message += f" (got {_short(error['input'])})"
    return message


def _unknown_key_reason(loc: tuple[int | str, ...], model: type[BaseModel]) -> str:
    name = str(loc[-1])  # shown with !r below, so a newline in it stays on one line
    section = _model_at(model, loc[:-1])
    valid = [f.alias or n for n, f in section.model_fields.items()] if section else []
    close = difflib.get_close_matches(name, valid, n=1, cutoff=0.6)
    if close:
        return f"unknown key {name!r}; did you mean {close[0]!r}?"
    return f"unknown key {name!r}; valid keys: {', '.join(valid)}"


def _model_at(model: type[BaseModel], path: tuple[int | str, ...]) -> type[BaseModel] | None:
    for part in path:
        fields = {(f.alias or n): f for n, f in model.model_fields.items()}
        annotation = fields[part].annotation if part in fields else None
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return None
        model = annotation
    return model


def _dotted(loc: tuple[int | str, ...]) -> str:
    key = ""
    for part in loc:
        if isinstance(part, int):
            key += f"[{part}]"
            continue
        # A key read from the file may hold anything, newlines included: quote the odd ones.
        name = part if _PLAIN_KEY.fullmatch(part) else ascii(part)
        key += f".{name}" if key else name
    return key or "(top level)"


def _short(value: object) -> str:
    text = _one_line(repr(value))
    return text if len(text) <= 60 else text[:57] + "..."


def _one_line(value: object) -> str:
    return " ".join(str(value).split())


def _os_reason(exc: Exception) -> str:
    return exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__


def _shown_path(path: Path) -> str:
    """Show ``path`` relative to the current directory when it lies below it."""
    try:
        return str(path.absolute().relative_to(Path.cwd()))
    except ValueError:
        return str(path)
