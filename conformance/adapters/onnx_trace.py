"""The stage-by-stage trace of the ONNX Runtime port: intermediate tensors exposed as extra graph outputs.

For `samspec check --trace` (docs/diagnosis.md). The traced graph is exported from the same
`SamOnnxModel` methods as the checked one (onnxruntime.py), with the tensors below recorded while
`torch.onnx.export` traces the call and returned beside the three outputs, so that they become
outputs of the graph; onnxruntime then computes them in the same session run as the outputs.
Recording, never math:

- ``pe_layer._pe_encoding`` is wrapped on the instance (a method, not a module) to return its input and
  output: ``points.normalised`` / ``points.positional_encoding`` while ``_embed_points`` runs,
  ``dense_pe.cell_centres`` / ``dense_pe.grid`` while ``get_dense_pe`` runs;
- forward hooks on ``mask_downscaling.0`` ... ``.6`` record ``mask.conv1`` ... ``mask.conv3``.

Wrappers and hooks are removed afterwards, and the instance is left as it was (``InstancePatches``).
Conversion after the run: mask stages NCHW -> channels last, ``mask.input`` is the mask fed. Where
the stage is not the reference's, it is left out: the point stages when the prompt has labels 2 or
3 (box corners are passed as such points, and a corner cannot be told from a point labelled 2 or 3
by the graph's inputs), the mask stages when ``has_mask_input`` is 0 (the graph still downscales
the placeholder mask, which the reference never sees).
"""

from __future__ import annotations

import numpy as np

from .trace_hooks import MASK_STAGES, InstancePatches, channels_last

POINT_STAGES = ("points.normalised", "points.positional_encoding")
GRID_STAGES = ("dense_pe.cell_centres", "dense_pe.grid")
TRACE_OUTPUTS = POINT_STAGES + GRID_STAGES + tuple(f"mask.{stage}" for stage in MASK_STAGES)


def recorded_call(encoder, call) -> tuple:
    """``call()`` (the three outputs of the graph) followed by the TRACE_OUTPUTS tensors, recorded from
    ``encoder`` (Meta's PromptEncoder) while ``call`` runs; ``call`` computes the points first, then
    the masks, then the dense grid, as the graph's forward does."""
    stages, context, hooks, patches = {}, ["points"], [], InstancePatches()
    pe_layer = encoder.pe_layer
    original = pe_layer._pe_encoding

    def pe_encoding(coords):
        output = original(coords)
        prefix = "dense_pe" if context[-1] == "dense_pe" else "points"
        names = GRID_STAGES if prefix == "dense_pe" else POINT_STAGES
        stages.setdefault(names[0], coords)
        stages.setdefault(names[1], output)
        return output

    def keep(stage):
        return lambda module, inputs, output: stages.__setitem__(f"mask.{stage}", output)

    def dense_pe_follows(module, inputs, output):
        context.append("dense_pe")  # after the mask path, only get_dense_pe calls _pe_encoding

    try:
        patches.set(pe_layer, "_pe_encoding", pe_encoding)
        for index, stage in enumerate(MASK_STAGES):
            hooks.append(encoder.mask_downscaling[index].register_forward_hook(keep(stage)))
        hooks.append(encoder.mask_downscaling.register_forward_hook(dense_pe_follows))
        outputs = call()
    finally:
        for hook in hooks:
            hook.remove()
        patches.restore()
    missing = [name for name in TRACE_OUTPUTS if name not in stages]
    if missing:
        raise RuntimeError(f"the ONNX trace recorded no {', '.join(missing)} while exporting")
    return tuple(outputs) + tuple(stages[name] for name in TRACE_OUTPUTS)


def to_reference_stages(values: dict, feeds: dict) -> dict:
    """The stages of one traced run ({graph output name: array}) in the reference's names and layouts,
    leaving out those that are not the reference's stage for these inputs (see the module docstring)."""
    stages = {}
    labels = np.asarray(feeds["point_labels"])
    if labels.size == 0 or not np.isin(labels, (2, 3)).any():
        stages.update({name: values[name] for name in POINT_STAGES})
    stages.update({name: values[name] for name in GRID_STAGES})
    if float(np.asarray(feeds["has_mask_input"]).reshape(-1)[0]) == 1.0:
        stages["mask.input"] = np.asarray(feeds["mask_input"])[:, 0]
        for stage in MASK_STAGES:
            stages[f"mask.{stage}"] = channels_last(values[f"mask.{stage}"])
    return stages
