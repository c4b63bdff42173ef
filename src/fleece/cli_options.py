"""Command-line options that several ``fleece`` commands take, declared once.

A command names the type and its default, e.g. ``env_file: EnvFile = Path(".env")``, so that the
option reads the same (flag, environment variable, help) wherever it appears.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

EnvFile = Annotated[Path, typer.Option("--env-file", help="the .env file to read")]
"""The ``.env`` file a command reads its settings from."""

PidFile = Annotated[
    Path,
    typer.Option("--pid-file", envvar="BOT_PID_FILE", help="the PID file of bot.sh / daemon.py"),
]
"""The running bot's PID file (``BOT_PID_FILE``)."""

ConfigFile = Annotated[
    Path | None, typer.Option("--config", help="the trading YAML (default: CONFIG_PATH)")
]
"""The trading config a command reads instead of ``CONFIG_PATH``'s (default None)."""

AsJson = Annotated[bool, typer.Option("--json", help="print JSON instead of tables (for scripts)")]
"""Print the answer as JSON (default False)."""

# ---- the market a simulation runs over: the exchange, the backtest and the sweep ----------

BarsFolder = Annotated[
    Path | None, typer.Option("--data", help="folder of <SYMBOL>.csv / .parquet minute bars")
]
"""Recorded minute bars to run over (default None: ``--synthetic``)."""

Synthetic = Annotated[
    bool,
    typer.Option("--synthetic/--no-synthetic", help="seeded synthetic bars instead of --data"),
]
"""Run over seeded synthetic bars (default False)."""

FirstDay = Annotated[
    str | None, typer.Option("--start", help="first day, YYYY-MM-DD (default: where bars start)")
]
"""The first day to run (default None: the bars' first)."""

LastDay = Annotated[str | None, typer.Option("--end", help="last day, YYYY-MM-DD")]
"""The last day to run (default None: the bars' last)."""

Seed = Annotated[int, typer.Option("--seed", help="seed of the synthetic bars")]
"""The seed of ``--synthetic`` bars (the same seed gives the same bars)."""

Cash = Annotated[float, typer.Option("--cash", help="starting cash in dollars")]
"""The account's cash at the start."""

SlippageBps = Annotated[
    float, typer.Option("--slippage-bps", help="market-order slippage, basis points")
]
"""Market-order slippage (:func:`fleece.exchange.matching.slipped`)."""
