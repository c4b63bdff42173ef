"""alpaca-fleece: a paper-only trading bot for Alpaca, with a built-in exchange."""
