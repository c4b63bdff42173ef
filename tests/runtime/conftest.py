"""The runtime's specifications share one scenario's files, a stepped market and
the bot processes to clean up."""

from __future__ import annotations

from runtime_fixtures import bots, market, paths

__all__ = ["bots", "market", "paths"]
