"""Where the tasks run: in this process, or on Dask (a LocalCluster or any scheduler).

Both executors take the same tasks and give back the same outcomes, in task order: the Dask
one only changes where :func:`~fleece.sweep.tasks.execute` runs. The bars are scattered to the
workers once (one copy per worker, broadcast) and every task receives a reference to that copy,
so a thousand tasks ship a thousand small :class:`~fleece.sweep.tasks.TaskSpec`, never the bars
again. The workers need the ``fleece`` package (same version), not the data files.

The strategy travels by value inside each task (its name, its parameters as JSON data, the
folder its file path starts from; see :class:`~fleece.strategy.registry.StrategySpec`) and is
found again on the worker: a strategy from a user's file needs that file at the same path on
every worker (:func:`check_strategy` makes sure before anything is submitted), one from an
installed package needs the package there.

A task that raises inside the backtest comes back as a failed outcome (``execute`` catches it);
a task that dies around it (a worker killed, a result that cannot travel) is caught here and
reported the same way, with its parameters.
"""

from __future__ import annotations

import importlib.metadata
import logging
import os
import platform
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Protocol

import dask
from distributed import Client, Future, LocalCluster, WorkerPlugin, as_completed

from fleece.backtest.data import MarketData
from fleece.errors import FleeceError
from fleece.strategy.registry import StrategySpec, rebuild
from fleece.sweep.tasks import BacktestFn, Outcome, TaskSpec, describe_error, execute, run_task

OnDone = Callable[[Outcome], None]
#: Seconds to wait for a scheduler given with ``--scheduler``, or for its first worker.
CONNECT_TIMEOUT = 30
#: Dask's setting that starts the scheduler's Active Memory Manager (see :func:`open_client`).
AMM_START = "distributed.scheduler.active-memory-manager.start"


class SweepError(FleeceError):
    """A sweep cannot start or go on (no workers, workers without fleece, too few sessions)."""


class Executor(Protocol):
    """Runs tasks and returns their outcomes in task order."""

    def run(self, specs: Sequence[TaskSpec], on_done: OnDone | None = None) -> list[Outcome]:
        """Run every task; ``on_done`` is called once per task as it finishes."""
        ...


class SerialExecutor:
    """Every task, one by one, in this process (the reference the Dask executor must match).

    Args:
        market: every bar of the sweep.
        backtest: the function that runs a task.
    """

    def __init__(self, market: MarketData, backtest: BacktestFn = run_task) -> None:
        self.market = market
        self.backtest = backtest

    def run(self, specs: Sequence[TaskSpec], on_done: OnDone | None = None) -> list[Outcome]:
        """Run the tasks in order."""
        outcomes: list[Outcome] = []
        for spec in specs:
            outcome = execute(self.market, spec, self.backtest)
            outcomes.append(outcome)
            if on_done is not None:
                on_done(outcome)
        return outcomes


class DaskExecutor:
    """Tasks on a Dask cluster, one backtest per task, bars scattered once.

    Args:
        client: a connected client (see :func:`open_client`).
        market: every bar of the sweep; scattered on the first :meth:`run`, kept for the next.
        backtest: the function that runs a task; it travels to the workers by reference, so it
            must be importable there (a module-level function of an installed package).
    """

    def __init__(self, client: Client, market: MarketData, backtest: BacktestFn = run_task) -> None:
        self.client = client
        self.market = market
        self.backtest = backtest
        self._bars: Future[MarketData] | None = None
        # Unique task keys per executor: two sweeps on one scheduler never share results.
        self._prefix = f"fleece-sweep-{uuid.uuid4().hex[:12]}"

    @property
    def bars(self) -> Future[MarketData]:
        """The bars on the cluster (a future), scattered to every worker on first use."""
        if self._bars is None:
            # broadcast: a copy on every worker now, rather than fetched by each on first use.
            self._bars = self.client.scatter(  # type: ignore[no-untyped-call]
                self.market, broadcast=True, hash=False
            )
        return self._bars

    def run(self, specs: Sequence[TaskSpec], on_done: OnDone | None = None) -> list[Outcome]:
        """Submit every task, collect outcomes as they finish, return them in task order."""
        if not specs:
            return []
        bars = self.bars
        by_key: dict[str, TaskSpec] = {}
        futures: list[Future[Outcome]] = []
        for spec in specs:
            key = f"{self._prefix}-{spec.phase}-{spec.id}"
            by_key[key] = spec
            futures.append(
                self.client.submit(execute, bars, spec, self.backtest, key=key, pure=False)
            )
        done: dict[int, Outcome] = {}
        for future in as_completed(futures):  # type: ignore[no-untyped-call]
            spec = by_key[str(future.key)]
            try:
                outcome = future.result()
            except Exception as exc:  # a lost task is reported, not raised
                outcome = Outcome.failed(spec, describe_error(exc))
            future.release()
            done[spec.id] = outcome
            if on_done is not None:
                on_done(outcome)
        return [done[spec.id] for spec in specs]


def worker_versions() -> dict[str, str]:
    """This process's Python and fleece versions (run on every worker to check them)."""
    return {
        "python": platform.python_version(),
        "fleece": importlib.metadata.version("alpaca-fleece"),
    }


def check_workers(client: Client, timeout: float = CONNECT_TIMEOUT) -> int:
    """Make sure the cluster has workers able to run fleece; returns how many.

    Args:
        client: the connected client.
        timeout: seconds to wait for a first worker to join.

    Raises:
        SweepError: no worker, or a worker without fleece or with another version of it.
    """
    here = worker_versions()
    try:
        client.wait_for_workers(1, timeout=timeout)
    except TimeoutError:
        raise SweepError(f"no Dask worker joined the scheduler within {timeout:g} s") from None
    try:
        found: dict[str, dict[str, str]] = client.run(worker_versions)
    except Exception as exc:  # any failure here: cannot run fleece
        raise SweepError(
            "the Dask workers cannot run fleece (install alpaca-fleece, the same version as "
            f"here, {here['fleece']}, on every worker): {describe_error(exc)}"
        ) from None
    if not found:
        raise SweepError("the Dask cluster has no workers")
    for address, versions in sorted(found.items()):
        if versions["fleece"] != here["fleece"]:
            raise SweepError(
                f"worker {address} runs fleece {versions['fleece']}, this machine "
                f"{here['fleece']}: install the same version everywhere"
            )
    return len(found)


def strategy_problem(name: str, params: dict[str, Any], base: str | None) -> str | None:
    """Why this process cannot build the strategy (run on every worker), or None if it can."""
    try:
        rebuild(name, params, base).build()
    except Exception as exc:  # anything: the sweep must not start on this worker
        return " ".join(str(getattr(exc, "reason", exc)).split())
    return None


def check_strategy(client: Client, spec: StrategySpec) -> None:
    """Make sure every worker finds and builds the configured strategy, as tasks will.

    Raises:
        SweepError: naming the first worker that cannot, and why (e.g. a strategy file that is
            not at the same path on that machine).
    """
    found: dict[str, str | None] = client.run(strategy_problem, *spec.by_value())
    for address, problem in sorted(found.items()):
        if problem is not None:
            raise SweepError(
                f"worker {address} cannot load the strategy {spec.name} ({problem}): put the "
                "file at the same path on every worker, or install it as a package there"
            )


def default_workers() -> int:
    """Workers of the default LocalCluster: one per core."""
    return os.cpu_count() or 1


@contextmanager
def open_client(scheduler: str | None = None, workers: int | None = None) -> Iterator[Client]:
    """A Dask client: to ``scheduler`` when given, else to a new LocalCluster.

    The LocalCluster has ``workers`` processes (one per core by default) of one thread each:
    a backtest is pure Python, so threads would only queue on the GIL.

    Args:
        scheduler: a scheduler address such as ``tcp://10.0.0.5:8786``.
        workers: worker processes of the LocalCluster.

    Raises:
        SweepError: the scheduler cannot be reached.
    """
    if scheduler is not None:
        try:
            client = Client(scheduler, timeout=CONNECT_TIMEOUT)  # type: ignore[no-untyped-call]
        except OSError as exc:
            raise SweepError(f"cannot reach the Dask scheduler {scheduler}: {exc}") from None
        with client:
            yield client
        return
    options: dict[str, Any] = {
        "n_workers": workers or default_workers(),
        "threads_per_worker": 1,
        "processes": True,
        # Loopback on a free port: the scheduler's HTTP endpoints stay on this machine and never
        # fight another cluster (or anything else) for the default port 8787.
        "dashboard_address": "127.0.0.1:0",
    }
    # Without the Active Memory Manager: its default policy drops every copy of a key beyond
    # the first that no queued task waits for, every 2 s. The bars scattered to every worker
    # would then be held by one worker a few seconds into a sweep, the next tasks would queue
    # there (or fetch the bars again), and how many workers got tasks would depend on the
    # machine's speed. Nothing else a sweep keeps on the cluster needs reclaiming.
    with dask.config.set({AMM_START: False}):
        cluster = LocalCluster(**options)  # type: ignore[no-untyped-call]
    with cluster, Client(cluster) as client:  # type: ignore[no-untyped-call]
        yield client


class QuietFleeceLogs(WorkerPlugin):
    """Keeps each worker's fleece loggers to errors: a thousand backtests would otherwise print
    every daily-loss warning of every run over the progress bar."""

    def setup(self, worker: Any) -> None:
        """Raise the fleece loggers' level on the worker."""
        logging.getLogger("fleece").setLevel(logging.ERROR)
