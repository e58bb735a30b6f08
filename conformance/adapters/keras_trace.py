"""The stage-by-stage trace of keras-hub's `SAMPromptEncoder` on any Keras backend, eager or compiled.

For `samspec check --trace` (docs/diagnosis.md): the layer's intermediate values under the
reference's stage names, in the reference's layouts. Recording, never math:

- while the layer's own call runs, its methods ``_embed_points`` and ``_embed_box`` and its
  positional layer's ``encode_coordinates``, ``encode_image`` and ``_positional_encodings`` are
  wrapped on the instances (they are methods, not layers) to keep their inputs and outputs:
  ``points.normalised`` and ``points.positional_encoding`` (``_positional_encodings``' input and
  output), ``points.tokens`` (``_embed_points``' output), the same for ``boxes`` plus ``boxes.shifted``
  (what ``encode_coordinates`` receives; not for points, whose §5.1 padding row the caller appends
  before the shift and the reference after it), and ``dense_pe.cell_centres`` / ``dense_pe.grid``;
- the mask path is recorded by calling the layer's own ``mask_downscaler`` on the same masks, with
  each of its seven sub-layers' ``call`` wrapped (``mask.conv1`` ... ``mask.conv3``): the layer runs
  that path inside ``ops.cond``, and on JAX a branch of ``lax.cond`` is traced into a function of its
  own whose intermediate values cannot leave it. The same sub-layers run on the same input.

Every wrapper is removed afterwards and what the instance held before is put back exactly (an
attribute the instance had set on itself stays). ``traced_call`` returns backend tensors, so a
`keras.Model` can return them from a compiled call (`jax.jit`, `tf.function`): the compiled
adapter's trace is its compiled graph with the stages as extra outputs. ``to_reference_layout``
then converts layouts only (NHWC outputs to NCHW, the mask input's channel axis dropped).
"""

from __future__ import annotations

import contextlib

import numpy as np

from .trace_hooks import MASK_STAGES

_MISSING = object()


@contextlib.contextmanager
def instance_attributes(patches):
    """Set ``(obj, name, value)`` on the instances' ``__dict__`` (bypassing Keras' and torch's
    ``__setattr__`` tracking) for the duration; then restore each exactly as it was."""
    saved = [(obj, name, obj.__dict__.get(name, _MISSING)) for obj, name, _ in patches]
    try:
        for obj, name, value in patches:
            obj.__dict__[name] = value
        yield
    finally:
        for obj, name, before in reversed(saved):
            if before is _MISSING:
                obj.__dict__.pop(name, None)
            else:
                obj.__dict__[name] = before


def _recorder(method, record):
    """``method`` (a bound method), calling ``record(args, output)`` after each call."""

    def wrapped(*args, **kwargs):
        output = method(*args, **kwargs)
        record(args, output)
        return output

    return wrapped


def _prompt_patches(layer, stages, context) -> list:
    """The wrappers that record the sparse path and the dense grid while ``layer`` runs."""
    positional = layer.positional_embedding_layer

    def with_prefix(method, prefix):
        def wrapped(*args, **kwargs):
            context.append(prefix)
            try:
                output = method(*args, **kwargs)
            finally:
                context.pop()
            stages[f"{prefix}.tokens"] = output
            return output

        return wrapped

    original_encode_image = positional.encode_image

    def encode_image(size):
        context.append("dense_pe")
        try:
            return original_encode_image(size)
        finally:
            context.pop()

    def shifted(args, output):  # points: the caller's padding row is in it, the reference's is not (§5.1)
        if context and context[-1] == "boxes":
            stages["boxes.shifted"] = args[0]

    def encoded(args, output):
        prefix = context[-1] if context else None
        if prefix == "dense_pe":
            stages["dense_pe.cell_centres"], stages["dense_pe.grid"] = args[0], output
        elif prefix in ("points", "boxes"):
            stages[f"{prefix}.normalised"], stages[f"{prefix}.positional_encoding"] = args[0], output

    return [
        (layer, "_embed_points", with_prefix(layer._embed_points, "points")),
        (layer, "_embed_box", with_prefix(layer._embed_box, "boxes")),
        (positional, "encode_image", encode_image),
        (positional, "encode_coordinates", _recorder(positional.encode_coordinates, shifted)),
        (positional, "_positional_encodings", _recorder(positional._positional_encodings, encoded)),
    ]


def _mask_stages(layer, masks, ops, stages) -> None:
    """The mask path's stages: ``layer.mask_downscaler`` on ``masks`` (B, M, 4h, 4w, 1) reshaped to
    (B·M, 4h, 4w, 1), as the layer does, each sub-layer's output recorded."""
    shape = ops.shape(masks)
    flat = ops.reshape(masks, (shape[0] * shape[1], shape[2], shape[3], shape[4]))
    stages["mask.input"] = flat
    sublayers = layer.mask_downscaler.layers
    if len(sublayers) != len(MASK_STAGES):
        raise ValueError(f"keras-hub mask_downscaler has {len(sublayers)} layers, expected {len(MASK_STAGES)}")

    def keep(stage):
        return lambda args, output: stages.__setitem__(f"mask.{stage}", output)

    patches = [(sub, "call", _recorder(sub.call, keep(stage))) for sub, stage in zip(sublayers, MASK_STAGES)]
    with instance_attributes(patches):
        layer.mask_downscaler(flat)


def traced_call(layer, prompts: dict, ops) -> dict:
    """{stage name: backend tensor} of one call of ``layer`` (a keras-hub SAMPromptEncoder) on
    ``prompts`` (keyword arguments of its call), with its three outputs, in keras-hub's layouts."""
    stages, context = {}, []
    with instance_attributes(_prompt_patches(layer, stages, context)):
        outputs = layer(**prompts)
    if prompts.get("masks") is not None:
        _mask_stages(layer, prompts["masks"], ops, stages)
    stages.update(outputs)
    return stages


def to_reference_layout(stages: dict) -> dict:
    """NumPy stages in the reference's layouts: the mask input (B·M, 4h, 4w) without its channel
    axis, the dense outputs NHWC -> NCHW; every other stage is already in the reference's layout."""
    out = {name: np.asarray(value) for name, value in stages.items()}
    if "mask.input" in out:
        out["mask.input"] = out["mask.input"][..., 0]
    for name in ("prompt_dense_embeddings", "prompt_dense_positional_embeddings"):
        if name in out and out[name].ndim == 4:
            out[name] = np.ascontiguousarray(np.transpose(out[name], (0, 3, 1, 2)))
    return out
