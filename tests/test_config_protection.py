"""Specification of the protective-exit settings: off by default, bounded, one-line errors.

``risk.stop_loss_pct``, ``risk.take_profit_pct`` and ``risk.trailing_stop_pct`` (fractions of the
entry price) and ``orders.protective: broker|bot``; the seed's file sets none of them, and then
nothing about its trading changes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from fleece.config import load_trading_config
from fleece.errors import ConfigError
from fleece.kernel import protection_of
from fleece.protection import Protection

REPO = Path(__file__).resolve().parents[1]


def written(tmp_path: Path, **sections: dict[str, Any]) -> Path:
    path = tmp_path / "trading.yaml"
    document = {"symbols": {"list": ["SPY"]}, **sections}
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    return path


def test_the_shipped_configuration_has_no_protective_exits() -> None:
    trading = load_trading_config(REPO / "config" / "trading.yaml")

    assert protection_of(trading) == Protection()
    assert not protection_of(trading).on
    assert trading.shutdown.keep_protective is True


def test_levels_and_the_mode_reach_the_kernel(tmp_path: Path) -> None:
    path = written(
        tmp_path,
        risk={"stop_loss_pct": 0.02, "take_profit_pct": 0.04},
        orders={"protective": "bot"},
    )

    assert protection_of(load_trading_config(path)) == Protection(0.02, 0.04, None, "bot")


@pytest.mark.parametrize("value", [0, -0.01, "2%"])
def test_a_level_that_is_no_positive_fraction_is_refused_in_one_line(
    tmp_path: Path, value: object
) -> None:
    with pytest.raises(ConfigError) as info:
        load_trading_config(written(tmp_path, risk={"stop_loss_pct": value}))

    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{tmp_path / 'trading.yaml'}: risk.stop_loss_pct: ")


def test_an_unknown_protective_mode_is_refused_naming_the_choices(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_trading_config(written(tmp_path, orders={"protective": "exchange"}))

    assert "orders.protective" in str(info.value)
    assert "'broker' or 'bot'" in str(info.value)


def test_a_trailing_stop_beside_fixed_levels_is_refused_when_the_broker_holds_them(
    tmp_path: Path,
) -> None:
    both = {"stop_loss_pct": 0.02, "trailing_stop_pct": 0.01}

    with pytest.raises(ConfigError) as info:
        load_trading_config(written(tmp_path, risk=both))
    watched = load_trading_config(written(tmp_path, risk=both, orders={"protective": "bot"}))

    assert str(info.value).startswith(f"{tmp_path / 'trading.yaml'}: risk.trailing_stop_pct: ")
    assert "Alpaca's OCO legs cannot trail" in str(info.value)
    assert protection_of(watched).watched
