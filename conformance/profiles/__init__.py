"""A port's conventions: the ``Profile`` model, the known divergences between real ports, and
the built-in profiles. Data path, step 2: how a port's inputs and outputs are laid out."""

from importlib import import_module


def __getattr__(name):
    """The names of the module this package grew from (samspec.conformance.profiles), for old imports."""
    if name.startswith("__"):
        raise AttributeError(name)
    return getattr(import_module(".profile", __name__), name)
