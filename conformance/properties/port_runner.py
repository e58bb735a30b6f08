"""Running a port on one drawn example: the adapter under its profile, in the `sam` layout, built once
per (config, params), and the reference in the port's dtype as the yardstick of the error budget."""

from __future__ import annotations

import json

import numpy as np

from samspec.reference import SAMPromptEncoder

from ..harness.tolerance import DEFAULT_K, FLOORS, perturb
from . import strategies as sst


class PortRunner:
    """Drives one adapter under one profile, in the `sam` layout; builds once per (config, params)."""

    def __init__(self, adapter, profile, k: float = DEFAULT_K):
        from ..harness.isolation import wrap_adapter

        self.adapter = wrap_adapter(adapter, profile)  # the profile's conversions run where the port runs
        self.profile = profile
        self.k = k
        self._built = None
        self._reference = {}

    def build(self, config, seed):
        key = (json.dumps(config, sort_keys=True, default=list), seed)
        if self._built != key:
            self._built = None
            self.adapter.build(dict(config), sst.make_params(config, seed))
            self._built = key

    def run(self, config, seed, prompt):
        """The port's outputs in `sam` layout; NotApplicable when the profile cannot express it."""
        self.adapter.check_inputs(prompt, config)
        self.build(config, seed)
        return {k: np.asarray(v) for k, v in self.adapter.run_case(prompt, config).items()}

    def mutated_inputs(self, config, seed, prompt) -> list:
        """The names of the port's inputs that its ``run`` modified in place on this example."""
        self.run(config, seed, prompt)
        return list(self.adapter.mutated)

    def reference(self, config, seed, prompt, dtype):
        key = (json.dumps(config, sort_keys=True, default=list), seed, fingerprint(prompt), dtype)
        if key not in self._reference:
            encoder = SAMPromptEncoder(
                **config,
                params=sst.make_params(config, seed),
                dtype=dtype,
                profile=getattr(self.profile, "semantics", None) or "sam",
            )
            if len(self._reference) > 16:
                self._reference.clear()
            self._reference[key] = {k: np.asarray(v) for k, v in encoder(**prompt).items()}
        return self._reference[key]

    def budget(self, config, seed, prompt, key, dtype, sides=2):
        """What two faithful runs in ``dtype`` may differ by on this output: sides x k x the faithful
        error, plus the floor (docs/tolerances.md). The faithful error is the larger of the
        reference's own error in ``dtype`` and how far the float64 output moves when every input
        value moves by one unit in the last place of ``dtype``: a drawn example can sit where the
        encoder is ill-conditioned (two nearly equal channels before a LayerNorm), and there one
        faithful run's rounding is luckier than another's."""
        name = dtype if dtype in FLOORS else "float32"
        high = self.reference(config, seed, prompt, "float64")[key]
        low = self.reference(config, seed, prompt, name)[key]
        if high.size == 0:
            return 0.0
        faithful = float(np.max(np.abs(low.astype(np.float64) - high)))
        if name != "float64":
            moved = self.reference(config, seed, perturb(prompt, float(np.finfo(name).eps)), "float64")[key]
            if moved.shape == high.shape:
                faithful = max(faithful, float(np.max(np.abs(moved - high))))
        return sides * self.k * faithful + FLOORS[name] * max(1.0, float(np.max(np.abs(high))))


def fingerprint(prompt):
    return tuple((k, v.shape, v.dtype.str, v.tobytes()) for k, v in sorted(prompt.items()) if v is not None)
