"""The runtime's specifications share one scenario's files and a stepped market."""

from __future__ import annotations

from runtime_fixtures import market, paths

__all__ = ["market", "paths"]
