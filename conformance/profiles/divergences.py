"""The divergences between real ports (docs/spec.md §12.2): every way a port departs from `sam`,
each with a predicate saying which outputs of a case (given in `sam` conventions) it changes. Data:
a new divergence is one more entry of ``DIVERGENCES``."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from samspec.reference import DENSE, DENSE_PE, OUTPUT_KEYS, SPARSE

ALL_OUTPUTS = frozenset(OUTPUT_KEYS)
NONE = frozenset()


def sam_pads(inputs) -> bool:
    """SAM v1's padding rule (spec §5.1): a not-a-point is appended iff points come without boxes."""
    return inputs.get("points") is not None and inputs.get("boxes") is None


# -- divergences (docs/spec.md §12.2): which outputs of a case each one changes -------------------


def _labels_any(inputs, predicate) -> bool:
    labels = inputs.get("labels")
    return labels is not None and np.size(labels) > 0 and bool(np.any(predicate(np.asarray(labels))))


def _has_coordinates(inputs) -> bool:
    """Whether any token depends on a coordinate: a box, or a point whose label is not -1 (a
    not-a-point token, the padding point included, is `not_a_point_embed` alone, spec §5.2)."""
    return inputs.get("boxes") is not None or _labels_any(inputs, lambda l: l != -1)


def several_boxes_per_image(inputs) -> bool:
    """Boxes given as (B, M, 4) with M != 1 (spec §6.1): not one box per image."""
    boxes = inputs.get("boxes")
    return boxes is not None and np.ndim(boxes) == 3 and np.shape(boxes)[1] != 1


def _has_sparse_prompt(inputs) -> bool:
    return inputs.get("points") is not None or inputs.get("boxes") is not None


def _non_square_image(config) -> bool:
    height, width = config["input_image_size"]
    return height != width


def _non_square_grid(config) -> bool:
    h, w = config["image_embedding_size"]
    return h != w


@dataclass(frozen=True)
class Divergence:
    """One way a port departs from `sam` (docs/spec.md §12.2). ``affects(inputs, config)`` gives
    the outputs this divergence changes on a case given in `sam` conventions (empty: the case
    does not exercise it). ``outside_sam``: it gives a meaning to inputs that SAM v1 refuses
    (label −10), so the reference under `sam` semantics has no expected value and a case
    exercising it is n/a under every profile with those semantics. ``changes_rows``: it changes
    the number of sparse tokens, not the values of the tokens a `sam` port also gives.
    ``inexpressible``: the port's inputs cannot hold such a case in any layout (several boxes in
    one token sequence), so it is n/a under the port's layout twin as well."""

    name: str
    summary: str
    affects: object = None  # (inputs, config) -> frozenset of output keys; None: layout only, never observable
    outside_sam: bool = False
    changes_rows: bool = False
    inexpressible: bool = False

    def outputs(self, inputs, config) -> frozenset:
        return frozenset(self.affects(inputs, config)) if self.affects else NONE


def _sparse_if(predicate):
    """A divergence that changes the sparse output of the cases where ``predicate(inputs)`` holds."""
    return lambda inputs, config: frozenset({SPARSE}) if predicate(inputs) else NONE


DIVERGENCES = {
    d.name: d
    for d in (
        Divergence(
            "no_padding_point",
            "never appends the §5.1 padding point; the caller must",
            _sparse_if(sam_pads),
            changes_rows=True,
        ),
        Divergence(
            "labels_2_3_foreground",
            "every label other than −1 and 0 (2, 3, …) adds the foreground embedding",
            _sparse_if(lambda i: _labels_any(i, lambda l: (l != -1) & (l != 0) & (l != 1))),
        ),
        Divergence(
            "corner_labels",
            "labels 2 and 3 add the corner embeddings `point_embeddings.2`/`.3` (as a box's corners get)",
            _sparse_if(lambda i: _labels_any(i, lambda l: (l == 2) | (l == 3))),
        ),
        Divergence(
            "hf_minus_10_label",
            "label −10 gives an all-zero token (transformers' processors pad ragged point lists with −10)",
            _sparse_if(lambda i: _labels_any(i, lambda l: l == -10)),
            outside_sam=True,
        ),
        Divergence(
            "box_not_a_point_token",
            "each box gives three tokens: its two corners, then `not_a_point_embed` (§6.3)",
            _sparse_if(lambda i: i.get("boxes") is not None and np.size(i["boxes"]) > 0),
            changes_rows=True,
        ),
        Divergence(
            "one_box_per_prompt",
            "one box per prompt: several boxes of one image are separate prompts (batch entries or point "
            "batches), never one token sequence",
            _sparse_if(several_boxes_per_image),
            inexpressible=True,
        ),
        Divergence(
            "square_normalisation",
            "x and y both divided by one size S; equals §3.2 only when H = W",
            lambda i, c: frozenset({SPARSE}) if _non_square_image(c) and _has_coordinates(i) else NONE,
        ),
        Divergence(
            "square_embedding_grid",
            "`image_embedding_size` is one int: the dense grid and the no-mask embedding are (S, S)",
            lambda i, c: (
                (frozenset({DENSE_PE}) | (frozenset({DENSE}) if i.get("masks") is None else NONE))
                if _non_square_grid(c)
                else NONE
            ),
        ),
        Divergence(
            "empty_prompt_none",
            "no points and no boxes: the sparse output is `None`",
            lambda i, c: frozenset({SPARSE}) if not _has_sparse_prompt(i) else NONE,
        ),
        Divergence(
            "empty_prompt_padding_token",
            "no points and no boxes: the sparse output is one not-a-point token (a padding point is appended to "
            "every prompt, an empty one included)",
            lambda i, c: frozenset({SPARSE}) if not _has_sparse_prompt(i) else NONE,
            changes_rows=True,
        ),
        Divergence(
            "empty_prompt_crash",
            "no prompt at all raises (IndexError): the batch size comes from the first prompt given",
            lambda i, c: ALL_OUTPUTS if all(i.get(k) is None for k in ("points", "boxes", "masks")) else NONE,
        ),
        # layout divergences: every profile of the port converts them, so no case can observe them
        Divergence("channels_last", "dense outputs and masks NHWC: (B, h, w, C); grid (1, h, w, C)"),
        Divergence("corner_boxes", "boxes (B, M, 2, 2), several per image"),
        Divergence("masks_per_image_axis", "masks (B, M, 4h, 4w, 1), flattened to B·M"),
        Divergence(
            "point_batch_axis",
            "extra point-batch axis P: points (B, P, N, 2), labels (B, P, N), sparse (B, P, N′, C)",
        ),
        Divergence("hf_boxes_on_point_batch", "boxes (B, nb, 4); box tokens joined on the point axis (nb = P)"),
        Divergence(
            "onnx_mask_blend",
            "a mask input is always given; `has_mask_input` (0/1) blends it with `no_mask_embed`",
        ),
    )
}
