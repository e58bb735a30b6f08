"""A failing example as a copy-paste snippet (``repro``), and the function the snippet calls to re-run
it on a port (``reproduce``)."""

from __future__ import annotations

import numpy as np

from .catalogue import PROPERTIES
from .port_runner import PortRunner


def _literal(value, indent=""):
    if isinstance(value, np.ndarray):
        return f"np.array({value.tolist()!r}, dtype=np.{value.dtype.name})"
    if isinstance(value, dict):
        inner = ", ".join(f"{k!r}: {_literal(v)}" for k, v in value.items())
        return "{" + inner + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_literal(v) for v in value) + "]"
    if isinstance(value, tuple):
        return "(" + ", ".join(_literal(v) for v in value) + ("," if len(value) == 1 else "") + ")"
    if isinstance(value, (np.integer, np.floating)):
        return repr(value.item())
    return repr(value)


def repro(name, kwargs, port, profile) -> str:
    """A snippet that re-runs one failing example of property ``name``."""
    arguments = ",\n    ".join(f"{k}={_literal(v)}" for k, v in kwargs.items())
    return (
        "import numpy as np\n"
        "from samspec.conformance.properties.checks import reproduce\n"
        f"reproduce({name!r}, port={port!r}, profile={profile!r},\n    {arguments})\n"
    )


def reproduce(name, port, profile=None, **kwargs):
    """Re-run one example of a property on a port (``samspec check`` names: built-in or module:attr).
    Raises PropertyFailure if the property does not hold."""
    from ..adapters.registry import resolve_adapter
    from ..profiles.profile import get_profile

    adapter = resolve_adapter(port)
    profile = get_profile(profile or adapter.profile)
    PROPERTIES[name].check(PortRunner(adapter, profile), **kwargs)
