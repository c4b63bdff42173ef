#!/usr/bin/env python3
"""The seed's entry point: ``python orchestrator.py`` starts the same bot as ``fleece run``.

Run it from the project's virtual environment (``source .venv/bin/activate``). Extra arguments are
passed to ``fleece run`` (e.g. ``--env-file``).
"""

import sys
from pathlib import Path

# Works from a checkout even before the package is installed into the environment.
sys.path.insert(0, str(Path(__file__).resolve().parent / "src"))

from fleece.cli import app

if __name__ == "__main__":
    app(["run", *sys.argv[1:]], prog_name="orchestrator.py")
