"""The whole prompt encoder: the stages of spec §3–§10 composed under one semantics (§11–§12).

``SAMPromptEncoder.compose`` is the teaching composition: every stage in the spec's order, one
call per stage, no performance branches. ``__call__`` runs, part by part, the fast compositions
of reference/fast/ (chosen once, by ``fast.choose``); ``trace`` always runs the teaching one.
"""

from __future__ import annotations

from functools import partial
from types import SimpleNamespace
from typing import Any

import numpy as np

from . import fast as fast_forms
from . import registry
from . import validation as check
from .activations import get_activation
from .backend import Array, float_dtype, namespace_name, resolve_namespace
from .fast.label_table import token_table
from .fast.normal_tail import fast_activation
from .inputs import prepare_inputs
from .params import check_config, check_params, init_params
from .registry import OUTPUT_KEYS
from .semantics import Semantics, get_semantics
from .sparse import label_embedding_table

# The stage functions the encoder composes (reference/registry.py). ``SAMPromptEncoder(stages={...})``
# may replace any of them by name (the conformance suite builds its catalogue of known port bugs this way).
STAGES = {stage.name: stage.function for stage in registry.STAGES}
GAUSSIAN = "pe_layer.positional_encoding_gaussian_matrix"
PARTS = registry.PART_NAMES  # the composition's three parts (spec §3–§7, §8, §9–§10)


def _check_size_pair(name, value):
    ok = (
        isinstance(value, (tuple, list))
        and len(value) == 2
        and all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v > 0 for v in value)
    )
    if not ok:
        raise ValueError(f"{name}: expected (height, width), two positive ints; received {value!r}")
    return (int(value[0]), int(value[1]))


def _recorder(trace):
    """record(name, value) -> value; also stores it in ``trace`` when that is a dict (spec §11.4)."""

    def record(name, value):
        if trace is not None:
            trace[name] = value
        return value

    return record


class SAMPromptEncoder:
    """SAM's prompt encoder, computed stage by stage in one dtype on one array namespace.

    ``enc(points, labels, boxes, masks)`` returns the three outputs of spec §11;
    ``enc.trace(...)`` returns every stage's intermediate as well, keyed by stage name.
    The only state is the configuration and the parameters, converted once to ``dtype`` on ``xp``.
    ``fast=False`` makes ``__call__`` run the teaching composition too (reference/fast/).
    ``profile`` names the reference's semantics (spec §12.1, ``SEMANTICS``), or is a ``Semantics``.
    """

    def __init__(
        self,
        hidden_size=256,
        image_embedding_size=(64, 64),
        input_image_size=(1024, 1024),
        mask_in_channels=16,
        activation="gelu",
        params=None,
        dtype="float64",
        profile="sam",
        xp=None,
        layer_norm_eps=1e-6,
        stages=None,
        fast=True,
    ):
        check_config(hidden_size, mask_in_channels)
        self.hidden_size = int(hidden_size)
        self.mask_in_channels = int(mask_in_channels)
        self.image_embedding_size = _check_size_pair("image_embedding_size", image_embedding_size)
        self.input_image_size = _check_size_pair("input_image_size", input_image_size)
        self.activation = activation
        self._activation = get_activation(activation)  # §9.3, the definition; a clear error for an unknown name
        self.semantics = profile if isinstance(profile, Semantics) else get_semantics(profile)  # §12.1
        self.conventions = self.semantics  # (the old name)
        self.profile = self.semantics.name
        check.check_stages(stages, STAGES)  # replacements by name (the diagnosis's variants)
        if not isinstance(fast, bool):
            raise TypeError(f"fast: expected True or False; received {fast!r}")
        self.stages = SimpleNamespace(**dict(STAGES, **(stages or {})))
        self.xp = resolve_namespace(xp)
        self.dtype_name = dtype
        self.dtype = float_dtype(self.xp, dtype)
        self.layer_norm_eps = check.check_positive_finite("layer_norm_eps", layer_norm_eps)  # §9.2
        # every stage computes in dtype (§1.3): sizes it divides by must be representable in it
        check.check_representable("input_image_size", self.input_image_size, self.dtype, self.xp)
        check.check_representable("image_embedding_size", self.image_embedding_size, self.dtype, self.xp)
        if params is None:
            params = init_params(self.hidden_size, self.mask_in_channels, seed=0)
        check_params(params, self.hidden_size, self.mask_in_channels)
        self.params = {}
        for name, value in params.items():
            array = self.xp.astype(self.xp.asarray(value), self.dtype)
            check.check_finite(f"params[{name!r}]", array, self.xp)
            self.params[name] = array
        check.check_fourier_range(self.params["pe_layer.positional_encoding_gaussian_matrix"], self.dtype, self.xp)
        self._gaussian_abs = self.xp.abs(self.xp.astype(self.params[GAUSSIAN], self.xp.float64))  # §4.1's bound
        self._label_table = label_embedding_table(self.params, self.dtype, self.xp)  # §5.2: E, (6, C)
        self._token_table = token_table(self._label_table, self.semantics.labels, self.xp)  # §5.2, §6.2, §6.3
        self._fast_activation = fast_activation(activation, self.dtype, self.xp)
        self._parts = fast_forms.choose(self, fast, stages or {})  # the one switch (reference/fast/)

    def config(self) -> dict:
        """The constructor's keyword arguments (without params and xp)."""
        return {
            "hidden_size": self.hidden_size,
            "image_embedding_size": self.image_embedding_size,
            "input_image_size": self.input_image_size,
            "mask_in_channels": self.mask_in_channels,
            "activation": self.activation,
            "dtype": self.dtype_name,
            "profile": self.profile,
        }

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.config().items())
        return f"SAMPromptEncoder({args}, xp={namespace_name(self.xp)})"

    def __call__(self, points: Array = None, labels: Array = None, boxes: Array = None, masks: Array = None) -> dict:
        """The three outputs (spec §11.2), each part by its fast composition (reference/fast/)."""
        return self.compose(points, labels, boxes, masks, parts=self._parts)

    def trace(self, points: Array = None, labels: Array = None, boxes: Array = None, masks: Array = None) -> dict:
        """Every stage's intermediate, in computation order, then the three outputs (spec §11.4),
        from the teaching composition."""
        trace: dict[str, Array] = {}
        parts = SimpleNamespace(**{part: partial(getattr(self, part), trace=trace) for part in PARTS})
        trace.update(self.compose(points, labels, boxes, masks, parts=parts))
        return trace

    # -- the teaching composition (spec §3–§11): every stage in the spec's order ------------------

    def compose(
        self, points: Array = None, labels: Array = None, boxes: Array = None, masks: Array = None, parts: Any = None
    ) -> dict:
        """Spec §11: validate (§13), then the three parts, ``parts``' (default: the methods below)."""
        parts = parts or self
        points, labels, boxes, masks, batch = self._prepare_inputs(points, labels, boxes, masks)  # §11.1, §12, §13
        sparse = parts.sparse_tokens(points, labels, boxes, batch)  # §3–§7: (B, T, C)
        grid = parts.positional_grid()  # §8: (h, w, C)
        dense = parts.dense_embedding(masks, batch)  # §9, §10: (B, h, w, C)
        if not self.semantics.channels_last:  # §11.2: (B, h, w, C) -> (B, C, h, w); (h, w, C) -> (C, h, w)
            dense, grid = self.xp.permute_dims(dense, (0, 3, 1, 2)), self.xp.permute_dims(grid, (2, 0, 1))
        return dict(zip(OUTPUT_KEYS, (sparse, dense, grid[None, ...])))  # §11.2

    def sparse_tokens(self, points, labels, boxes, batch, trace=None):
        """Spec §3–§7: point tokens (§3, §4, §5), box tokens (§6), assembled (§7)."""
        xp, p, S, record = self.xp, self.params, self.stages, _recorder(trace)
        point_tokens = box_tokens = None
        if points is not None:
            coords = record("points.shifted", S.shift_to_pixel_centres(points, xp))  # §3.1
            if self.semantics.pad_points and boxes is None:
                coords, labels = S.append_padding_point(coords, labels, xp)  # §5.1
            record("points.labels", labels)
            pe = self.positional_encoding("points", coords, record)  # §3.2, §4
            point_tokens = S.embed_point_labels(pe, labels, self._label_table, self.semantics.labels, xp)  # §5.2
            record("points.tokens", point_tokens)
        if boxes is not None:
            corners = record("boxes.shifted", S.shift_to_pixel_centres(boxes, xp))  # §6.1, §3.1
            pe = self.positional_encoding("boxes", corners, record)  # §3.2, §4
            corners = p["point_embeddings.2.weight"], p["point_embeddings.3.weight"]
            box_tokens = S.embed_box_corners(pe, *corners, xp)  # §6.2
            if self.semantics.box_trailing_not_a_point:
                box_tokens = S.append_box_not_a_point(box_tokens, p["not_a_point_embed.weight"], xp)  # §6.3
            record("boxes.tokens", box_tokens)
        return S.assemble_sparse(point_tokens, box_tokens, batch, self.hidden_size, self.dtype, xp)  # §7

    def positional_encoding(self, prefix, shifted, record):
        """Spec §3.2 and §4 for shifted points or corners: normalise, project, sinusoids."""
        S, G = self.stages, self.params["pe_layer.positional_encoding_gaussian_matrix"]
        unit = record(f"{prefix}.normalised", S.normalise_coordinates(shifted, self.input_image_size, self.xp))  # §3.2
        argument = record(f"{prefix}.fourier_argument", S.fourier_argument(unit, G, self.xp))  # §4.1
        return record(f"{prefix}.positional_encoding", S.sinusoids(argument, self.xp))  # §4.2

    def positional_grid(self, trace=None):
        """Spec §8: the positional encoding of every cell centre of the embedding grid, (h, w, C)."""
        S, G, record = self.stages, self.params["pe_layer.positional_encoding_gaussian_matrix"], _recorder(trace)
        size = self.image_embedding_size
        centres = record("dense_pe.cell_centres", S.grid_cell_centres(size, self.dtype, self.xp))  # §8.1
        argument = record("dense_pe.fourier_argument", S.fourier_argument(centres, G, self.xp))  # §4.1
        return record("dense_pe.grid", S.sinusoids(argument, self.xp))  # §8.2

    def dense_embedding(self, masks, batch, trace=None):
        """Spec §9 when a mask is given (the downscaler), else §10 (no_mask_embed everywhere)."""
        S, p = self.stages, self.params
        if masks is None:
            return S.no_mask_embedding(p["no_mask_embed.weight"], batch, self.image_embedding_size, self.xp)  # §10
        mask = _recorder(trace)("mask.input", masks)
        return S.downscale_mask(mask, p, self._activation, self.xp, eps=self.layer_norm_eps, trace=trace)  # §9

    # -- inputs (spec §11.1, §12, §13): reference/inputs.py ----------------------------------

    def _prepare_inputs(self, points, labels, boxes, masks):
        """The prompts validated and in canonical form: points (B, N, 2), labels (B, N), boxes
        (B, M, 2, 2), masks (B', 4h, 4w), and the batch size (``inputs.prepare_inputs``)."""
        return prepare_inputs(self, points, labels, boxes, masks)
