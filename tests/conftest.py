"""The suite's root: pytest puts this folder on ``sys.path`` (it holds no ``__init__``), so the
helpers shared by specs in every folder (``new_user``, ``startup_helpers``, ...) import by name.

It also chooses how the property-based specs (hypothesis) draw their examples.
"""

from __future__ import annotations

import os

from hypothesis import settings

# `make test` and CI are a gate: every run tries the same examples (seeded by a hash of each
# spec), so a run never fails by the luck of the draw, and nothing is written to .hypothesis/.
# `make explore` draws fresh examples to look for new counterexamples; one it finds is
# pinned with @example beside its spec before it is fixed.
settings.register_profile("gate", derandomize=True, database=None)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "gate"))
