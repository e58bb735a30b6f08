"""The adapter contract (docs/adapters.md, "How samspec calls an adapter"), checked once when the port loads.

samspec calls ``build(config, params)`` and ``begin_case(case_id)`` with positional arguments, and
``run(**inputs)`` / ``trace(**inputs)`` with keyword arguments named by the profile (under `sam`: ``points``,
``labels``, ``boxes``, ``masks``). An adapter whose methods cannot be called so gets one error naming the
expected call and the method's own signature, before any case runs (``inspect.signature``, in the worker).
"""

from __future__ import annotations

import inspect

import numpy as np

from ...port_text import safe_text

SAM_INPUTS = ("points", "labels", "boxes", "masks")
# a small case in `sam` conventions, for the names a built-in profile's to_port gives (samspec's own code)
PROBE_CONFIG = {
    "activation": "gelu",
    "hidden_size": 8,
    "image_embedding_size": (4, 4),
    "input_image_size": (64, 64),
    "mask_in_channels": 4,
}
PROBE_INPUTS = {"points": np.zeros((1, 1, 2)), "labels": np.ones((1, 1), np.int64), "boxes": None, "masks": None}
CONTRACT = "docs/adapters.md, 'How samspec calls an adapter'"


class ContractError(Exception):
    """An adapter method cannot be called the way samspec calls it; the message names both."""


def input_names(profile) -> tuple | None:
    """The keyword names ``run`` is called with under ``profile``; None where only the profile's own code
    knows them (a user's to_port_fn is not run before a case)."""
    if getattr(profile, "to_port_fn", None) is None:
        return SAM_INPUTS
    from ...profiles.builtin import PROFILES

    if PROFILES.get(getattr(profile, "name", None)) is not profile:
        return None
    try:
        return tuple(profile.to_port(dict(PROBE_INPUTS), dict(PROBE_CONFIG)))
    except Exception:  # the probe is not applicable under this profile: the names stay unknown
        return None


def _refusal(method, name: str, call: str, args=(), kwargs=None) -> str | None:
    try:
        signature = inspect.signature(method)
    except (TypeError, ValueError):  # no signature to read (a builtin): the call itself will tell
        return None
    try:
        signature.bind(*args, **(kwargs or {}))
    except TypeError as exc:
        return (
            f"the adapter's {name}{safe_text(signature, 300)} cannot be called as samspec calls it: {call} "
            f"({safe_text(exc, 200)}; {CONTRACT})"
        )
    return None


def check_contract(adapter, profile) -> None:
    """ContractError naming the first method of ``adapter`` that cannot take samspec's call."""
    names = input_names(profile)
    keywords = ", ".join(f"{n}=..." for n in names or ())
    checks = [(adapter.build, "build", "build(config, params), positional", (None, None), None)]
    if callable(getattr(adapter, "begin_case", None)):
        checks.append((adapter.begin_case, "begin_case", "begin_case(case_id), positional", (None,), None))
    if names is not None:
        inputs = dict.fromkeys(names)
        checks.append((adapter.run, "run", f"run({keywords}), keyword arguments", (), inputs))
        if callable(getattr(adapter, "trace", None)):
            checks.append((adapter.trace, "trace", f"trace({keywords}), keyword arguments", (), inputs))
    for method, name, call, args, kwargs in checks:
        refusal = _refusal(method, name, call, args, kwargs)
        if refusal:
            raise ContractError(refusal)
