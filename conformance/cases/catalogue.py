"""The fixture catalogue: every case's configuration, parameter set and prompt, as code.

Inputs follow the `sam` profile (points (B, N, 2) pixel xy, labels (B, N), boxes (B, 4) xyxy or
(B, M, 4) for M boxes per image, masks (B, 1, 4h, 4w)); profiles convert them for other ports. Everything is seeded, so
`samspec fixtures generate` is deterministic.

Every case on a non-square configuration has a square twin (id suffix `.square`), so that ports
that take one image size S (transformers, Meta's ONNX path) run every case class too. A case's
``semantics`` names the reference conventions its stored expected values follow: `sam`, except
for the label −10 cases (`hf_sam2`: SAM v1 gives −10 no meaning). A checker recomputes the
expected values under each profile's own semantics (docs/profiles.md).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field, replace

import numpy as np

from samspec.reference import init_params

CONFIGS = {
    # the seed API's defaults
    "seed": dict(hidden_size=256, image_embedding_size=(64, 64), input_image_size=(1024, 1024), mask_in_channels=16),
    # portrait: H > W, h > w; a port that swaps x/y or assumes a square image fails here
    "portrait": dict(hidden_size=32, image_embedding_size=(8, 6), input_image_size=(128, 96), mask_in_channels=16),
    # landscape: the transpose of portrait
    "landscape": dict(hidden_size=32, image_embedding_size=(6, 8), input_image_size=(96, 128), mask_in_channels=16),
    "square": dict(hidden_size=32, image_embedding_size=(16, 16), input_image_size=(256, 256), mask_in_channels=16),
    "tiny": dict(hidden_size=8, image_embedding_size=(4, 6), input_image_size=(64, 96), mask_in_channels=4),
    "tiny_square": dict(hidden_size=8, image_embedding_size=(4, 4), input_image_size=(64, 64), mask_in_channels=4),
    "cm4": dict(hidden_size=32, image_embedding_size=(8, 8), input_image_size=(128, 128), mask_in_channels=4),
    # image and grid unrelated (spec §2.1): H/h = 14, W/w = 130/3, a portrait grid on a landscape image, Cm = 8;
    # a port that derives one size from the other (h = H/16) fails here
    "unrelated": dict(hidden_size=16, image_embedding_size=(5, 3), input_image_size=(70, 130), mask_in_channels=8),
    "unrelated_square": dict(
        hidden_size=16, image_embedding_size=(4, 4), input_image_size=(80, 80), mask_in_channels=8
    ),
}


def make_params(config_name: str, variant: str = "random") -> dict:
    """The parameter set of a config. ``variant``:
    - "random": init_params with a seed derived from the config name;
    - "equal_conv1_bias": the same, but the first convolution's biases are all equal, so that a
      nearly-zero mask gives conv1 outputs whose channel variance is close to LayerNorm's eps
      (spec §9.2's near-zero-variance regime, where eps and the variance formula matter).
    """
    config = CONFIGS[config_name]
    seed = zlib.crc32(config_name.encode()) % 10_000
    params = init_params(config["hidden_size"], config["mask_in_channels"], seed=seed)
    if variant == "equal_conv1_bias":
        bias = params["mask_downscaling.0.bias"]
        params["mask_downscaling.0.bias"] = np.full_like(bias, 0.25)
    elif variant != "random":
        raise ValueError(f"variant: expected 'random' or 'equal_conv1_bias'; received {variant!r}")
    return params


@dataclass(frozen=True)
class Case:
    id: str
    description: str
    sections: tuple
    config: str
    make_inputs: object  # (rng, config dict) -> dict of arrays in the sam profile
    params_variant: str = "random"
    tolerance: dict = field(default_factory=dict)  # output key -> {"k": ..., "reason": ...}
    semantics: str = "sam"  # the reference conventions of the stored expected values (samspec.reference.PROFILES)


# -- prompt builders ------------------------------------------------------------------------------


def random_points(rng, config, batch, n, margin=0.0):
    height, width = config["input_image_size"]
    xs = rng.uniform(-margin * width, (1 + margin) * width - 1, (batch, n))
    ys = rng.uniform(-margin * height, (1 + margin) * height - 1, (batch, n))
    return np.stack([xs, ys], axis=-1)


def random_boxes(rng, config, batch):
    height, width = config["input_image_size"]
    x = np.sort(rng.uniform(0, width - 1, (batch, 2)), axis=1)
    y = np.sort(rng.uniform(0, height - 1, (batch, 2)), axis=1)
    return np.stack([x[:, 0], y[:, 0], x[:, 1], y[:, 1]], axis=1)


def random_masks(rng, config, batch, scale=6.0):
    h, w = config["image_embedding_size"]
    return rng.normal(0.0, scale, (batch, 1, 4 * h, 4 * w))


def points_with_labels(labels):
    labels = np.asarray(labels, dtype=np.int64)

    def make(rng, config):
        return {"points": random_points(rng, config, *labels.shape), "labels": labels}

    return make


def prompt(points=None, labels=None, boxes=False, masks=None, batch=1):
    """A builder for random points (count ``points``), mixed labels, boxes and masks."""

    def make(rng, config):
        out = {}
        if points is not None:
            out["points"] = random_points(rng, config, batch, points)
            # -1, 0 and 1 only: labels 2 and 3 have cases of their own (ports disagree on them)
            out["labels"] = labels if labels is not None else rng.integers(-1, 2, (batch, points))
        if boxes:
            out["boxes"] = random_boxes(rng, config, batch)
        if masks == "random":
            out["masks"] = random_masks(rng, config, batch)
        elif masks == "constant":
            h, w = config["image_embedding_size"]
            out["masks"] = np.full((batch, 1, 4 * h, 4 * w), 3.0)
        elif masks == "binary":
            out["masks"] = np.where(random_masks(rng, config, batch) > 0, 20.0, -20.0)
        elif masks == "near_zero":
            out["masks"] = random_masks(rng, config, batch, scale=1e-3)
        return out

    return make


def fixed(**arrays):
    def make(rng, config):
        return {k: np.asarray(v) for k, v in arrays.items()}

    return make


def border_points(rng, config):
    height, width = config["input_image_size"]
    corners = [[0, 0], [width - 1, 0], [0, height - 1], [width - 1, height - 1], [(width - 1) / 2, (height - 1) / 2]]
    return {"points": np.array([corners], dtype=np.float64), "labels": np.array([[1, 0, 1, 0, 1]])}


def outside_points(rng, config):
    height, width = config["input_image_size"]
    points = [
        [-1, -1],
        [-width / 4, height / 2],
        [width, height],
        [1.5 * width, -0.5 * height],
        [width / 2, 2 * height],
    ]
    return {"points": np.array([points], dtype=np.float64), "labels": np.array([[1, 1, 0, 0, 1]])}


def border_box(rng, config):
    height, width = config["input_image_size"]
    return {"boxes": np.array([[0.0, 0.0, width - 1.0, height - 1.0]])}


def unit_edge_points(rng, config):
    """Points whose shifted coordinates are exactly 0 or the image size: u on the unit square's edges."""
    height, width = config["input_image_size"]
    points = [[-0.5, -0.5], [width - 0.5, height - 0.5], [-0.5, height - 0.5], [width - 0.5, -0.5]]
    return {"points": np.array([points], dtype=np.float64), "labels": np.array([[1, 0, 1, 0]])}


def reversed_boxes(rng, config):
    """Random boxes given with x1 > x2, then y1 > y2, then both: corners are never reordered (§6.1)."""
    x1, y1, x2, y2 = random_boxes(rng, config, 3).T
    return {
        "boxes": np.stack([[x2[0], y1[0], x1[0], y2[0]], [x1[1], y2[1], x2[1], y1[1]], [x2[2], y2[2], x1[2], y1[2]]])
    }


def degenerate_boxes(rng, config):
    """A box whose corners coincide, and a box of zero width: accepted and encoded as given (§6.1)."""
    x, y, _, y2 = random_boxes(rng, config, 1)[0]
    return {"boxes": np.array([[x, y, x, y], [x, y, x, y2]])}


def outside_boxes(rng, config):
    """A box partly outside the image and one wholly beyond it: nothing is clipped (§3.2, §6.1)."""
    height, width = config["input_image_size"]
    return {
        "boxes": np.array(
            [[-width / 4, height / 3, width / 2, 1.25 * height], [width, height, 1.5 * width, 1.5 * height]]
        )
    }


def several_boxes(per_image, points=None, batch=2):
    """``per_image`` random boxes for each image, stored (B, M, 4) x1 y1 x2 y2 (§6.1), each image's boxes
    its own, and ``points`` random points with mixed labels: §6.2 interleaves the corner tokens per box."""

    def make(rng, config):
        boxes = random_boxes(rng, config, batch * per_image).reshape(batch, per_image, 4)
        out = {"boxes": boxes}
        if points is not None:
            out["points"] = random_points(rng, config, batch, points)
            out["labels"] = rng.integers(-1, 2, (batch, points))
        return out

    return make


def integer_boxes(rng, config):
    """Integer pixel boxes (int64), cast before any arithmetic (§11.3)."""
    return {"boxes": np.rint(random_boxes(rng, config, 2)).astype(np.int64)}


def integer_masks(style, batch):
    """Masks stored as integers (spec §9.5: integer masks are accepted and cast), from random logits:
    - "int32_binary": int32 0/1 (a mask image);
    - "uint8_255": uint8 0/255 (an 8-bit mask image, not rescaled to 0/1);
    - "int64_logits": int64 logits of both signs, the rounded random logits (|value| up to about 20).
    """

    def make(rng, config):
        logits = random_masks(rng, config, batch)
        if style == "int32_binary":
            return {"masks": (logits > 0).astype(np.int32)}
        if style == "uint8_255":
            return {"masks": np.where(logits > 0, 255, 0).astype(np.uint8)}
        if style == "int64_logits":
            return {"masks": np.rint(logits).astype(np.int64)}
        raise ValueError(f"style: expected 'int32_binary', 'uint8_255' or 'int64_logits'; received {style!r}")

    return make


# -- the catalogue ----------------------------------------------------------------------------------

LABEL_CASES = [
    Case(
        f"labels.{name}",
        f"three points, every label {value} ({meaning}); sam appends a padding point",
        ("3", "4", "5.1", "5.2", "7"),
        "portrait",
        points_with_labels([[value] * 3]),
    )
    for name, value, meaning in [
        ("foreground", 1, "PE + foreground embedding"),
        ("background", 0, "PE + background embedding"),
        ("not_a_point", -1, "not_a_point_embed alone"),
        ("corner_2", 2, "PE only in SAM v1's PromptEncoder"),
        ("corner_3", 3, "PE only in SAM v1's PromptEncoder"),
    ]
]

BASE_CASES = LABEL_CASES + [
    Case(
        "labels.all_values",
        "batch 2 of 5 points, every label -1, 0, 1, 2, 3 in each",
        ("5.2",),
        "landscape",
        points_with_labels([[-1, 0, 1, 2, 3], [3, 2, 1, 0, -1]]),
    ),
    Case(
        "points.mixed_batch",
        "batch 4 of 5 points with mixed labels",
        ("3", "4", "5", "7", "11.1"),
        "portrait",
        prompt(points=5, batch=4),
    ),
    Case(
        "points.many",
        "batch 2 of 64 points with mixed labels",
        ("3", "4", "5", "7"),
        "square",
        prompt(points=64, batch=2),
    ),
    Case(
        "points.landscape",
        "batch 2 of 6 points, landscape image",
        ("3.2", "4", "5", "7"),
        "landscape",
        prompt(points=6, batch=2),
    ),
    Case(
        "points.border",
        "points on the image corners and centre: (0,0), (W-1,0), (0,H-1), (W-1,H-1)",
        ("3.1", "3.2", "5"),
        "portrait",
        border_points,
    ),
    Case(
        "points.outside", "points outside the image: negative and beyond W/H", ("3.2", "4"), "portrait", outside_points
    ),
    Case(
        "points.integer_coords",
        "integer pixel coordinates (int64)",
        ("3.1", "11.3"),
        "portrait",
        fixed(points=np.array([[[0, 0], [95, 127], [40, 77]]], dtype=np.int64), labels=np.array([[1, 0, 1]])),
    ),
    Case(
        "points.zero_points",
        "points of shape (2, 0, 2): only the padding point remains",
        ("5.1", "7"),
        "tiny",
        fixed(points=np.zeros((2, 0, 2)), labels=np.zeros((2, 0), dtype=np.int64)),
    ),
    Case(
        "boxes.only",
        "batch 3 boxes, no points: no padding point",
        ("3", "6", "7"),
        "portrait",
        prompt(boxes=True, batch=3),
    ),
    Case("boxes.border", "a box covering the whole image, (0, 0, W-1, H-1)", ("3", "6"), "landscape", border_box),
    Case(
        "boxes.with_points",
        "batch 2: 4 points and a box each; no padding point",
        ("5.1", "6", "7"),
        "portrait",
        prompt(points=4, boxes=True, batch=2),
    ),
    Case("masks.random", "batch 2 of random mask logits", ("9", "11"), "portrait", prompt(masks="random", batch=2)),
    Case(
        "masks.binary",
        "saturated logits of +-20, as SAM's own low-res masks",
        ("9",),
        "square",
        prompt(masks="binary", batch=1),
    ),
    Case(
        "masks.constant",
        "a spatially constant mask: every output cell is the same vector",
        ("9",),
        "landscape",
        prompt(masks="constant", batch=1),
    ),
    Case(
        "masks.cm4",
        "mask_in_channels 4 (LayerNorm over a single channel in the first stage)",
        ("9",),
        "cm4",
        prompt(masks="random", batch=2),
    ),
    Case(
        "masks.near_zero_variance",
        "a nearly-zero mask with equal conv1 biases: LayerNorm's variance is close to eps",
        ("9.2",),
        "portrait",
        prompt(masks="near_zero", batch=1),
        params_variant="equal_conv1_bias",
    ),
    Case(
        "masks.integer_binary",
        "batch 2 of int32 0/1 masks: cast to the compute dtype, values kept",
        ("9", "9.5"),
        "portrait",
        integer_masks("int32_binary", batch=2),
    ),
    Case(
        "masks.integer_uint8",
        "a uint8 0/255 mask: cast, not rescaled to 0/1",
        ("9", "9.5"),
        "landscape",
        integer_masks("uint8_255", batch=1),
    ),
    Case(
        "masks.integer_logits",
        "batch 2 of int64 mask logits of both signs: cast, neither clipped nor thresholded",
        ("9", "9.5"),
        "portrait",
        integer_masks("int64_logits", batch=2),
    ),
    Case(
        "all.points_boxes_masks",
        "batch 2: points, a box and a mask",
        ("5", "6", "7", "9", "11"),
        "portrait",
        prompt(points=3, boxes=True, masks="random", batch=2),
    ),
    Case(
        "all.tiny",
        "hidden_size 8, mask_in_channels 4: points, box and mask",
        ("5", "6", "9"),
        "tiny",
        prompt(points=2, boxes=True, masks="random", batch=2),
    ),
    Case(
        "points.masks",
        "points and a mask, no box: padding point and mask path",
        ("5.1", "9"),
        "landscape",
        prompt(points=3, masks="random", batch=1),
    ),
    Case(
        "empty.portrait", "no prompt at all: sparse (1, 0, C), no-mask dense", ("7", "10", "11.1"), "portrait", prompt()
    ),
    Case("empty.tiny", "no prompt at all, hidden_size 8", ("7", "10", "11.1"), "tiny", prompt()),
    Case(
        "seed.points",
        "seed config: batch 2 of 3 points, mixed labels",
        ("3", "4", "5", "8", "10"),
        "seed",
        prompt(points=3, batch=2),
    ),
    Case(
        "points.unit_edges",
        "points at (-0.5, -0.5) and (W-0.5, H-0.5): shifted coordinates on the unit square's edges, u = 0 and 1",
        ("3.1", "3.2"),
        "portrait",
        unit_edge_points,
    ),
    Case(
        "boxes.reversed",
        "batch 3 boxes given with x1 > x2, with y1 > y2, and both: the corners are not reordered",
        ("6.1", "6.2"),
        "portrait",
        reversed_boxes,
    ),
    Case(
        "boxes.degenerate",
        "batch 2 boxes: coincident corners (x1 = x2, y1 = y2) and zero width (x1 = x2)",
        ("6.1", "6.2"),
        "portrait",
        degenerate_boxes,
    ),
    Case(
        "boxes.outside",
        "batch 2 boxes: one partly outside the image, one wholly beyond (W, H)",
        ("3.2", "6.1"),
        "portrait",
        outside_boxes,
    ),
    Case(
        "boxes.integer_coords",
        "batch 2 integer pixel boxes (int64)",
        ("6.1", "11.3"),
        "portrait",
        integer_boxes,
    ),
    Case(
        "all.batch_one",
        "a batch of one: 2 points, a box and a mask",
        ("5", "6", "7", "9", "11.1"),
        "portrait",
        prompt(points=2, boxes=True, masks="random", batch=1),
    ),
    Case(
        "config.unrelated_sizes",
        "image (70, 130) and grid (5, 3) unrelated (H != 16h, a portrait grid on a landscape image), Cm 8: "
        "points, a box and a mask",
        ("2.1", "3.2", "8", "9"),
        "unrelated",
        prompt(points=3, boxes=True, masks="random", batch=2),
    ),
    Case("seed.boxes", "seed config: one box", ("6", "8", "10"), "seed", prompt(boxes=True, batch=1)),
    Case(
        "seed.points_boxes",
        "seed config: 2 points and a box",
        ("5", "6", "7", "8"),
        "seed",
        prompt(points=2, boxes=True, batch=1),
    ),
    Case(
        "boxes.two_per_image",
        "batch 2, two boxes per image, boxes (B, M, 4): corner tokens tl0, br0, tl1, br1 per image",
        ("6.1", "6.2", "7"),
        "portrait",
        several_boxes(2),
    ),
    Case(
        "boxes.two_per_image_with_points",
        "batch 2, 3 points and two boxes per image: point tokens, then tl0, br0, tl1, br1; no padding point",
        ("5.1", "6.2", "7"),
        "portrait",
        several_boxes(2, points=3),
    ),
    Case(
        "boxes.three_per_image",
        "batch 2, three boxes per image: corner tokens tl0, br0, tl1, br1, tl2, br2 per image",
        ("6.1", "6.2", "7"),
        "landscape",
        several_boxes(3),
    ),
    Case(
        "boxes.three_per_image_with_points",
        "batch 2, 2 points and three boxes per image: point tokens, then tl0, br0, tl1, br1, tl2, br2",
        ("5.1", "6.2", "7"),
        "landscape",
        several_boxes(3, points=2),
    ),
]

# label -10: transformers' padding label (an all-zero token); SAM v1 gives it no meaning, so these
# cases are stored under `hf_sam2` semantics and are n/a under every profile that refuses -10
MINUS_10_CASES = [
    Case(
        "labels.minus_10",
        "batch 2 of 4 points with label -10 among -1, 0, 1 (transformers' ragged-list padding)",
        ("3", "4", "5.1", "5.2", "7"),
        "square",
        points_with_labels([[1, -10, 0, -10], [-10, -10, 1, -1]]),
        semantics="hf_sam2",
    ),
    Case(
        "labels.minus_10_box",
        "points with label -10 and a box: no padding point, -10 tokens before the box's",
        ("5.2", "6", "7"),
        "square",
        prompt(points=3, labels=np.array([[1, -10, -10], [0, 1, -10]]), boxes=True, batch=2),
        semantics="hf_sam2",
    ),
]

# cases whose point is a non-square image or grid (points.landscape: the landscape image itself)
NOT_TWINNED = frozenset({"points.landscape"})
SQUARE_TWIN = {"portrait": "square", "landscape": "square", "tiny": "tiny_square", "unrelated": "unrelated_square"}


def square_twin(case: Case) -> Case:
    """The same prompt on a square configuration (its own seed): square-only ports run it."""
    return replace(
        case, id=f"{case.id}.square", config=SQUARE_TWIN[case.config], description=f"{case.description} (square twin)"
    )


CASES = (
    BASE_CASES
    + MINUS_10_CASES
    + [square_twin(c) for c in BASE_CASES if c.config in SQUARE_TWIN and c.id not in NOT_TWINNED]
)


def case_inputs(case: Case) -> dict:
    """The case's inputs, drawn from a generator seeded by the case id."""
    rng = np.random.default_rng(zlib.crc32(case.id.encode()))
    return case.make_inputs(rng, CONFIGS[case.config])
