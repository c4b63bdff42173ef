"""Parameter sweeps and walk-forward tests of the backtest engine, on Dask.

* :mod:`~fleece.sweep.axes`: the axes from the command line (``--param NAME=V1,V2``, typed).
* :mod:`~fleece.sweep.grid`: the parameter grid (valid points and skipped combinations).
* :mod:`~fleece.sweep.walkforward`: rolling train/test windows, the choice, the chained curve.
* :mod:`~fleece.sweep.tasks`: one backtest per task; failures become outcomes, never exceptions.
* :mod:`~fleece.sweep.executor`: in-process or Dask (LocalCluster or ``tcp://HOST:8786``).
* :mod:`~fleece.sweep.sweep`: plan and run a sweep.
* :mod:`~fleece.sweep.results` and :mod:`~fleece.sweep.report`: tables and the HTML report.
* :mod:`~fleece.sweep.cli`: ``fleece sweep``.

Names are re-exported lazily: ``fleece --help`` should not import Dask.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fleece.lazy_exports import lazy_getattr

if TYPE_CHECKING:
    from fleece.sweep.executor import DaskExecutor, SerialExecutor, SweepError, open_client
    from fleece.sweep.grid import GridAxes, Params, build_grid
    from fleece.sweep.metrics import METRICS
    from fleece.sweep.sweep import SweepPlan, SweepResult, SweepSpec, plan_sweep, run_sweep
    from fleece.sweep.tasks import Outcome, TaskSpec
    from fleece.sweep.walkforward import WalkForward, Window, make_windows

_HOME = {
    "DaskExecutor": "executor",
    "SerialExecutor": "executor",
    "SweepError": "executor",
    "open_client": "executor",
    "GridAxes": "grid",
    "Params": "grid",
    "build_grid": "grid",
    "METRICS": "metrics",
    "SweepPlan": "sweep",
    "SweepResult": "sweep",
    "SweepSpec": "sweep",
    "plan_sweep": "sweep",
    "run_sweep": "sweep",
    "Outcome": "tasks",
    "TaskSpec": "tasks",
    "WalkForward": "walkforward",
    "Window": "walkforward",
    "make_windows": "walkforward",
}

__all__ = [
    "METRICS",
    "DaskExecutor",
    "GridAxes",
    "Outcome",
    "Params",
    "SerialExecutor",
    "SweepError",
    "SweepPlan",
    "SweepResult",
    "SweepSpec",
    "TaskSpec",
    "WalkForward",
    "Window",
    "build_grid",
    "make_windows",
    "open_client",
    "plan_sweep",
    "run_sweep",
]


__getattr__ = lazy_getattr(__name__, _HOME)
