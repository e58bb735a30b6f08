"""The names of the module this package grew from (``samspec.conformance.profiles.profile``), for old
imports; each lives in the module of its concern (see the package docstring)."""

from .builtin import PROFILES, get_profile
from .conversions import HF_OUTPUT_NAMES, ONNX_OUTPUT_NAMES, is_none_output, prompt_batch, to_channels_first
from .divergences import ALL_OUTPUTS, DENSE, DENSE_PE, DIVERGENCES, NONE, SPARSE, Divergence, sam_pads
from .model import NotApplicable, Profile
from .resolve import resolve_profile

__all__ = [
    "ALL_OUTPUTS",
    "DENSE",
    "DENSE_PE",
    "DIVERGENCES",
    "Divergence",
    "HF_OUTPUT_NAMES",
    "NONE",
    "NotApplicable",
    "ONNX_OUTPUT_NAMES",
    "PROFILES",
    "Profile",
    "SPARSE",
    "get_profile",
    "is_none_output",
    "prompt_batch",
    "resolve_profile",
    "sam_pads",
    "to_channels_first",
]
