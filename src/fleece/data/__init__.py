"""Market data for offline use: validation, import/export of real bars, synthetic bars.

* :mod:`~fleece.data.validate`: the reason vocabulary and checks shared with the live feed.
* :mod:`~fleece.data.parsing`: raw API objects and file rows read into bars, never raising.
* :mod:`~fleece.data.importer`: ``<SYMBOL>.csv`` / ``<SYMBOL>.parquet`` files in and out.
* :mod:`~fleece.data.arrays`: one symbol's bars column-wise (from a file or the generator).
* :mod:`~fleece.data.columns`: a file's table read into typed columns, row problems marked.
* :mod:`~fleece.data.session`: "is this bar in the regular session", asked of the calendar.
* :mod:`~fleece.data.synthetic`: seeded, realistic minute bars for any NYSE sessions.

Names are re-exported lazily: the live feed imports :mod:`fleece.data.validate` on every
start and should not pay for pyarrow and exchange-calendars it does not use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fleece.lazy_exports import lazy_getattr

if TYPE_CHECKING:
    from fleece.data.arrays import SymbolArrays
    from fleece.data.importer import (
        LoadResult,
        load_bar_file,
        load_bars_dir,
        write_bars_csv,
        write_bars_parquet,
    )
    from fleece.data.parsing import parse_bar
    from fleece.data.session import (
        is_last_bar_of_session,
        is_regular,
        regular_session_bars,
        session_for,
    )
    from fleece.data.synthetic import (
        PROFILES,
        SymbolProfile,
        generate_arrays,
        generate_bars,
        profile_for,
    )
    from fleece.data.validate import (
        REASONS,
        BarProblem,
        bar_problem,
        clean_series,
    )

_HOME = {
    "LoadResult": "importer",
    "load_bar_file": "importer",
    "load_bars_dir": "importer",
    "write_bars_csv": "importer",
    "write_bars_parquet": "importer",
    "is_last_bar_of_session": "session",
    "is_regular": "session",
    "regular_session_bars": "session",
    "session_for": "session",
    "PROFILES": "synthetic",
    "SymbolArrays": "arrays",
    "SymbolProfile": "synthetic",
    "generate_arrays": "synthetic",
    "generate_bars": "synthetic",
    "profile_for": "synthetic",
    "REASONS": "validate",
    "BarProblem": "validate",
    "bar_problem": "validate",
    "clean_series": "validate",
    "parse_bar": "parsing",
}

__all__ = [
    "PROFILES",
    "REASONS",
    "BarProblem",
    "LoadResult",
    "SymbolArrays",
    "SymbolProfile",
    "bar_problem",
    "clean_series",
    "generate_arrays",
    "generate_bars",
    "is_last_bar_of_session",
    "is_regular",
    "load_bar_file",
    "load_bars_dir",
    "parse_bar",
    "profile_for",
    "regular_session_bars",
    "session_for",
    "write_bars_csv",
    "write_bars_parquet",
]


__getattr__ = lazy_getattr(__name__, _HOME)
