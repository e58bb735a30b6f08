"""The reference itself as a port, in a lower precision: `reference-f32`, `reference-f16`.

Its profile is settable: built under profile P, it follows P's conventions (spec §12)."""

from __future__ import annotations

import numpy as np

from samspec.reference import SAMPromptEncoder


class ReferenceAdapter:
    def __init__(self, dtype="float32", profile="sam"):
        self.name = f"reference-f{dtype[5:]}"
        self.dtype = dtype
        self.compute_dtype = dtype  # declared: outputs in a lower precision are an error (docs/adapters.md)
        self.profile = profile

    def build(self, config, params):
        self.encoder = SAMPromptEncoder(**config, params=params, dtype=self.dtype, profile=self.profile)

    def run(self, points, labels, boxes, masks):
        outputs = self.encoder(points=points, labels=labels, boxes=boxes, masks=masks)
        return {key: np.asarray(value) for key, value in outputs.items()}
