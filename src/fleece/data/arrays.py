"""One symbol's bars column-wise, in dollars: what a bar file or the synthetic generator gives.

Both sources hand the backtest the same columns (:func:`fleece.data.importer.load_bar_arrays`,
:func:`fleece.data.synthetic.generate_arrays`), so they share this one type; the backtest turns
it into ticks (:mod:`fleece.backtest.data`) without building a :class:`~fleece.models.Bar` per row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
from numpy.typing import NDArray

from fleece.data.validate import paused_gc
from fleece.models import Bar


@dataclass(frozen=True, eq=False)
class SymbolArrays:
    """One symbol's bars column-wise; row ``i`` of every array is the same bar.

    Attributes:
        symbol: the symbol.
        ts: bar starts as int64 seconds since the Unix epoch, UTC, strictly increasing.
        open: opening prices in dollars (float64).
        high: high prices.
        low: low prices.
        close: closing prices.
        volume: shares traded (int64).
    """

    symbol: str
    ts: NDArray[np.int64]
    open: NDArray[np.float64]
    high: NDArray[np.float64]
    low: NDArray[np.float64]
    close: NDArray[np.float64]
    volume: NDArray[np.int64]

    def __len__(self) -> int:
        return len(self.ts)

    def to_bars(self) -> list[Bar]:
        """The same bars as :class:`Bar` objects (timestamps UTC-aware)."""
        from_ts = datetime.fromtimestamp
        with paused_gc():
            return [
                Bar(self.symbol, from_ts(t, UTC), o, h, lo, c, v)
                for t, o, h, lo, c, v in zip(
                    self.ts.tolist(),
                    self.open.tolist(),
                    self.high.tolist(),
                    self.low.tolist(),
                    self.close.tolist(),
                    self.volume.tolist(),
                    strict=True,
                )
            ]
