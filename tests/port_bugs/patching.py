"""The monkeypatch the held-out ports use: a function set as a bound method on one instance."""

from __future__ import annotations

import types


def on_instance(obj, name):
    """Decorator: set the function as the bound method ``name`` of the instance ``obj`` (not its class).
    ``object.__setattr__`` so that a framework's own attribute tracking (Keras layers) is bypassed."""

    def put(fn):
        object.__setattr__(obj, name, types.MethodType(fn, obj))
        return fn

    return put
