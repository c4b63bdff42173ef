"""Configuration: the environment (``.env`` plus the process environment) and ``trading.yaml``.

Everything is validated once, at startup. A bad value never gets past :func:`load_config`: it
becomes a :class:`~fleece.errors.ConfigError` whose message is one line naming the file, the
key and the reason, e.g. ``config/trading.yaml: risk.max_postion_pct: unknown key ...``.

* :class:`Settings` holds the environment variables (``ALPACA_API_KEY`` ...), read by
  :func:`load_settings` (both in :mod:`fleece.config_env`); the process environment wins over
  the ``.env`` file (read, and refused line by line, by :mod:`fleece.config_env_file`).
* :class:`TradingConfig` holds ``trading.yaml`` (its sections in :mod:`fleece.config_sections`),
  read by :func:`load_trading_config`; every section but ``symbols`` has defaults, so the
  seed's short file stays valid.
* Refusals are worded by :mod:`fleece.config_errors`.
* :func:`load_config` reads both, applies the paper lock (:mod:`fleece.paper_lock`) and
  returns an :class:`AppConfig`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import (
    ValidationError,
)

from fleece.config_bounds import (
    Count,  # noqa: F401 (kept here for keys with no more telling bound)
    Seconds,  # noqa: F401 (as Count)
)
from fleece.config_env import (
    ENV_NAMES,
    KEYS_HINT,
    Settings,
    _absolute,
    check_dashboard_binding,
    load_settings,
    require_api_keys,
    secret_texts,
)
from fleece.config_env_file import env_file_warning
from fleece.config_errors import (
    FILE_KEY,
    _dotted,
    _first_error,
    _one_line,
    _os_reason,
    _reason,
    _shown_path,
)
from fleece.config_sections import (
    DataConfig,
    HousekeepingConfig,
    NotificationsConfig,
    OrdersConfig,
    RiskConfig,
    ShutdownConfig,
    StrategyConfig,
    SymbolsConfig,
    TradingConfig,
)
from fleece.errors import ConfigError
from fleece.paper_lock import Endpoints, apply_paper_lock, resolve_endpoints

# The names other modules import from here (the settings and sections live in their own files).
__all__ = [
    "ENV_NAMES",
    "FILE_KEY",
    "KEYS_HINT",
    "AppConfig",
    "DataConfig",
    "HousekeepingConfig",
    "NotificationsConfig",
    "OrdersConfig",
    "RiskConfig",
    "Settings",
    "ShutdownConfig",
    "StrategyConfig",
    "SymbolsConfig",
    "TradingConfig",
    "check_dashboard_binding",
    "env_file_warning",
    "load_config",
    "load_settings",
    "load_trading_config",
    "require_api_keys",
    "secret_texts",
]


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
