"""The decision core and the backtest stand on their own: no broker SDK, no web stack."""

from __future__ import annotations

import subprocess
import sys

CORE = (
    "fleece.strategy",
    "fleece.risk_manager",
    "fleece.order_manager",
    "fleece.trader",
    "fleece.sessions",
    "fleece.backtest.runner",
    "fleece.backtest.cli",
)


def test_core_and_backtest_import_without_alpaca_py_or_the_web_stack() -> None:
    # A fresh interpreter: the test process itself has long imported everything.
    probe = (
        "import importlib, sys\n"
        f"for name in {CORE!r}: importlib.import_module(name)\n"
        "loaded = {m.split('.')[0] for m in sys.modules}\n"
        "print(','.join(sorted(loaded & {'alpaca', 'fastapi', 'uvicorn'})))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    )

    assert done.stdout.strip() == ""
