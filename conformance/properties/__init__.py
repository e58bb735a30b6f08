"""Property checks of a port against itself (docs/properties.md): the properties, what each draws
and what must hold (catalogue), a port run on one drawn example (port_runner), runs with hypothesis
and their table (running), a failing example as a snippet (repro); the hypothesis strategies that
draw the inputs (strategies). ``checks`` gathers the public names."""

from .checks import PROPERTIES, PropertyFailure, reproduce, run_properties, run_property

__all__ = ["PROPERTIES", "PropertyFailure", "reproduce", "run_properties", "run_property"]
