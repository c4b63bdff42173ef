"""Seeded draws: decisions that replay the same on every machine, in every run.

A draw is a pure function of its key (a seed and what is decided: a symbol and its minute, an
order and how much of it has filled), so the same seed, data and requests give the same IEX
gaps, late bars and partial fills everywhere, whatever order the questions come in.
"""

from __future__ import annotations

import hashlib

_SCALE = 2.0**64


def uniform(key: str) -> float:
    """A draw in ``[0, 1)`` fixed by ``key``: the first 64 bits of its SHA-256."""
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big") / _SCALE
