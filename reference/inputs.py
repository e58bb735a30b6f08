"""Spec §11.1, §12 and §13: the prompts as the encoder receives them, validated and brought to the
canonical internal form the stages take, whatever the semantics' layouts:

    points (B, N, 2), labels (B, N) int64, boxes (B, M, 2, 2), masks (B', 4h, 4w), in the compute dtype

Each check is one function of reference/validation.py; every error names the argument, what was
expected and what was received. Nothing here computes a stage.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from . import validation as check
from .backend import Array
from .semantics import Semantics


class Prompt(NamedTuple):
    """The validated prompt in canonical form (any part may be None) and the batch size B (§11.1)."""

    points: Any
    labels: Any
    boxes: Any
    masks: Any
    batch: int


def prepare_inputs(encoder: Any, points: Array, labels: Array, boxes: Array, masks: Array) -> Prompt:
    """Validate the prompts against ``encoder``'s configuration, semantics and dtype, and bring them
    to the canonical internal form (module docstring)."""
    if (points is None) != (labels is None):
        given, missing = ("points", "labels") if labels is None else ("labels", "points")
        raise ValueError(f"{missing}: expected {missing} together with {given}; received {given} alone")
    batch = {}
    if points is not None:
        points, labels = canonical_points(encoder, points, labels)
        batch["points"] = points.shape[0]
    if boxes is not None:
        boxes = canonical_boxes(encoder, boxes)
        batch["boxes"] = boxes.shape[0]
    if masks is not None:
        batch["masks"], masks = canonical_masks(encoder, masks)
    size = batch_size(encoder.semantics, batch)
    if encoder.semantics.empty_prompt_points and points is None and boxes is None:  # §7: zero points, §5.1 pads
        xp = encoder.xp
        points, labels = xp.zeros((size, 0, 2), dtype=encoder.dtype), xp.zeros((size, 0), dtype=xp.int64)
    return Prompt(points, labels, boxes, masks, size)


def canonical_points(encoder, points, labels):
    """Points (B, N, 2) in pixels, cast to the compute dtype; labels (B, N) int64 of the rule (§5.2)."""
    xp, dtype = encoder.xp, encoder.dtype
    points = check.as_array("points", points, xp)
    check.check_rank_and_shape("points", points, (None, None, 2), "(batch, points, xy) in pixels")
    check.check_finite("points", points, xp)
    points = check.cast_finite("points", points, dtype, xp)
    check.check_fourier_argument("points", points, encoder.input_image_size, encoder._gaussian_abs, dtype, xp)
    labels = check.as_array("labels", labels, xp)
    check.check_rank_and_shape("labels", labels, tuple(points.shape[:2]), "(batch, points), matching points")
    check.check_labels(labels, encoder.semantics.labels.allowed, encoder.semantics.name, xp)
    return points, xp.astype(labels, xp.int64)  # values checked above; signed, so -1 can be appended


def canonical_boxes(encoder, boxes):
    """Boxes as (B, M, 2, 2) corners in pixels, cast to the compute dtype (§6.1, §12: `xyxy` (B, 4) is
    M = 1, (B, M, 4) is M boxes per image)."""
    xp, dtype = encoder.xp, encoder.dtype
    boxes = check.as_array("boxes", boxes, xp)
    if encoder.semantics.boxes_layout == "xyxy":
        meaning = "(batch, x1 y1 x2 y2), or (batch, boxes, x1 y1 x2 y2) for several boxes per image, in pixels"
        check.check_shape_among("boxes", boxes, ((None, 4), (None, None, 4)), meaning)
        boxes = xp.reshape(boxes, (boxes.shape[0], 1 if boxes.ndim == 2 else boxes.shape[1], 2, 2))
    else:
        check.check_rank_and_shape("boxes", boxes, (None, None, 2, 2), "(batch, boxes, corner, xy) in pixels")
    check.check_finite("boxes", boxes, xp)
    boxes = check.cast_finite("boxes", boxes, dtype, xp)
    check.check_fourier_argument("boxes", boxes, encoder.input_image_size, encoder._gaussian_abs, dtype, xp)
    return boxes


def canonical_masks(encoder, masks):
    """(batch size the masks give, masks (B', 4h, 4w) in the compute dtype or None): `nchw` drops the
    channel axis; `nmhwc` flattens (B, M) to B' = B*M, and M = 0 means no mask (§11.1)."""
    xp, (h, w) = encoder.xp, encoder.image_embedding_size
    masks = check.as_array("masks", masks, xp)
    if encoder.semantics.masks_layout == "nchw":
        meaning = f"(batch, 1, 4h, 4w) for image_embedding_size {(h, w)}"
        check.check_rank_and_shape("masks", masks, (None, 1, 4 * h, 4 * w), meaning)
        size, masks = masks.shape[0], masks[:, 0, :, :]
    else:
        meaning = f"(batch, masks, 4h, 4w, 1) for image_embedding_size {(h, w)}"
        check.check_rank_and_shape("masks", masks, (None, None, 4 * h, 4 * w, 1), meaning)
        size = masks.shape[0]
        # keras-hub: M = 0 masks means "no mask" (no_mask_embed at batch B), not an empty batch
        masks = xp.reshape(masks, (masks.shape[0] * masks.shape[1], 4 * h, 4 * w)) if masks.shape[1] else None
    if masks is not None:
        check.check_finite("masks", masks, xp)
        masks = check.cast_finite("masks", masks, encoder.dtype, xp)
        weight, bias = encoder.params["mask_downscaling.0.weight"], encoder.params["mask_downscaling.0.bias"]
        check.check_convolution_range(masks, weight, bias, xp)
    return size, masks


def batch_size(semantics: Semantics, sizes: dict) -> int:
    """§11.1: the batch size every given input agrees on, else the semantics' empty-prompt batch."""
    size = check.check_batch_sizes(sizes)
    if size is None:
        size = semantics.empty_prompt_batch
        if size is None:
            raise ValueError(
                f"points, labels, boxes, masks: profile {semantics.name!r} needs at least one prompt to know the "
                f"batch size; received none"
            )
    return size
