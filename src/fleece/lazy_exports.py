"""One rule for the packages that re-export their public names lazily.

A package ``__init__`` maps each public name to the submodule it lives in and imports that
submodule only when the name is first asked for, so that importing the package (``fleece --help``,
the live feed) does not pay for numpy, pandas, Dask or plotly it may never use.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from importlib import import_module
from typing import Any


def lazy_getattr(package: str, homes: Mapping[str, str]) -> Callable[[str], Any]:
    """The module-level ``__getattr__`` for ``package`` (PEP 562).

    Args:
        package: the package's ``__name__``.
        homes: each public name and the submodule of ``package`` that defines it.

    Returns:
        A function that imports ``package.<home>`` on first use and returns the name from it,
        raising :class:`AttributeError` for a name the package does not export.
    """

    def getattr_lazily(name: str) -> Any:
        home = homes.get(name)
        if home is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(import_module(f"{package}.{home}"), name)

    return getattr_lazily
