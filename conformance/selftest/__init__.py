"""`samspec selftest`: proof that the suite catches and names every known bug (suite), and a
second set of bugs written outside the catalogue (novel_bugs)."""

from importlib import import_module


def __getattr__(name):
    """The names of the module this package grew from (samspec.conformance.selftest), for old imports."""
    if name.startswith("__"):
        raise AttributeError(name)
    return getattr(import_module(".suite", __name__), name)
