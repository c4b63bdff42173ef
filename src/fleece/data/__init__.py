"""Market data for offline use: validation, import/export of real bars, synthetic bars.

* :mod:`~fleece.data.validate`: the reason vocabulary and checks shared with the live feed.
* :mod:`~fleece.data.importer`: ``<SYMBOL>.csv`` / ``<SYMBOL>.parquet`` files in and out.
* :mod:`~fleece.data.session`: cached "is this bar in the regular session" questions.
* :mod:`~fleece.data.synthetic`: seeded, realistic minute bars for any NYSE sessions.
"""

from fleece.data.importer import (
    LoadResult,
    load_bar_file,
    load_bars_dir,
    write_bars_csv,
    write_bars_parquet,
)
from fleece.data.session import (
    is_last_bar_of_session,
    is_regular,
    regular_session_bars,
    session_for,
)
from fleece.data.synthetic import (
    PROFILES,
    SymbolArrays,
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
    parse_bar,
)

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
