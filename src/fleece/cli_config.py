"""``fleece config check``: validate the configuration and show it, secrets masked.

Exit code 0 with two tables (environment, trading.yaml) when everything is valid; exit code 2
with one ``error: <file>: <key>: <reason>`` line on stderr otherwise. "Valid" is what the bot
can start with: the values' bounds, and the disk and calendar checks of :mod:`fleece.preflight`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import typer
from pydantic import BaseModel, SecretStr
from rich.console import Console
from rich.table import Table
from rich.text import Text

from fleece.cli_options import ConfigFile
from fleece.cli_support import cli_errors
from fleece.config import FILE_KEY, AppConfig, Settings, TradingConfig, load_config
from fleece.errors import ConfigError
from fleece.net_proxy import describe_routes
from fleece.paper_lock import DATA_URL, PAPER_TRADING_URL, Endpoints, is_loopback_url
from fleece.preflight import preflight

config_app = typer.Typer(
    help="Inspect and validate the configuration (.env, environment and trading.yaml).",
    no_args_is_help=True,
    add_completion=False,
)

NOT_SET = "(not set)"


def mask_secret(secret: SecretStr | None) -> str:
    """Show a secret as ``****`` plus its length: never the value, not even a prefix."""
    if secret is None:
        return NOT_SET
    return f"****({len(secret.get_secret_value())} chars)"


def _shown(value: object) -> str:
    if value is None:
        return NOT_SET
    if isinstance(value, SecretStr):
        return mask_secret(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple | list):
        return ", ".join(str(item) for item in value)
    return str(value)


def settings_table(settings: Settings) -> Table:
    """The environment variables: name, value (secrets masked) and where each came from."""
    table = Table(title="Environment", title_justify="left")
    table.add_column("variable", no_wrap=True)
    table.add_column("value", no_wrap=True)
    table.add_column("source")
    for field in Settings.model_fields:
        name = field.upper()
        # Text cells: values are shown literally, never interpreted as rich markup.
        table.add_row(
            Text(name), Text(_shown(getattr(settings, field))), Text(settings.source_of(name))
        )
    return table


def _flatten(model: BaseModel, prefix: str = "") -> Iterator[tuple[str, object]]:
    for name, field in type(model).model_fields.items():
        key = prefix + (field.alias or name)
        value = getattr(model, name)
        if isinstance(value, BaseModel):
            yield from _flatten(value, key + ".")
        else:
            yield key, value


def trading_table(trading: TradingConfig, path: Path) -> Table:
    """The trading configuration as dotted keys, defaults included."""
    table = Table(title=f"Trading config ({path})", title_justify="left")
    table.add_column("key", no_wrap=True)
    table.add_column("value")
    for key, value in _flatten(trading):
        table.add_row(Text(key), Text(_shown(value)))
    return table


def _endpoint_lines(endpoints: Endpoints) -> list[str]:
    if endpoints.trading_url is None and endpoints.local:
        return ["trading and data: the built-in exchange on 127.0.0.1, started by the bot"]
    trading = endpoints.trading_url or f"{PAPER_TRADING_URL} (alpaca-py paper default)"
    data = endpoints.data_url or f"{DATA_URL} (alpaca-py default)"
    return [f"trading: {trading}", f"data: {data}"]


def proxy_lines(endpoints: Endpoints) -> list[str]:
    """Which proxy each API would go through (fleece.net_proxy decides; never its password).

    Raises:
        ConfigError: the environment names a proxy that cannot carry Alpaca's API.
    """
    if endpoints.trading_url is None and endpoints.local:
        return ["the built-in exchange: proxy none (loopback is always reached directly)"]
    trading = endpoints.trading_url or PAPER_TRADING_URL
    data = endpoints.data_url or DATA_URL
    urls = {"trading": (trading, is_loopback_url(trading)), "data": (data, is_loopback_url(data))}
    return describe_routes(urls)


def render(config: AppConfig, console: Console) -> None:
    """Print the resolved configuration on ``console``."""
    console.print(settings_table(config.settings))
    console.print(trading_table(config.trading, config.config_path))
    for line in _endpoint_lines(config.endpoints):
        console.print(Text(f"paper lock: {line}"))
    for line in proxy_lines(config.endpoints):
        console.print(Text(f"network: {line}"))
    console.print(Text("configuration OK"))


@config_app.callback()
def _config() -> None:
    """Inspect and validate the configuration."""


@config_app.command("check")
@cli_errors
def check(
    env_file: Annotated[
        Path | None,
        typer.Option("--env-file", help="The .env file to read (default: ./.env, if present)."),
    ] = None,
    config: ConfigFile = None,
) -> None:
    """Validate .env, the environment and trading.yaml; print them with secrets masked."""
    if env_file is not None and not env_file.is_file():
        # The default .env is optional, but a file named on the command line must exist.
        raise ConfigError(str(env_file), FILE_KEY, "file not found")
    app_config = load_config(
        env_file=Path(".env") if env_file is None else env_file, config_path=config
    )
    preflight(app_config)
    render(app_config, Console())


if __name__ == "__main__":
    config_app()
