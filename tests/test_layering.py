"""The decision core and the backtest stand on their own: no broker SDK, no web stack."""

from __future__ import annotations

import subprocess
import sys

CORE = (
    "fleece.strategy",
    "fleece.risk_manager",
    "fleece.risk_limits",
    "fleece.circuit_breaker",
    "fleece.order_manager",
    "fleece.trader",
    "fleece.calendar",
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


def test_the_decision_core_is_wired_in_one_place() -> None:
    # One kernel for live, exchange runs and backtests: a second place that builds the trader,
    # the order manager or the risk manager is a second wiring waiting to diverge.
    import ast
    from pathlib import Path

    src = Path(__file__).resolve().parents[1] / "src" / "fleece"
    wiring = {"Trader", "OrderManager", "RiskManager"}
    builders: dict[str, set[str]] = {}
    for path in sorted(src.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            called = isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
            if called and node.func.id in wiring:  # type: ignore[attr-defined]
                builders.setdefault(node.func.id, set()).add(path.name)  # type: ignore[attr-defined]

    assert builders == {name: {"kernel.py"} for name in wiring}


def test_the_live_runtime_and_the_backtest_both_build_the_kernel() -> None:
    from pathlib import Path

    src = Path(__file__).resolve().parents[1] / "src" / "fleece"
    for module in ("runtime.py", "backtest/runner.py"):
        assert "build_kernel(" in (src / module).read_text(), module
