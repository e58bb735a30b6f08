"""The normative clauses of docs/spec.md that a fixture case can exercise, as data (docs/coverage.md).

Each clause names its § and says, as a predicate over a case (its `sam`-convention inputs, its
configuration and its parameters), whether the case exercises it. A built-in profile *implements*
a clause unless the clause holds only under other reference semantics (§5.2's label columns, §6.3)
or the profile excludes a divergence that contradicts the clause (a square-only port excludes
`square_normalisation`, so it does not implement §3.2's "never a square image"). The clauses of
§12.2 are derived from the built-in profiles: one per divergence a profile converts, computes or
exposes, exercised where the divergence is observable.

Outside this table: what the spec asks of the reference's own API rather than of a port's outputs
(§1.3's namespaces and dtypes, §2.2's initialisation, §11.4's trace, §13's refusals), checked by the
reference's own tests; and the rules checked on generated prompts by `samspec check --properties`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from samspec.reference import SEMANTICS, SAMPromptEncoder

from ..profiles.builtin import PROFILES
from ..profiles.conversions import prompt_batch
from ..profiles.divergences import DIVERGENCES, sam_pads


@dataclass(frozen=True)
class CaseView:
    """What a clause's predicate sees of a case: its `sam` inputs (absent ones None), configuration
    and parameters."""

    inputs: dict
    config: dict
    params: dict

    @classmethod
    def of(cls, case) -> CaseView:
        inputs = {k: case.inputs.get(k) for k in ("points", "labels", "boxes", "masks")}
        return cls(inputs, dict(case.config), case.params)


@dataclass(frozen=True)
class Clause:
    """One normative statement of docs/spec.md. ``exercised(view)``: whether a case exercises it.
    ``semantics``: the reference conventions under which it holds (None: all). ``contradicted_by``:
    divergences (§12.2) whose exclusion by a profile means the profile does not implement it.
    ``divergence``: for a §12.2 clause, the divergence it names (implemented by the profiles that
    convert, compute or expose it)."""

    id: str
    section: str
    statement: str
    exercised: object  # (CaseView) -> bool
    semantics: frozenset | None = None
    contradicted_by: tuple = ()
    divergence: str = ""

    def implemented_by(self, profile) -> bool:
        """Whether ``profile`` (a conformance Profile) is held to this clause."""
        if self.semantics is not None and profile.semantics not in self.semantics:
            return False
        if any(name in profile.excluded for name in self.contradicted_by):
            return False
        if self.divergence:
            return self.divergence in profile.converted + profile.computed + profile.exposed
        return True


# -- what a case holds ----------------------------------------------------------------------------


def _given(view, key) -> bool:
    return view.inputs.get(key) is not None


def _labels(view) -> np.ndarray:
    labels = view.inputs.get("labels")
    return np.zeros(0, dtype=np.int64) if labels is None else np.asarray(labels).ravel()


def _has_label(*values):
    return lambda view: bool(np.isin(_labels(view), values).any())


def _points_xy(view) -> np.ndarray:
    """The (x, y) of every point whose token carries a position (label other than −1 and −10)."""
    if not _given(view, "points"):
        return np.zeros((0, 2))
    points = np.asarray(view.inputs["points"], dtype=np.float64).reshape(-1, 2)
    return points[~np.isin(_labels(view), (-1, -10))]


def _boxes(view) -> np.ndarray:
    """Boxes as rows (x1, y1, x2, y2)."""
    if not _given(view, "boxes"):
        return np.zeros((0, 4))
    return np.asarray(view.inputs["boxes"], dtype=np.float64).reshape(-1, 4)


def _coordinates(view) -> np.ndarray:
    """Every encoded pixel coordinate (x, y): positioned points and both corners of every box."""
    return np.concatenate([_points_xy(view), _boxes(view).reshape(-1, 2)])


def _coordinate_tokens(view) -> bool:
    return len(_coordinates(view)) > 0


def _unit(view) -> np.ndarray:
    """§3's u of every encoded coordinate."""
    height, width = view.config["input_image_size"]
    return (_coordinates(view) + 0.5) / np.array([width, height])


def _on_border(view) -> bool:
    height, width = view.config["input_image_size"]
    xy = _points_xy(view)
    return bool(np.isin(xy[:, 0], (0, width - 1)).any() or np.isin(xy[:, 1], (0, height - 1)).any())


def _on_unit_edges(view) -> bool:
    u = _unit(view)
    return bool(((u == 0.0) | (u == 1.0)).any())


def _outside(view) -> bool:
    u = _unit(view)
    return bool(((u < 0.0) | (u > 1.0)).any())


def _box_outside(view) -> bool:
    height, width = view.config["input_image_size"]
    corners = _boxes(view).reshape(-1, 2)
    return bool(((corners < 0) | (corners > np.array([width - 1, height - 1]))).any())


def _non_square_image(view) -> bool:
    height, width = view.config["input_image_size"]
    return height != width


def _non_square_grid(view) -> bool:
    h, w = view.config["image_embedding_size"]
    return h != w


def _sizes_unrelated(view) -> bool:
    """(H, W) is not (16h, 16w), SAM's own ratio."""
    return tuple(view.config["input_image_size"]) != tuple(16 * n for n in view.config["image_embedding_size"])


def _batch(view) -> int:
    return prompt_batch(view.inputs)


def _prompt_given(view) -> bool:
    return any(_given(view, k) for k in ("points", "boxes", "masks"))


def _integer(key):
    return lambda view: _given(view, key) and np.asarray(view.inputs[key]).dtype.kind in "iu"


def _mask_variance_near_eps(view) -> bool:
    """The first LayerNorm's channel variance (over more than one channel) is within 100·eps of zero
    at most pixels: §9.2's regime where eps inside the square root and the biased variance decide."""
    if not _given(view, "masks"):
        return False
    encoder = SAMPromptEncoder(**view.config, params=view.params, dtype="float64")
    conv1 = np.asarray(encoder.trace(masks=view.inputs["masks"])["mask.conv1"])
    return conv1.shape[-1] > 1 and bool(np.median(conv1.var(axis=-1)) < 100 * 1e-6)


def _always(view) -> bool:
    return True


def _all(*predicates):
    return lambda view: all(p(view) for p in predicates)


def _not(predicate):
    return lambda view: not predicate(view)


def _boxes_where(test):
    """Some box (x1, y1, x2, y2) satisfies ``test(x1, y1, x2, y2)`` (arrays of the boxes' values)."""
    return lambda view: bool(test(*_boxes(view).T).any()) if _given(view, "boxes") else False


def _pads(view) -> bool:
    return sam_pads(view.inputs)


def _points(view) -> bool:
    return _given(view, "points")


def _boxes_given(view) -> bool:
    return _given(view, "boxes")


def _several_boxes(view) -> bool:
    """Two or more boxes in one image: boxes (B, M, 4) with M >= 2 (§6.1)."""
    return _given(view, "boxes") and np.ndim(view.inputs["boxes"]) == 3 and np.shape(view.inputs["boxes"])[1] >= 2


def _masks(view) -> bool:
    return _given(view, "masks")


# -- the clauses of §2–§11 ------------------------------------------------------------------------


def _semantics_where(test) -> frozenset:
    """The reference semantics (samspec.reference.SEMANTICS, §12.1) whose conventions pass ``test``."""
    return frozenset(name for name, conventions in SEMANTICS.items() if test(conventions))


SAM_LABELS = _semantics_where(lambda c: c.labels.entries.get(2) == (1, "none"))  # labels 2 and 3: PE only
CORNER_LABELS = _semantics_where(lambda c: c.labels.entries.get(2) == (1, "top_left"))  # PE + corner rows
MINUS_10 = _semantics_where(lambda c: c.labels.entries.get(-10) == (0, "none"))  # label −10: zeros
TWO_BOX_TOKENS = _semantics_where(lambda c: not c.box_trailing_not_a_point)
TRAILING_BOX_TOKEN = _semantics_where(lambda c: c.box_trailing_not_a_point)
EMPTY_SPARSE = _semantics_where(lambda c: not c.empty_prompt_points)  # no points, no boxes: (B, 0, C)
PADDED_EMPTY_PROMPT = _semantics_where(lambda c: c.empty_prompt_points)  # zero points, padded: (B, 1, C)

SPEC_CLAUSES = (
    Clause("2.1.sizes_unrelated", "2.1", "no relation between (H, W) and (h, w) is assumed", _sizes_unrelated),
    Clause(
        "3.1.shift", "3.1", "every point and box corner is shifted by +0.5 before normalisation", _coordinate_tokens
    ),
    Clause(
        "3.1.padding_not_shifted", "3.1", "the padding point is appended after the shift and stays at (0, 0)", _pads
    ),
    Clause("3.2.normalise", "3.2", "u = (x′ / W, y′ / H)", _coordinate_tokens),
    Clause(
        "3.2.never_square",
        "3.2",
        "x is divided by the width and y by the height: a port never assumes a square image",
        _all(_non_square_image, _coordinate_tokens),
        contradicted_by=("square_normalisation",),
    ),
    Clause("3.2.border", "3.2", "points on the image's border pixels (x = 0 or W − 1, y = 0 or H − 1)", _on_border),
    Clause("3.2.unit_edges", "3.2", "shifted coordinates on the unit square's edges (u = 0 and u = 1)", _on_unit_edges),
    Clause(
        "3.2.outside", "3.2", "coordinates outside the image are encoded by the same formula, not clipped", _outside
    ),
    Clause("4.1.argument", "4.1", "A = 2π · ((2u − 1) @ G): row 0 of G multiplies x, row 1 y", _always),
    Clause("4.2.features", "4.2", "PE(u) = concat([sin A, cos A]): sines first, not interleaved", _always),
    Clause("5.1.padding", "5.1", "points without boxes: a point (0, 0) labelled −1 is appended to every image", _pads),
    Clause(
        "5.1.padding_zero_points",
        "5.1",
        "the padding applies even when N = 0",
        lambda v: sam_pads(v.inputs) and np.shape(v.inputs["points"])[1] == 0,
    ),
    Clause("5.1.no_padding_with_boxes", "5.1", "points with boxes: nothing is appended", _all(_points, _boxes_given)),
    Clause("5.2.label_minus_1", "5.2", "label −1: exactly `not_a_point_embed` (PE discarded)", _has_label(-1)),
    Clause("5.2.label_0", "5.2", "label 0: PE + `point_embeddings.0`", _has_label(0)),
    Clause("5.2.label_1", "5.2", "label 1: PE + `point_embeddings.1`", _has_label(1)),
    Clause(
        "5.2.labels_2_3_pe_only",
        "5.2",
        "labels 2 and 3: PE only (`sam`, `hf`)",
        _has_label(2, 3),
        semantics=SAM_LABELS,
        contradicted_by=("labels_2_3_foreground",),
    ),
    Clause(
        "5.2.labels_2_3_corner_rows",
        "5.2",
        "labels 2 and 3: PE + `point_embeddings.2` / `.3` (`sam2`, `hf_sam2`)",
        _has_label(2, 3),
        semantics=CORNER_LABELS,
    ),
    Clause(
        "5.2.label_minus_10",
        "5.2",
        "label −10: an all-zero token (`hf`, `hf_sam2`)",
        _has_label(-10),
        semantics=MINUS_10,
    ),
    Clause(
        "5.2.mixed_labels",
        "5.2",
        "labels differ within an image and across the batch",
        lambda v: _batch(v) > 1 and len(np.unique(_labels(v))) > 1,
    ),
    Clause(
        "6.1.corners", "6.1", "a box (x1, y1, x2, y2) gives corner 0 = (x1, y1) and corner 1 = (x2, y2)", _boxes_given
    ),
    Clause(
        "6.1.reversed_x",
        "6.1",
        "x1 > x2: the corners are not reordered (the first keeps the top-left embedding)",
        _boxes_where(lambda x1, y1, x2, y2: x1 > x2),
    ),
    Clause(
        "6.1.reversed_y", "6.1", "y1 > y2: the corners are not reordered", _boxes_where(lambda x1, y1, x2, y2: y1 > y2)
    ),
    Clause(
        "6.1.coincident_corners",
        "6.1",
        "a degenerate box with coincident corners is accepted",
        _boxes_where(lambda x1, y1, x2, y2: (x1 == x2) & (y1 == y2)),
    ),
    Clause(
        "6.1.zero_width",
        "6.1",
        "a degenerate box of zero width or height is accepted",
        _boxes_where(lambda x1, y1, x2, y2: (x1 == x2) != (y1 == y2)),
    ),
    Clause("6.1.outside", "6.1", "a box outside the image is accepted", _box_outside),
    Clause(
        "6.2.corner_embeddings",
        "6.2",
        "corner tokens: PE(corner 0) + `point_embeddings.2`, PE(corner 1) + `point_embeddings.3`",
        _boxes_given,
    ),
    Clause("6.2.two_tokens", "6.2", "two tokens per box (not `hf_sam2`)", _boxes_given, semantics=TWO_BOX_TOKENS),
    Clause(
        "6.2.interleaved",
        "6.2",
        "several boxes per image: the corner tokens are interleaved per box, tl₀, br₀, tl₁, br₁, …",
        _several_boxes,
        contradicted_by=("one_box_per_prompt",),
    ),
    Clause(
        "6.3.trailing_not_a_point",
        "6.3",
        "each box's two corner tokens are followed by `not_a_point_embed` (`hf_sam2`)",
        _boxes_given,
        semantics=TRAILING_BOX_TOKEN,
    ),
    Clause("7.order", "7", "point tokens (padding included) first, then box tokens", _all(_points, _boxes_given)),
    Clause(
        "7.empty",
        "7",
        "neither points nor boxes: the sparse output is an empty (B, 0, C)",
        _all(_not(_points), _not(_boxes_given)),
        semantics=EMPTY_SPARSE,
    ),
    Clause(
        "7.empty_padded",
        "7",
        "neither points nor boxes: zero points, padded by §5.1, give the padding token alone (`ort_sam2`)",
        _all(_not(_points), _not(_boxes_given)),
        semantics=PADDED_EMPTY_PROMPT,
    ),
    Clause(
        "7.empty_batch",
        "7",
        "the sparse output of a prompt without points or boxes has the batch of §11.1 (the masks')",
        lambda v: not _points(v) and not _boxes_given(v) and _masks(v) and _batch(v) > 1,
    ),
    Clause("8.1.cell_centres", "8.1", "u[i, j] = ((j + 0.5) / w, (i + 0.5) / h): no pixel shift, no (H, W)", _always),
    Clause(
        "8.1.non_square_grid",
        "8.1",
        "a grid with h ≠ w: x runs along w, y along h",
        _non_square_grid,
        contradicted_by=("square_embedding_grid",),
    ),
    Clause("8.2.batch_1", "8.2", "the positional output has batch 1 whatever B", lambda v: _batch(v) > 1),
    Clause("9.1.conv2x2", "9.1", "2×2 stride-2 convolutions, cross-correlation, PyTorch's weight layout", _masks),
    Clause("9.2.layer_norm", "9.2", "LayerNorm2d over channels: biased variance, eps inside the square root", _masks),
    Clause(
        "9.2.single_channel",
        "9.2",
        "a single channel (Cm = 4): the first LayerNorm's output is exactly β",
        lambda v: _masks(v) and v.config["mask_in_channels"] == 4,
    ),
    Clause("9.2.variance_near_eps", "9.2", "a channel variance comparable to eps", _mask_variance_near_eps),
    Clause("9.3.exact_gelu", "9.3", "exact GELU, x/2 · (1 + erf(x/√2)), not its tanh form", _masks),
    Clause("9.4.conv1x1", "9.4", "the 1×1 convolution to C channels", _masks),
    Clause("9.5.composition", "9.5", "conv, LayerNorm, GELU, conv, LayerNorm, GELU, conv; (B′, C, h, w)", _masks),
    Clause(
        "9.5.logits",
        "9.5",
        "mask values are arbitrary finite reals (logits of both signs)",
        lambda v: _masks(v) and np.min(v.inputs["masks"]) < 0 < np.max(v.inputs["masks"]),
    ),
    Clause(
        "9.5.integer_masks",
        "9.5",
        "integer masks are accepted and cast: their values kept (not thresholded to 0/1, rescaled or dropped)",
        _integer("masks"),
    ),
    Clause("10.no_mask", "10", "no mask: `no_mask_embed` at every cell", _not(_masks)),
    Clause(
        "10.no_mask_batch",
        "10",
        "no mask: the dense output still has batch B",
        lambda v: not _masks(v) and _batch(v) > 1,
    ),
    Clause("11.1.batch_of_points", "11.1", "B is the points' batch", lambda v: _points(v) and _batch(v) > 1),
    Clause(
        "11.1.batch_of_boxes",
        "11.1",
        "without points, B is the boxes' batch",
        lambda v: not _points(v) and _boxes_given(v) and _batch(v) > 1,
    ),
    Clause(
        "11.1.batch_of_masks",
        "11.1",
        "without points or boxes, B is the masks' batch",
        lambda v: not _points(v) and not _boxes_given(v) and _masks(v) and _batch(v) > 1,
    ),
    Clause(
        "11.1.empty_prompt",
        "11.1",
        "no prompt at all: B = 1 (`sam`)",
        _not(_prompt_given),
        contradicted_by=("empty_prompt_crash",),
    ),
    Clause("11.1.batch_of_one", "11.1", "a batch of one", lambda v: _prompt_given(v) and _batch(v) == 1),
    Clause("11.3.integer_points", "11.3", "integer point coordinates are accepted and cast", _integer("points")),
    Clause("11.3.integer_boxes", "11.3", "integer box coordinates are accepted and cast", _integer("boxes")),
)


# -- the clauses of §12.2, from the built-in profiles ---------------------------------------------

# where a layout-only divergence (no ``affects``: it never changes a value) is exercised by a case
LAYOUT_EXERCISED = {
    "channels_last": _always,
    "corner_boxes": _boxes_given,
    "masks_per_image_axis": _masks,
    "point_batch_axis": _points,
    "hf_boxes_on_point_batch": _boxes_given,
    "onnx_mask_blend": _always,
}


def _observable(name: str):
    divergence = DIVERGENCES[name]
    if divergence.affects is None:
        return LAYOUT_EXERCISED[name]
    return lambda view: bool(divergence.outputs(view.inputs, view.config))


def divergence_clauses(profiles=None) -> tuple:
    """One clause per §12.2 divergence that a built-in profile converts, computes or exposes."""
    names = []
    for profile in (profiles or PROFILES).values():
        for name in profile.converted + profile.computed + profile.exposed:
            if name not in names:
                names.append(name)
    return tuple(
        Clause(f"12.2.{name}", "12.2", f"`{name}`: {DIVERGENCES[name].summary}", _observable(name), divergence=name)
        for name in names
    )


CLAUSES = SPEC_CLAUSES + divergence_clauses()
