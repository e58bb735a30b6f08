"""Adapters: one module per port, conversion only (weights and layouts), never math.

An adapter is any object with ``name``, ``profile``, ``build(config, params)`` and
``run(points, labels, boxes, masks) -> dict`` (see docs/adapters.md). Ports' libraries are
imported lazily, inside ``build``, so that samspec works without them.
"""
