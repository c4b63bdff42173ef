"""The Dask cluster shared by the sweep specifications (it takes a few seconds to start)."""

from __future__ import annotations

from collections.abc import Iterator

import cloudpickle
import dask
import pytest
import sweep_helpers
from distributed import Client

from fleece.sweep.executor import open_client


@pytest.fixture(scope="session")
def dask_client() -> Iterator[Client]:
    """A LocalCluster of 2 worker processes, as ``fleece sweep --workers 2`` starts."""
    # The test helpers are not an installed package: ship them by value to the workers.
    cloudpickle.register_pickle_by_value(sweep_helpers)
    # A task whose worker dies is given up at once (the default retries it on 3 more workers).
    failures = {"distributed.scheduler.allowed-failures": 0}
    with dask.config.set(failures), open_client(workers=2) as client:
        yield client
