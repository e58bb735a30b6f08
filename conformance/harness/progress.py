"""Live progress for long commands: a tqdm bar on stderr when stderr is a terminal, else nothing.

Every long command (`bench`, `selftest`, `check --properties`, `fixtures generate`) wraps its
outer loop in ``progress(...)``; output to a file or a CI log stays free of bars.
"""

from __future__ import annotations

import os
import sys


def enabled() -> bool:
    """Bars only on an interactive stderr, and never under CI=true or SAMSPEC_NO_PROGRESS."""
    if os.environ.get("SAMSPEC_NO_PROGRESS") or os.environ.get("CI", "").lower() == "true":
        return False
    return bool(getattr(sys.stderr, "isatty", lambda: False)())


def progress(iterable, *, desc: str, total: int | None = None, unit: str = "it"):
    """``iterable`` wrapped in a tqdm bar on stderr (``desc`` names the work), or unchanged."""
    if not enabled():
        return iterable
    from tqdm import tqdm

    return tqdm(iterable, desc=desc, total=total, unit=unit, file=sys.stderr, leave=False, dynamic_ncols=True)
