"""The whole prompt encoder: the stages of spec §3–§10 composed under one profile (§11–§12)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from . import validation as check
from .activations import fast_activation, get_activation
from .backend import float_dtype, namespace_name, resolve_namespace
from .conventions import Conventions, get_conventions
from .coordinates import normalise_coordinates, shift_to_pixel_centres
from .masks import downscale_mask, no_mask_embedding
from .params import check_config, check_params, init_params
from .positional_encoding import fourier_argument, fourier_features_on_grid, grid_axes, grid_cell_centres, sinusoids
from .sparse import (
    append_box_not_a_point,
    append_padding_point,
    assemble_sparse,
    embed_box_corners,
    embed_point_labels,
    label_embedding_table,
    sparse_embeddings,
    token_table,
)

OUTPUT_KEYS = ("prompt_sparse_embeddings", "prompt_dense_embeddings", "prompt_dense_positional_embeddings")

# The stage functions the encoder composes. ``SAMPromptEncoder(stages={...})`` may replace any of
# them by name (the conformance suite builds its catalogue of known port bugs this way).
STAGES = {
    f.__name__: f
    for f in (
        shift_to_pixel_centres,
        normalise_coordinates,
        fourier_argument,
        sinusoids,
        append_padding_point,
        embed_point_labels,
        embed_box_corners,
        append_box_not_a_point,
        assemble_sparse,
        grid_cell_centres,
        downscale_mask,
        no_mask_embedding,
    )
}


def _check_size_pair(name, value):
    ok = (
        isinstance(value, (tuple, list))
        and len(value) == 2
        and all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v > 0 for v in value)
    )
    if not ok:
        raise ValueError(f"{name}: expected (height, width), two positive ints; received {value!r}")
    return (int(value[0]), int(value[1]))


class SAMPromptEncoder:
    """SAM's prompt encoder, computed stage by stage in one dtype on one array namespace.

    ``enc(points, labels, boxes, masks)`` returns the three outputs of spec §11;
    ``enc.trace(...)`` returns every stage's intermediate as well, keyed by stage name.
    The only state is the configuration and the parameters, converted once to ``dtype`` on ``xp``.
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
    ):
        check_config(hidden_size, mask_in_channels)
        self.hidden_size = int(hidden_size)
        self.mask_in_channels = int(mask_in_channels)
        self.image_embedding_size = _check_size_pair("image_embedding_size", image_embedding_size)
        self.input_image_size = _check_size_pair("input_image_size", input_image_size)
        self.activation = activation
        get_activation(activation)  # a clear error for an unknown name, before anything else
        self.conventions = profile if isinstance(profile, Conventions) else get_conventions(profile)
        self.profile = self.conventions.name
        unknown = sorted(set(stages or {}) - set(STAGES))
        if unknown:
            raise ValueError(f"stages: expected names among {sorted(STAGES)}; received {unknown}")
        for name, stage in (stages or {}).items():
            if not callable(stage):
                raise TypeError(f"stages[{name!r}]: expected a function like {name}; received {type(stage).__name__} {stage!r}"[:300])
        self.stages = SimpleNamespace(**dict(STAGES, **(stages or {})))
        # Fast paths replace a composition of stages only while every stage in it is the reference's own.
        replaced = set(stages or {})
        self._fast_grid = not replaced & {"grid_cell_centres", "fourier_argument", "sinusoids"}
        self._fast_sparse = not replaced & {
            "normalise_coordinates", "fourier_argument", "sinusoids", "embed_point_labels", "embed_box_corners", "append_box_not_a_point",
            "assemble_sparse",
        }
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
        self._label_table = label_embedding_table(self.params, self.dtype, self.xp)
        self._token_table = token_table(self._label_table, self.conventions.labels, self.xp)  # §5.2 + §6.2
        # §9.3: a replaced mask path gets the definition of the activation, as the literal stages do
        self._activation = (
            get_activation(activation) if "downscale_mask" in replaced else fast_activation(activation, self.dtype, self.xp)
        )

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

    def __call__(self, points=None, labels=None, boxes=None, masks=None) -> dict:
        return self._encode(points, labels, boxes, masks, trace=None)

    def trace(self, points=None, labels=None, boxes=None, masks=None) -> dict:
        """Every stage's intermediate, in computation order, then the three outputs (spec §11)."""
        trace = {}
        outputs = self._encode(points, labels, boxes, masks, trace=trace)
        trace.update(outputs)
        return trace

    # -- inputs (spec §11.1, §12, §13) -------------------------------------------------------

    def _prepare_inputs(self, points, labels, boxes, masks):
        """Validate the prompts and bring them to the canonical internal form:
        points (B, N, 2), labels (B, N), boxes (B, M, 2, 2), masks (B', 4h, 4w)."""
        xp, conv = self.xp, self.conventions
        if (points is None) != (labels is None):
            given, missing = ("points", "labels") if labels is None else ("labels", "points")
            raise ValueError(f"{missing}: expected {missing} together with {given}; received {given} alone")
        batch = {}
        if points is not None:
            points = check.as_array("points", points, xp)
            check.check_rank_and_shape("points", points, (None, None, 2), "(batch, points, xy) in pixels")
            check.check_finite("points", points, xp)
            points = check.cast_finite("points", points, self.dtype, xp)
            labels = check.as_array("labels", labels, xp)
            check.check_rank_and_shape("labels", labels, tuple(points.shape[:2]), "(batch, points), matching points")
            check.check_labels(labels, conv.labels.allowed, conv.name, xp)
            labels = xp.astype(labels, xp.int64)  # values checked above; signed, so -1 can be appended
            batch["points"] = points.shape[0]
        if boxes is not None:
            boxes = check.as_array("boxes", boxes, xp)
            if conv.boxes_layout == "xyxy":
                check.check_rank_and_shape("boxes", boxes, (None, 4), "(batch, x1 y1 x2 y2) in pixels")
                boxes = xp.reshape(boxes, (boxes.shape[0], 1, 2, 2))
            else:
                check.check_rank_and_shape("boxes", boxes, (None, None, 2, 2), "(batch, boxes, corner, xy) in pixels")
            check.check_finite("boxes", boxes, xp)
            boxes = check.cast_finite("boxes", boxes, self.dtype, xp)
            batch["boxes"] = boxes.shape[0]
        if masks is not None:
            h, w = self.image_embedding_size
            masks = check.as_array("masks", masks, xp)
            if conv.masks_layout == "nchw":
                check.check_rank_and_shape("masks", masks, (None, 1, 4 * h, 4 * w), f"(batch, 1, 4h, 4w) for image_embedding_size {(h, w)}")
                batch["masks"] = masks.shape[0]
                masks = masks[:, 0, :, :]
            else:
                check.check_rank_and_shape("masks", masks, (None, None, 4 * h, 4 * w, 1), f"(batch, masks, 4h, 4w, 1) for image_embedding_size {(h, w)}")
                batch["masks"] = masks.shape[0]
                # keras-hub: M = 0 masks means "no mask" (no_mask_embed at batch B), not an empty batch
                masks = xp.reshape(masks, (masks.shape[0] * masks.shape[1], 4 * h, 4 * w)) if masks.shape[1] else None
            if masks is not None:
                check.check_finite("masks", masks, xp)
                masks = check.cast_finite("masks", masks, self.dtype, xp)
                check.check_convolution_range(masks, self.params["mask_downscaling.0.weight"], self.params["mask_downscaling.0.bias"], xp)
        size = check.check_batch_sizes(batch)
        if size is None:
            size = conv.empty_prompt_batch
            if size is None:
                raise ValueError(
                    f"points, labels, boxes, masks: profile {conv.name!r} needs at least one prompt to know the "
                    f"batch size; received none"
                )
        return points, labels, boxes, masks, size

    # -- the algorithm (spec §3–§10) ----------------------------------------------------------

    def _encode(self, points, labels, boxes, masks, trace):
        xp, p, conv, S = self.xp, self.params, self.conventions, self.stages
        points, labels, boxes, masks, batch = self._prepare_inputs(points, labels, boxes, masks)
        G = p["pe_layer.positional_encoding_gaussian_matrix"]

        def record(name, value):
            if trace is not None:
                trace[name] = value
            return value

        def encode_positions(prefix, shifted):
            unit = record(f"{prefix}.normalised", S.normalise_coordinates(shifted, self.input_image_size, xp))  # §3.2
            argument = record(f"{prefix}.fourier_argument", S.fourier_argument(unit, G, xp))  # §4.1
            return record(f"{prefix}.positional_encoding", S.sinusoids(argument, xp))  # §4.2

        coords = corners = None
        if points is not None:
            coords = record("points.shifted", S.shift_to_pixel_centres(points, xp))  # §3.1 (points already in dtype)
            if conv.pad_points and boxes is None:  # §5.1
                coords, labels = S.append_padding_point(coords, labels, xp)
            record("points.labels", labels)
        if boxes is not None:
            corners = S.shift_to_pixel_centres(boxes, xp)  # §6.1, §3.1

        if self._fast_sparse and (coords is not None or corners is not None):
            # §3.2–§7 for all tokens at once (sparse.sparse_embeddings); the trace gets each part's slice
            parts = sparse_embeddings(
                coords, labels, corners, *self._token_table, conv.labels, G, self.input_image_size, xp,
                intermediates=trace is not None, box_trailing_not_a_point=conv.box_trailing_not_a_point,
            )
            sparse = parts["tokens"]
            count = coords.shape[1] if coords is not None else 0
            if trace is not None and coords is not None:
                for stage in ("normalised", "fourier_argument", "positional_encoding", "tokens"):
                    record(f"points.{stage}", parts[stage][:, :count, ...])
            if trace is not None and corners is not None:
                record("boxes.shifted", corners)
                batch_size, boxes_count = corners.shape[0], corners.shape[1]
                per_box = 3 if conv.box_trailing_not_a_point else 2
                for stage in ("normalised", "fourier_argument", "positional_encoding"):
                    value = parts[stage][:, count:, ...]
                    value = xp.reshape(value, (batch_size, boxes_count, per_box, value.shape[-1]))
                    record(f"boxes.{stage}", value[:, :, :2, :])
                record("boxes.tokens", parts["tokens"][:, count:, ...])
        else:  # the stages one by one (also the path when any of them is replaced)
            point_tokens = None
            if coords is not None:
                pe = encode_positions("points", coords)
                point_tokens = record("points.tokens", S.embed_point_labels(pe, labels, self._label_table, conv.labels, xp))  # §5.2
            box_tokens = None
            if corners is not None:
                record("boxes.shifted", corners)
                pe = encode_positions("boxes", corners)
                box_tokens = S.embed_box_corners(pe, p["point_embeddings.2.weight"], p["point_embeddings.3.weight"], xp)  # §6.2
                if conv.box_trailing_not_a_point:
                    box_tokens = S.append_box_not_a_point(box_tokens, p["not_a_point_embed.weight"], xp)  # §6.3
                record("boxes.tokens", box_tokens)
            sparse = S.assemble_sparse(point_tokens, box_tokens, batch, self.hidden_size, self.dtype, xp)  # §7

        if trace is not None or not self._fast_grid:
            centres = record("dense_pe.cell_centres", S.grid_cell_centres(self.image_embedding_size, self.dtype, xp))  # §8.1
            argument = record("dense_pe.fourier_argument", S.fourier_argument(centres, G, xp))  # §4.1
        if self._fast_grid:  # §8.2 by separation of variables (fourier_features_on_grid): (C, h, w)
            grid = fourier_features_on_grid(*grid_axes(self.image_embedding_size, self.dtype, xp), G, xp)
            record("dense_pe.grid", xp.permute_dims(grid, (1, 2, 0)))  # traced channels last: (h, w, C)
            dense_pe = grid[None, ...]  # (1, C, h, w)
        else:  # a replaced stage: the literal composition, channels last, moved to (1, C, h, w)
            dense_pe = xp.permute_dims(record("dense_pe.grid", S.sinusoids(argument, xp)), (2, 0, 1))[None, ...]  # §8.2

        if masks is not None:
            mask = record("mask.input", masks)
            dense = S.downscale_mask(mask, p, self._activation, xp, eps=self.layer_norm_eps, trace=trace)  # §9
        else:
            dense = S.no_mask_embedding(p["no_mask_embed.weight"], batch, self.image_embedding_size, xp)  # §10

        if not conv.channels_last:  # §11: (B, h, w, C) -> (B, C, h, w)
            dense = xp.permute_dims(dense, (0, 3, 1, 2))
        else:  # §11: (1, C, h, w) -> (1, h, w, C)
            dense_pe = xp.permute_dims(dense_pe, (0, 2, 3, 1))
        return dict(zip(OUTPUT_KEYS, (sparse, dense, dense_pe)))
