"""What the configuration specs share: reading a trading.yaml that must be refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from fleece.config import load_trading_config
from fleece.errors import ConfigError


def refusal_of(path: Path) -> ConfigError:
    """The refusal of the trading.yaml at ``path``, which must be one line."""
    with pytest.raises(ConfigError) as info:
        load_trading_config(path)
    assert "\n" not in str(info.value)
    return info.value
