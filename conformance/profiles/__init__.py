"""A port's conventions (data path, step 2: how a port's inputs and outputs are laid out).

Convention profiles: how a fixture's `sam`-convention inputs map to a port's inputs, and how
the port's outputs map back (docs/profiles.md). A profile is data plus two small functions; a
case it cannot express raises NotApplicable with the reason, and is reported as such.

Every way a port differs from `sam` is a *divergence*, named as in docs/spec.md §12.2, with a
predicate saying which outputs of a case it changes. A profile declares, for each divergence of
its port, one of three handlings:

- converted: the profile's two functions undo it (a layout, a name, an explicit padding row);
- excluded: a case that exercises it cannot be expressed in the port's conventions: n/a, with
  the divergence's name and the reason;
- computed: the reference computes it: the profile's ``semantics`` names reference conventions
  (samspec.reference.PROFILES, in `sam`'s layout) whose outputs already include it (`sam2`'s
  corner labels, `hf_sam2`'s trailing box token);
- exposed: passed through untouched, so that a case exercising it fails. The layout-only
  profiles (`*_layout`) expose every semantic divergence of their port: they convert layout and
  names only and keep `sam`'s semantics.

A user's port declares its own profile without editing samspec: ``Profile(...)`` with
``Divergence`` objects of its own (docs/profiles.md), given as the adapter's ``profile``
attribute or as ``--profile module:attr``; ``resolve_profile`` accepts a name, a Profile or
``module:attr``.

The package: ``divergences`` (§12.2 as data), ``model`` (``Profile``), ``conversions`` (the built-in
ports' layout conversions), ``builtin`` (the built-in profiles, as data), ``resolve`` (``--profile``)."""

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
