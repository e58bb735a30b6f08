"""The variant model: one known divergence as the reference with one thing changed (docs/diagnosis.md).

A *variant* is built by composing the reference's own pieces, never by copying the pipeline:

- ``stages``: replacements for named stages of ``samspec.reference.STAGES`` (each replacement calls
  the reference's stage function with a changed argument or result), given as a function
  ``(params, dtype) -> {stage name: function}`` so that a replacement can use a parameter;
- ``labels`` / ``pad_points``: a changed label rule or padding rule (a ``Conventions`` object);
- ``activation`` / ``layer_norm_eps``: the encoder's own options;
- ``params``: a transform of the float64 parameters before they are cast (a transposed kernel,
  swapped rows of the Gaussian matrix, ...);
- ``inputs`` / ``outputs``: a transform of the `sam`-layout prompt before the encoder, or of its
  outputs after it (layout confusions).

``Variant.run(config, params, inputs, dtype)`` returns the variant's three outputs in `sam` layout,
NumPy arrays of ``dtype``. ``compose(a, b)`` is a port with both bugs. The building blocks the
catalogue's variants are made of are in ``blocks``; the catalogue itself in ``catalogue``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from samspec.reference import DENSE, DENSE_PE, PROFILES, SPARSE, LabelRule, SAMPromptEncoder, registry
from samspec.reference.conventions import Conventions

GAUSSIAN = "pe_layer.positional_encoding_gaussian_matrix"


def conventions_of(semantics):
    """The reference's Conventions for a profile's semantics: a name (`sam`, `sam2`, ...) or a Conventions."""
    return semantics if isinstance(semantics, Conventions) else PROFILES[semantics]


@dataclass(frozen=True)
class Variant:
    """One known divergence: the reference with one thing done the way a buggy port does it."""

    name: str
    explanation: str  # one sentence, addressed to the port author ("your ...")
    section: str  # the docs/spec.md section the port departs from
    group: str  # coordinates, positional encoding, grid, labels, boxes, mask path, layout
    stages: object = None  # (params, dtype) -> {stage name: replacement}
    labels: LabelRule | None = None
    pad_points: bool | None = None
    activation: str | None = None
    layer_norm_eps: float | None = None
    params: object = None  # dict -> dict, on float64 arrays
    inputs: object = None  # (inputs, config) -> inputs, `sam` layout
    outputs: object = None  # (outputs, inputs, config) -> outputs, `sam` layout
    ports: str = ""  # real ports known to behave this way (docs/spec.md §12.2)
    # "float16" for a variant that rounds part of the computation to float16 on purpose: a port
    # doing the same in another order differs from it by float16 rounding, which the diagnosis
    # then allows for (the variant's own distance from the reference in the port's dtype)
    rounding: str | None = None

    def touches(self, params: dict, inputs: dict) -> frozenset:
        """The outputs this variant can change on a case with these inputs (spec §3–§11's data flow),
        judged from what it replaces; anything it cannot tell (input, output or parameter transforms
        of unknown parameters) counts as every output. The diagnosis skips the others."""
        every = frozenset((SPARSE, DENSE, DENSE_PE))
        if self.inputs is not None or self.outputs is not None:
            return every
        masks = inputs.get("masks") is not None
        touched = set()
        if self.labels is not None or self.pad_points is not None:
            touched.add(SPARSE)
        if (self.activation is not None or self.layer_norm_eps is not None) and masks:
            touched.add(DENSE)
        if self.stages is not None:
            for stage in self.stages(params, np.dtype("float64")):
                touched |= STAGE_OUTPUTS.get(stage, every) if stage != "downscale_mask" or masks else set()
                if stage == "no_mask_embedding" and masks:
                    touched.discard(DENSE)
        if self.params is not None:
            changed = self.params(dict(params))
            for key, value in changed.items():
                if key not in params or value is not params[key] and not np.array_equal(value, params[key]):
                    touched |= param_outputs(key, masks)
        return frozenset(touched)

    def conventions(self, semantics: str = "sam"):
        """The reference conventions ``semantics`` (a port's profile's) with this variant's label or
        padding rule; ``labels`` is a LabelRule, or a function of the base rule (a change of some labels)."""
        base = conventions_of(semantics)
        changes = {}
        if self.labels is not None:
            changes["labels"] = self.labels(base.labels) if callable(self.labels) else self.labels
        if self.pad_points is not None:
            changes["pad_points"] = self.pad_points
        if not changes:
            return base
        return dataclasses.replace(base, name=f"{base.name}+{self.name}", **changes)

    def encoder(self, config: dict, params: dict, dtype: str, semantics: str = "sam") -> SAMPromptEncoder:
        """The reference encoder with this variant switched on (NumPy, conventions ``semantics``)."""
        config = dict(config)
        if self.activation is not None:
            config["activation"] = self.activation
        if self.layer_norm_eps is not None:
            config["layer_norm_eps"] = self.layer_norm_eps
        params = {k: np.asarray(v, dtype=np.float64) for k, v in params.items()}
        if self.params is not None:
            params = self.params(params)
        stages = self.stages(params, np.dtype(dtype)) if self.stages is not None else None
        return SAMPromptEncoder(
            **config, params=params, dtype=dtype, profile=self.conventions(semantics), stages=stages
        )

    def run(
        self, config: dict, params: dict, inputs: dict, dtype: str = "float32", encoder=None, semantics: str = "sam"
    ) -> dict:
        """The variant's outputs for a `sam`-layout prompt, as NumPy arrays in `sam` layout."""
        encoder = encoder if encoder is not None else self.encoder(config, params, dtype, semantics)
        prompt = {k: v for k, v in inputs.items() if v is not None}
        if self.inputs is not None:
            prompt = self.inputs(prompt, config)
        with np.errstate(all="ignore"):  # a variant may divide by zero where the bug it models does
            outputs = {k: np.asarray(v) for k, v in encoder(**prompt).items()}
        if self.outputs is not None:
            outputs = self.outputs(outputs, prompt, config)
        return outputs


STAGE_OUTPUTS = {stage.name: set(stage.outputs) for stage in registry.STAGES}  # which outputs each stage feeds


def param_outputs(key: str, masks: bool) -> set:
    """The outputs a parameter feeds (on a case with or without a mask)."""
    if key == GAUSSIAN:
        return {SPARSE, DENSE_PE}
    if key.startswith(("point_embeddings.", "not_a_point_embed.")):
        return {SPARSE}
    if key.startswith("mask_downscaling."):
        return {DENSE} if masks else set()
    if key.startswith("no_mask_embed."):
        return set() if masks else {DENSE}
    return {SPARSE, DENSE, DENSE_PE}


def _chain(first, second):
    if first is None or second is None:
        return first or second
    return lambda *args: second(first(*args), *args[1:])


def compose(a: Variant, b: Variant) -> Variant | None:
    """Both variants at once (a port with two bugs), or None when they change the same thing."""
    for attribute in ("labels", "pad_points", "activation", "layer_norm_eps"):
        if getattr(a, attribute) is not None and getattr(b, attribute) is not None:
            return None
    if a.stages is not None and b.stages is not None:
        probe = {k: np.zeros((1, 1)) for k in ("not_a_point_embed.weight", "no_mask_embed.weight")}
        if set(a.stages(probe, np.dtype("float64"))) & set(b.stages(probe, np.dtype("float64"))):
            return None

    def stages(params, dtype):
        return {**(a.stages(params, dtype) if a.stages else {}), **(b.stages(params, dtype) if b.stages else {})}

    return Variant(
        name=f"{a.name}+{b.name}",
        explanation=f"{a.explanation}; and {b.explanation}",
        section=f"{a.section}, {b.section}",
        group=a.group if a.group == b.group else f"{a.group}, {b.group}",
        stages=stages if (a.stages or b.stages) else None,
        labels=a.labels if a.labels is not None else b.labels,
        pad_points=a.pad_points if a.pad_points is not None else b.pad_points,
        activation=a.activation or b.activation,
        layer_norm_eps=a.layer_norm_eps if a.layer_norm_eps is not None else b.layer_norm_eps,
        params=(lambda p: b.params(a.params(p))) if a.params and b.params else (a.params or b.params),
        inputs=_chain(a.inputs, b.inputs),
        outputs=_chain(a.outputs, b.outputs),
        rounding=a.rounding or b.rounding,
    )
