"""The names of the module this package grew from (``samspec.conformance.profiles.profile``), for old
imports; each lives in the module of its concern (see the package docstring), and the package's
``__all__`` is the one list of them."""

from . import *  # noqa: F403
from . import __all__  # noqa: F401
