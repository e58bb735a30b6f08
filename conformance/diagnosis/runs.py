"""Variant runs and their caches: each variant's outputs on a case (one case's arrays at a time),
the scalars measured on them (distances, scales) for the whole run, and the tolerance model around
a variant (its budget)."""

from __future__ import annotations

import hashlib
import json
import math
from collections import OrderedDict

import numpy as np

from samspec.reference import OUTPUT_KEYS, SAMPromptEncoder

from ..harness.tolerance import FLOORS
from .measures import max_abs_difference, scale
from .variants import Variant, compose

REFERENCE = Variant("reference", "the reference itself", "", "none")  # for variants with `rounding`
ENCODERS = 512  # variant encoders kept across cases (parameters only; a few MB)


class VariantRuns:
    """The variants' outputs and the numbers measured on them, for one diagnoser (or several sharing
    ``cache``). ``semantics``: a name of the reference's conventions or a Conventions object."""

    def __init__(self, variants, k, cache, semantics):
        self.variants = variants
        self.by_name = {v.name: v for v in variants}
        self.order = {v.name: i for i, v in enumerate(variants)}
        self.k = k
        self.semantics = semantics
        self.semantics_key = semantics if isinstance(semantics, str) else f"{semantics.name}@{id(semantics)}"
        self.cache = cache
        self._arrays = cache.setdefault("arrays", {"case": None, "values": {}})  # one case's arrays at a time
        self._scalars = cache.setdefault("scalars", {})  # (case, variant, dtype, output, what) -> float

    def case_arrays(self, case) -> dict:
        key = (case.id, self.semantics_key)
        if self._arrays["case"] != key:
            self._arrays["case"], self._arrays["values"] = key, {}
        return self._arrays["values"]

    def variant_outputs(self, case, variant, dtype: str):
        """The variant's three outputs on this case in ``dtype`` (None if the variant cannot run)."""
        values = self.case_arrays(case)
        key = (variant.name, dtype)
        if key not in values:
            try:
                encoder = self.encoder(case, variant, dtype)
                outputs = variant.run(
                    case.config, case.params, case.inputs, dtype, encoder=encoder, semantics=self.semantics
                )
            except Exception:  # a variant that does not apply to this case (e.g. W - 1 = 0)
                outputs = None
            if outputs is not None and variant is not REFERENCE:  # share the reference's arrays where equal
                reference = self.variant_outputs(case, REFERENCE, dtype)
                for name, value in (reference or {}).items():
                    if name in outputs and outputs[name].shape == value.shape and np.array_equal(outputs[name], value):
                        outputs[name] = value
            values[key] = outputs
        return values[key]

    def encoder(self, case, variant, dtype):
        """The variant's encoder for this case's configuration and parameters; the last ENCODERS are
        kept (they hold parameters only), since many cases share a configuration."""
        fingerprints = self.cache.setdefault("fingerprints", {})
        if id(case.params) not in fingerprints:
            digest = hashlib.sha1(json.dumps(case.config, sort_keys=True, default=list).encode())
            for name in sorted(case.params):
                digest.update(name.encode() + np.ascontiguousarray(case.params[name], dtype=np.float64).tobytes())
            fingerprints[id(case.params)] = (digest.hexdigest(), case.params)  # the params stay alive: ids stay unique
        encoders = self.cache.setdefault("encoders", OrderedDict())
        key = (variant.name, dtype, self.semantics_key, fingerprints[id(case.params)][0])
        if key in encoders:
            encoders.move_to_end(key)
            return encoders[key]
        encoder = variant.encoder(case.config, case.params, dtype, self.semantics)
        encoders[key] = encoder
        if len(encoders) > ENCODERS:
            encoders.popitem(last=False)
        return encoder

    def reference_trace(self, case) -> dict:
        """The float64 reference's trace of this case (stage name -> array)."""
        values = self.case_arrays(case)
        if "trace" not in values:
            encoder = SAMPromptEncoder(**case.config, params=case.params, dtype="float64", profile=self.semantics)
            values["trace"] = {k: np.asarray(v) for k, v in encoder.trace(**case.inputs).items()}
        return values["trace"]

    def scalar(self, case, what, compute):
        """A number measured on this case, kept for the whole run (``what`` names it)."""
        key = (case.id, self.semantics_key) + what
        if key not in self._scalars:
            self._scalars[key] = compute()
        return self._scalars[key]

    def distance(self, case, a, b, output_key, dtype="float64", other_dtype="float64") -> float:
        """max |a in dtype - b in other_dtype| on this case's output (scalar, cached; inf: shapes differ)."""

        def compute():
            first, second = self.variant_outputs(case, a, dtype), self.variant_outputs(case, b, other_dtype)
            if first is None or second is None or output_key not in first or output_key not in second:
                return math.inf
            return max_abs_difference(first[output_key], second[output_key])

        return self.scalar(case, (a.name, b.name, dtype, other_dtype, output_key, "distance"), compute)

    def variant_scale(self, case, variant, output_key) -> float:
        def compute():
            high = self.variant_outputs(case, variant, "float64")
            return scale(high[output_key]) if high is not None and output_key in high else 1.0

        return self.scalar(case, (variant.name, output_key, "scale"), compute)

    def budget(self, case, variant, output_key, dtype, rounds=True) -> float:
        """k x the variant's own error in ``dtype`` + floor: the tolerance model around the variant;
        ``rounds``: a variant that rounds on purpose also allows what its rounding changes."""
        faithful = 0.0 if dtype == "float64" else self.distance(case, variant, variant, output_key, dtype)
        faithful = 0.0 if math.isinf(faithful) else faithful
        budget = self.k * faithful + FLOORS.get(dtype, FLOORS["float32"]) * self.variant_scale(
            case, variant, output_key
        )
        if variant.rounding and rounds:  # it rounds on purpose; another order of operations rounds otherwise:
            # allow what that rounding itself changes (the rounding variant alone against the reference)
            for part in variant.name.split("+"):
                single = self.by_name.get(part)
                if single is not None and single.rounding and dtype != "float64":
                    own = self.distance(case, single, REFERENCE, output_key, dtype, dtype)
                    budget += 0.0 if math.isinf(own) else self.k * own  # k x its error, as for any faithful run
        return budget

    def touches(self, case, variant) -> frozenset:
        """The outputs the variant can change on this case (``Variant.touches``; every output for a pair)."""

        def compute():
            parts = [self.by_name.get(p, REFERENCE if p == "reference" else None) for p in variant.name.split("+")]
            if variant is REFERENCE or any(p is None for p in parts):
                return frozenset(OUTPUT_KEYS)
            found = frozenset()
            for part in parts:
                found |= part.touches(case.params, case.inputs)
            return found

        return self.scalar(case, (variant.name, "touches"), compute)

    def compose(self, a, b):
        """Both variants at once (cached; a+b and b+a are one name, in catalogue order)."""
        first, second = sorted((a, b), key=lambda v: self.order.get(v.name, 0))
        pairs = self.cache.setdefault("pairs", {})
        key = (first.name, second.name)
        if key not in pairs:
            pairs[key] = compose(first, second)
        return pairs[key]

    def variant(self, name):
        """The variant or pair of that name."""
        parts = [self.by_name[part] for part in name.split("+")]
        return parts[0] if len(parts) == 1 else self.compose(*parts)
