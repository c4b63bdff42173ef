"""One ticker rule (config_sections.ticker_problem) for the config's ``symbols.list`` and the
``--symbols`` options of ``fleece backtest``/``data download`` and ``fleece sweep``: a symbol
also names its bar file, so a path or a pair must not slip in through the command line."""

from __future__ import annotations

import pytest

from fleece.backtest.cli import parse_symbols
from fleece.config_sections import ticker_problem
from fleece.errors import ConfigError
from fleece.sweep.axes import parse_symbol_sets

NOT_TICKERS = ["../etc/passwd", "AA PL", "TOOLONG", "BTC/USD", "$SPY", "SPY.CSV"]


@pytest.mark.parametrize("text", NOT_TICKERS)
def test_the_command_lines_refuse_what_the_config_refuses(text: str) -> None:
    assert ticker_problem(text.upper()) is not None

    with pytest.raises(ConfigError, match=r"--symbols.*invalid symbol"):
        parse_symbols(f"SPY,{text}")
    with pytest.raises(ConfigError, match=r"--symbols.*invalid symbol"):
        parse_symbol_sets([f"SPY,{text}"])


@pytest.mark.parametrize("text", ["spy", "BRK.B", "googl"])
def test_the_command_lines_take_tickers_in_any_case(text: str) -> None:
    assert ticker_problem(text.upper()) is None

    assert parse_symbols(text) == [text.upper()]
    assert parse_symbol_sets([text]) == ((text.upper(),),)
