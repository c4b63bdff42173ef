"""Backtests on the live bot's own decision core (see :mod:`fleece.backtest.runner`)."""
