"""Property checks of a port against the reference (checks) and the hypothesis strategies that
draw their inputs (strategies)."""

from .checks import PROPERTIES, PropertyFailure, reproduce, run_properties, run_property

__all__ = ["PROPERTIES", "PropertyFailure", "reproduce", "run_properties", "run_property"]
