"""A catalogue variant wrapped as a port (the self-test's and the tests' buggy ports)."""

from __future__ import annotations

from .catalogue import get_variant
from .model import Variant


class VariantAdapter:
    """A catalogue variant (a name or a ``Variant``, e.g. from ``compose``) wrapped as a port:
    float32, profile `sam`. The self-test checks every variant this way."""

    profile = "sam"

    def __init__(self, variant: str | Variant, dtype: str = "float32"):
        self.variant = variant if isinstance(variant, Variant) else get_variant(variant)
        self.name = f"variant:{self.variant.name}"
        self.dtype = dtype

    def build(self, config, params):
        self.config = dict(config)
        self.encoder = self.variant.encoder(config, params, self.dtype)

    def run(self, points, labels, boxes, masks):
        inputs = {"points": points, "labels": labels, "boxes": boxes, "masks": masks}
        return self.variant.run(self.config, {}, inputs, self.dtype, encoder=self.encoder)
