"""The frame of the self-contained HTML reports (a backtest's, a sweep's): one page shape.

Each page carries its style and plotly.js inline so that it opens offline, from a file, years
later; the report modules write only what goes in the body.
"""

from __future__ import annotations

import html
import importlib.util
from pathlib import Path

#: A chart's x axis over market hours only: weekends and 16:00 to 09:30 New York left out.
TRADING_HOURS = [{"bounds": ["sat", "mon"]}, {"pattern": "hour", "bounds": [16, 9.5]}]

#: The reports' common look: plain tables, muted notes.
STYLE = """
body { font-family: system-ui, sans-serif; margin: 24px; color: #222; }
table { border-collapse: collapse; margin: 8px 0 24px; font-size: 14px; }
td, th { border: 1px solid #ccc; padding: 4px 10px; text-align: right; }
th { background: #f3f3f3; }
.note { color: #666; font-size: 13px; }
"""


def plotly_js_path() -> Path:
    """Where the installed ``plotly`` package keeps plotly.js (found without importing plotly:
    no figure machinery). The reports inline it; the dashboard serves it."""
    spec = importlib.util.find_spec("plotly")
    if spec is None or spec.origin is None:
        raise RuntimeError("the plotly package is not installed (it is a dependency)")
    return Path(spec.origin).parent / "package_data" / "plotly.min.js"


def plotly_js() -> str:
    """plotly.js as the plotly package ships it."""
    return plotly_js_path().read_text("utf-8")


def html_page(title: str, body: str, style: str = STYLE) -> str:
    """A whole HTML page: ``body`` under ``title``, with ``style`` and plotly.js inlined.

    Args:
        title: the page's title (plain text; escaped here).
        body: the page's content, HTML.
        style: the page's CSS (:data:`STYLE` by default).
    """
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{html.escape(title)}</title>
<style>{style}</style>
<script type="text/javascript">{plotly_js()}</script>
</head>
<body>
{body}
</body>
</html>
"""
