"""The page words what it shows as the text viewers do (its JavaScript runs under node).

The dashboard's page formats in the browser; where it shows the same thing as ``fleece status``,
``/healthz`` or a notification, its rule must be the same. Without node the spec is skipped,
except in CI, where it must run.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

import fleece.dashboard
from fleece.notify.messages import duration_text

NODE = shutil.which("node")
pytestmark = pytest.mark.skipif(
    NODE is None and not os.environ.get("CI"), reason="node is not installed (CI runs this)"
)
PAGE_JS = Path(fleece.dashboard.__file__).parent / "static" / "dashboard.js"
TIMEOUT_S = 60  # a guard against a hung interpreter, never a measured expectation


def page_function(name: str) -> str:
    """The source of one top-level ``function name(...) {...}`` of dashboard.js."""
    text = PAGE_JS.read_text("utf-8")
    start = text.index(f"function {name}(")
    return text[start : text.index("\n}\n", start) + 2]


def run_page(function: str, args: list[float]) -> list[str]:
    """``function`` of the page applied to each of ``args``, by node."""
    script = (
        page_function(function)
        + f"\nconsole.log(JSON.stringify({json.dumps(args)}.map({function})));\n"
    )
    assert NODE is not None
    done = subprocess.run(
        [NODE, "-e", script], capture_output=True, text=True, check=True, timeout=TIMEOUT_S
    )
    return list(json.loads(done.stdout))


def test_the_page_words_a_duration_as_fleece_status_and_healthz_do() -> None:
    # Ages on the page (last bar, heartbeat, market opens in) read like the age and limit of
    # /healthz and fleece status; it once said "6m" where they said "400s" and "400 s".
    seconds = [
        0,
        44.5,
        59,
        61,
        119.5,
        120,
        400,
        3599.5,
        7199,
        7200,
        7230,
        11_100,
        172_799,
        172_800,
        235_800,
        1e6,
    ]

    assert run_page("fmtDuration", seconds) == [duration_text(s) for s in seconds]
