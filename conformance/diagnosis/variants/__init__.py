"""Known divergences as variants of the reference: the model (``model``), the building blocks
variants are made of (``blocks``, public: the self-test's bugs outside the catalogue use them), the
catalogue (``catalogue``) and a variant wrapped as a port (``port``)."""

from .catalogue import CATALOGUE, VARIANTS, get_variant
from .model import DENSE, DENSE_PE, GAUSSIAN, SPARSE, STAGE_OUTPUTS, Variant, compose, conventions_of, param_outputs
from .port import VariantAdapter

__all__ = [
    "CATALOGUE",
    "DENSE",
    "DENSE_PE",
    "GAUSSIAN",
    "SPARSE",
    "STAGE_OUTPUTS",
    "VARIANTS",
    "Variant",
    "VariantAdapter",
    "compose",
    "conventions_of",
    "get_variant",
    "param_outputs",
]
