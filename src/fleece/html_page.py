"""The shell of alpaca-fleece's self-contained HTML reports: one page, plotly.js inlined.

The backtest report and the sweep report are single files that open offline; each passes its
title, its style sheet and its body, and the shell around them is written here once.
"""

from __future__ import annotations

from importlib import resources


def plotly_js() -> str:
    """plotly.js as the plotly package ships it (read, not imported: no figure machinery)."""
    return (resources.files("plotly") / "package_data" / "plotly.min.js").read_text("utf-8")


def html_page(title: str, style: str, body: str) -> str:
    """A whole HTML page: ``title`` (already escaped), ``style`` (CSS) and ``body`` (HTML)."""
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title}</title>
<style>{style}</style>
<script type="text/javascript">{plotly_js()}</script>
</head>
<body>
{body}
</body>
</html>
"""
