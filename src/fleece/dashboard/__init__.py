"""The web dashboard, Prometheus metrics and the health check.

* :class:`DashboardServer` serves the page, the JSON API under ``/api/``, ``/metrics`` and
  ``/healthz`` inside the running bot's event loop (the runtime starts it), or over a stopped
  bot's store (:func:`serve_store`, the ``fleece dashboard`` command).
* :func:`create_app` builds the FastAPI app over a :class:`DashboardView` (the read model).
"""

from fleece.dashboard.app import create_app
from fleece.dashboard.server import DashboardServer, serve_store
from fleece.dashboard.view import DashboardView

__all__ = ["DashboardServer", "DashboardView", "create_app", "serve_store"]
