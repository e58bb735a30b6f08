"""The two kinds of problem a fixture set can have: the whole set is unusable (``FixtureError``,
raised to the user as one line), or one file or case is (``FileProblem``, which becomes that case's
``fixture_error`` while the other cases still load)."""

from __future__ import annotations


class FixtureError(ValueError):
    """A fixture set that cannot be read: missing, malformed or escaping its folder; one line."""


class FileProblem(Exception):
    """One file (or a case's computation) is unusable: becomes the case's ``fixture_error``."""


def one_line(exc) -> str:
    """The first line of an exception's message, or its type's name when it has none."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
