"""The notification specifications drive the real bot with the runtime's builders and fixtures."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "runtime"))

from runtime_fixtures import market, paths

__all__ = ["market", "paths"]
