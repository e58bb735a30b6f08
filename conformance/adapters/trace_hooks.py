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
call runs (these are methods, not modules, so hooks cannot see them) and restored afterwards,
exactly as they were (``InstancePatches``: a port's own instance attributes stay).
Every recorded value is a detached copy (Meta edits the positional encoding in place).
"""

from __future__ import annotations

import numpy as np

MASK_STAGES = ("conv1", "norm1", "act1", "conv2", "norm2", "act2", "conv3")  # mask_downscaling.0 ... .6


def _numpy(tensor):
    return tensor.detach().cpu().clone().numpy()


class InstancePatches:
    """Attributes set on instances while a trace runs, then restored exactly (read-only tracing).

    ``set(obj, name, value)`` writes ``value`` into ``obj.__dict__``; ``restore()`` puts back what
    was there before: an attribute the port had set on its own instance (a monkeypatch, a
    ``torch.compile``-wrapped method) is put back, and only a name that this object added is
    removed. A name the port itself replaced while the trace ran is left as the port left it."""

    def __init__(self):
        self._saved = []

    def set(self, obj, name, value):
        attributes = vars(obj)
        self._saved.append((attributes, name, name in attributes, attributes.get(name), value))
        attributes[name] = value

    def restore(self):
        while self._saved:
            attributes, name, had, before, ours = self._saved.pop()
            if attributes.get(name) is not ours:
                continue  # not ours any more: the port's own doing
            if had:
                attributes[name] = before
            else:
                del attributes[name]


class TraceFailure(RuntimeError):
    """The port raised while it was being traced; the message names the stage it was computing."""


class StageTracker:
    """Which stage a traced call is computing (for an error that names it), and the stages' values.

    A recording that cannot be converted to the reference's layout keeps the port's own array
    (the comparison then names the shape), and never raises inside the port's call."""

    def __init__(self):
        self.stages = {}
        self.current = None

    def enter(self, stage):
        self.current = stage

    def record(self, stage, value, convert=None):
        try:
            array = _numpy(value)
        except Exception:  # not a tensor: nothing to record
            return
        if convert is not None:
            try:
                array = convert(array)
            except Exception:  # the port's layout differs: keep its own array, the comparison says how
                pass
        self.stages[stage] = array

    def watch(self, module, stage, hooks, convert=None):
        """Forward hooks on ``module`` (appended to ``hooks``): its call computes ``stage`` (entered
        before any pre-hook of the port's own) and its output is recorded as ``stage``; nothing on an
        object that is not a module."""
        if not hasattr(module, "register_forward_pre_hook"):
            return
        hooks.append(module.register_forward_pre_hook(lambda m, inputs: self.enter(stage), prepend=True))
        hooks.append(module.register_forward_hook(lambda m, inputs, output: self.record(stage, output, convert)))

    def watch_mask_input(self, module, hooks):
        """A forward pre-hook on the mask path ``module``: its input (B, 1, H, W) is ``mask.input``."""

        def hook(m, inputs):
            self.enter("mask.input")
            self.record("mask.input", inputs[0], lambda array: array[:, 0])

        hooks.append(module.register_forward_pre_hook(hook, prepend=True))

    def failure(self, exc) -> TraceFailure:
        where = f"stage {self.current!r}" if self.current else "before its first traced stage"
        return TraceFailure(f"the port raised while computing {where}: {type(exc).__name__}: {exc}")


def channels_last(array):
    """A traced NCHW map in the reference's channels-last layout (B, y, x, C)."""
    return np.ascontiguousarray(np.moveaxis(array, 1, -1))


def token_recorder(encoder, name, prefix, context, stages, tracker=None):
    """``encoder.<name>`` (``_embed_points``, ``_embed_boxes``), wrapped: while it runs ``prefix`` is on
    ``context`` (so hooks inside know whose call it is), and its output is ``stages[prefix + ".tokens"]``.
    Install it with ``InstancePatches.set`` and ``restore`` afterwards."""
    original = getattr(encoder, name)

    def method(*args, **kwargs):
        context.append(prefix)
        if tracker is not None:
            tracker.enter(f"{prefix}.tokens")
        try:
            out = original(*args, **kwargs)
        finally:
            context.pop()
        try:
            stages[f"{prefix}.tokens"] = _numpy(out)
        except Exception:  # not a tensor: nothing to record
            pass
        return out

    return method


def _reshape_boxes(stages, batch):
    """Meta's (B*M, 2, ·) corners -> the reference's (B, M, 2, ·); a port's other layout is kept as is."""
    for stage in ("boxes.normalised", "boxes.positional_encoding"):
        if stage in stages:
            value = stages[stage]
            try:
                stages[stage] = value.reshape(batch, -1, 2, value.shape[-1])
            except ValueError:
                pass


def _pe_recorder(original, tracker, context):
    """``pe_layer._pe_encoding`` wrapped: the coordinates and the encoding of the call under way
    (the dense grid, or the points' or boxes' corners, from ``context``) are recorded."""

    def pe_encoding(coords):
        prefix = context[-1] if context else None
        if prefix in ("dense_pe", "points", "boxes"):
            tracker.enter("dense_pe.grid" if prefix == "dense_pe" else f"{prefix}.positional_encoding")
        out = original(coords)
        if prefix == "dense_pe":
            tracker.record("dense_pe.cell_centres", coords)
            tracker.record("dense_pe.grid", out)
        elif prefix in ("points", "boxes"):
            tracker.record(f"{prefix}.normalised", coords)
            tracker.record(f"{prefix}.positional_encoding", out)
        return out

    return pe_encoding


def _install_meta_hooks(encoder, tracker, context, hooks, patches):
    """The hooks and instance wrappers of ``meta_trace`` on whatever parts of Meta's layout the port
    has (a part it lacks or replaced by another kind is left untraced, never an error)."""
    pe_layer = getattr(encoder, "pe_layer", None)
    if callable(getattr(pe_layer, "_pe_encoding", None)):
        patches.set(pe_layer, "_pe_encoding", _pe_recorder(pe_layer._pe_encoding, tracker, context))
    if hasattr(pe_layer, "register_forward_pre_hook"):
        hooks.append(pe_layer.register_forward_pre_hook(lambda module, inputs: context.append("dense_pe")))
        hooks.append(pe_layer.register_forward_hook(lambda module, inputs, output: context.pop() and None))
    for name, prefix in (("_embed_points", "points"), ("_embed_boxes", "boxes")):
        if callable(getattr(encoder, name, None)):
            patches.set(encoder, name, token_recorder(encoder, name, prefix, context, tracker.stages, tracker))
    mask = getattr(encoder, "mask_downscaling", None)
    if hasattr(mask, "register_forward_pre_hook"):
        tracker.watch_mask_input(mask, hooks)
    if hasattr(mask, "__getitem__") and hasattr(mask, "__len__") and len(mask) == len(MASK_STAGES):
        for index, stage in enumerate(MASK_STAGES):
            tracker.watch(mask[index], f"mask.{stage}", hooks, channels_last)


def meta_trace(encoder, points=None, labels=None, boxes=None, masks=None) -> dict:
    """{stage name: NumPy array} of one call of a Meta-style PromptEncoder (see the module docstring),
    with its three outputs; inputs in the `sam` profile, as ``run`` receives them. Read-only: every
    hook is removed and every instance attribute restored (``InstancePatches``), even when the port
    raises; then a ``TraceFailure`` names the stage the port was computing."""
    import torch

    parameter = next(encoder.parameters())
    dtype, device = parameter.dtype, parameter.device
    as_tensor = lambda v, t=None: None if v is None else torch.as_tensor(np.asarray(v), dtype=t or dtype, device=device)
    tracker, context, hooks, patches = StageTracker(), [], [], InstancePatches()
    stages = tracker.stages
    try:
        _install_meta_hooks(encoder, tracker, context, hooks, patches)
        with torch.no_grad():
            prompt = None if points is None else (as_tensor(points), as_tensor(labels, torch.int64))
            sparse, dense = encoder(points=prompt, boxes=as_tensor(boxes), masks=as_tensor(masks))
            tracker.enter("dense_pe.grid")
            dense_pe = encoder.get_dense_pe()
    except Exception as exc:
        raise tracker.failure(exc) from exc
    finally:
        for hook in hooks:
            hook.remove()
        patches.restore()
    _reshape_boxes(stages, sparse.shape[0])
    stages.update(
        prompt_sparse_embeddings=_numpy(sparse),
        prompt_dense_embeddings=_numpy(dense),
        prompt_dense_positional_embeddings=_numpy(dense_pe),
    )
    return stages
