"""``meta_trace``: the stage-by-stage trace of a Meta-style torch PromptEncoder, in one line.

For `samspec check --trace` (docs/diagnosis.md) an adapter may return its port's intermediate
values under the reference's stage names. A port whose module follows Meta's SAM v1
``PromptEncoder`` (``pe_layer`` with ``_pe_encoding``, ``_embed_points``, ``_embed_boxes``,
``mask_downscaling`` as a 7-module ``nn.Sequential``, ``get_dense_pe``) gets it from::

    from samspec.conformance.adapters.trace_hooks import meta_trace

    class MyAdapter:
        ...
        def trace(self, points, labels, boxes, masks):
            return meta_trace(self.encoder, points, labels, boxes, masks)

Forward hooks on ``mask_downscaling.0`` ... ``.6`` record the mask path (moved to the reference's
channels-last layout); forward pre-/post-hooks on ``pe_layer`` mark the dense grid's call; the
instance's ``pe_layer._pe_encoding``, ``_embed_points`` and ``_embed_boxes`` are wrapped while the
call runs (these are methods, not modules, so hooks cannot see them) and restored afterwards.
Every recorded value is a detached copy (Meta edits the positional encoding in place).
"""

from __future__ import annotations

import numpy as np

MASK_STAGES = ("conv1", "norm1", "act1", "conv2", "norm2", "act2", "conv3")  # mask_downscaling.0 ... .6


def _numpy(tensor):
    return tensor.detach().cpu().clone().numpy()


def token_recorder(encoder, name, prefix, context, stages):
    """``encoder.<name>`` (``_embed_points``, ``_embed_boxes``), wrapped: while it runs ``prefix`` is on
    ``context`` (so hooks inside know whose call it is), and its output is ``stages[prefix + ".tokens"]``.
    Install it on the instance and pop it from ``encoder.__dict__`` afterwards."""
    original = getattr(encoder, name)

    def method(*args, **kwargs):
        context.append(prefix)
        try:
            out = original(*args, **kwargs)
        finally:
            context.pop()
        stages[f"{prefix}.tokens"] = _numpy(out)
        return out

    return method


def meta_trace(encoder, points=None, labels=None, boxes=None, masks=None) -> dict:
    """{stage name: NumPy array} of one call of a Meta-style PromptEncoder (see the module docstring),
    with its three outputs; inputs in the `sam` profile, as ``run`` receives them."""
    import torch

    parameter = next(encoder.parameters())
    dtype, device = parameter.dtype, parameter.device
    as_tensor = lambda v, t=None: None if v is None else torch.as_tensor(np.asarray(v), dtype=t or dtype, device=device)
    stages, context, hooks = {}, [], []
    pe_layer = encoder.pe_layer
    original_pe = pe_layer._pe_encoding

    def pe_encoding(coords):
        out = original_pe(coords)
        prefix = context[-1] if context else None
        if prefix == "dense_pe":
            stages["dense_pe.cell_centres"], stages["dense_pe.grid"] = _numpy(coords), _numpy(out)
        elif prefix in ("points", "boxes"):
            stages[f"{prefix}.normalised"], stages[f"{prefix}.positional_encoding"] = _numpy(coords), _numpy(out)
        return out

    def wrap(name, prefix):
        return token_recorder(encoder, name, prefix, context, stages)

    def record_mask(stage):
        def hook(module, inputs, output):
            stages[f"mask.{stage}"] = np.ascontiguousarray(np.moveaxis(_numpy(output), 1, -1))  # NCHW -> NHWC

        return hook

    try:
        pe_layer._pe_encoding = pe_encoding
        encoder._embed_points = wrap("_embed_points", "points")
        encoder._embed_boxes = wrap("_embed_boxes", "boxes")
        hooks.append(pe_layer.register_forward_pre_hook(lambda module, inputs: context.append("dense_pe")))
        hooks.append(pe_layer.register_forward_hook(lambda module, inputs, output: context.pop() and None))
        hooks.append(
            encoder.mask_downscaling.register_forward_pre_hook(
                lambda module, inputs: stages.__setitem__("mask.input", _numpy(inputs[0])[:, 0])
            )
        )
        for index, stage in enumerate(MASK_STAGES):
            hooks.append(encoder.mask_downscaling[index].register_forward_hook(record_mask(stage)))
        with torch.no_grad():
            prompt = None if points is None else (as_tensor(points), as_tensor(labels, torch.int64))
            sparse, dense = encoder(points=prompt, boxes=as_tensor(boxes), masks=as_tensor(masks))
            dense_pe = encoder.get_dense_pe()
    finally:
        for hook in hooks:
            hook.remove()
        for name in ("_pe_encoding",):
            pe_layer.__dict__.pop(name, None)
        for name in ("_embed_points", "_embed_boxes"):
            encoder.__dict__.pop(name, None)
    if "boxes.normalised" in stages:  # Meta's (B*M, 2, 2) corners -> the reference's (B, M, 2, 2)
        batch = sparse.shape[0]
        stages["boxes.normalised"] = stages["boxes.normalised"].reshape(batch, -1, 2, 2)
        pe = stages["boxes.positional_encoding"]
        stages["boxes.positional_encoding"] = pe.reshape(batch, -1, 2, pe.shape[-1])
    stages.update(
        prompt_sparse_embeddings=_numpy(sparse),
        prompt_dense_embeddings=_numpy(dense),
        prompt_dense_positional_embeddings=_numpy(dense_pe),
    )
    return stages
