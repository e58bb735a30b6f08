"""Property and metamorphic checks that any port must satisfy (docs/properties.md).

Fixtures compare a port with stored expectations; properties compare a port *with itself* on
inputs drawn by hypothesis (``strategies.py``): permute the points and the sparse rows must
permute, split a batch and nothing may change, and so on. They reach configurations and prompts
no fixture holds, and need no reference values at all, except for the tolerance: a comparison
allows what rounding in the port's dtype costs on that example (the tolerance model,
docs/tolerances.md, with the reference run in that dtype as the yardstick).

Every property runs through the port's profile, in the `sam` layout, exactly as ``samspec check``
does. ``run_properties(adapter, profile)`` returns one ``PropertyResult`` per property: pass,
fail (with the smallest failing example hypothesis found, as a copy-paste repro), error, or n/a
when the profile can express no example. Runs are seeded (``seed``), so CI is deterministic; pass
a hypothesis example ``database`` to replay earlier failures first.
"""

from .catalogue import PROPERTIES, Property, PropertyFailure
from .port_runner import PortRunner
from .repro import repro, reproduce
from .running import PropertyResult, report_properties, run_properties, run_property

__all__ = [
    "PROPERTIES",
    "PortRunner",
    "Property",
    "PropertyFailure",
    "PropertyResult",
    "report_properties",
    "repro",
    "reproduce",
    "run_properties",
    "run_property",
]
