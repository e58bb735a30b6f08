"""Hypothesis strategies for SAM prompt-encoder tests: configurations, parameters and prompts.

Port authors can use them in their own hypothesis tests; samspec's property checks
(``samspec check PORT --properties``, docs/properties.md) are built on them. Prompts follow the
`sam` profile (docs/spec.md §11.2): points (B, N, 2) pixel xy float64, labels (B, N) int64,
boxes (B, 4) xyxy float64, masks (B, 1, 4h, 4w) float64.

Example (a test in your own repository)::

    from hypothesis import given, settings, strategies as st
    import numpy as np
    from samspec.conformance import strategies as sst
    from samspec.reference import SAMPromptEncoder

    @settings(max_examples=50, deadline=None)
    @given(st.data())
    def test_my_port_matches_the_reference(data):
        config = data.draw(sst.configs(), label="config")
        params = data.draw(sst.params(config), label="params")
        prompt = data.draw(sst.prompts(config), label="prompt")
        expected = SAMPromptEncoder(**config, params=params, dtype="float32")(**prompt)
        got = my_port(config, params)(**prompt)            # your port, in the sam layout
        for key, value in expected.items():
            np.testing.assert_allclose(got[key], value, atol=1e-4)

Masks are drawn as a recipe (a seed and a scale) and made by ``make_masks``, so that a failing
example stays short enough to print; ``prompt_specs`` returns that recipe instead of the array.
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from samspec.reference import init_params

LABELS = (-1, 0, 1)  # the labels every port agrees on; 2 and 3 differ between ports (spec §5.2)
MASK_SCALES = (1e-3, 1.0, 6.0, 20.0)  # near-zero variance, ordinary logits, SAM's saturated ±20


@st.composite
def configs(draw, max_hidden_size: int = 32, max_embedding: int = 6, mask_in_channels=(4, 8, 16), square: bool = False):
    """Encoder configurations (keyword arguments of ``SAMPromptEncoder``), small enough to be fast.

    ``input_image_size`` is 16 x the embedding size (as in SAM) half of the time, otherwise any size
    from 8 to 512 per axis; ``square=True`` draws only square images and grids."""
    hidden = 2 * draw(st.integers(1, max_hidden_size // 2), label="hidden_size / 2")
    cm = draw(st.sampled_from(tuple(mask_in_channels)), label="mask_in_channels")
    h = draw(st.integers(1, max_embedding), label="embedding height")
    w = h if square else draw(st.integers(1, max_embedding), label="embedding width")
    if draw(st.booleans(), label="image = 16 x embedding"):
        size = (16 * h, 16 * w)
    else:
        height = draw(st.integers(8, 512), label="image height")
        size = (height, height if square else draw(st.integers(8, 512), label="image width"))
    return {
        "hidden_size": hidden,
        "image_embedding_size": (h, w),
        "input_image_size": size,
        "mask_in_channels": cm,
        "activation": "gelu",
    }


def param_seeds():
    """Seeds for ``init_params``: a parameter set is reproduced from its seed alone."""
    return st.integers(0, 2**32 - 1)


def make_params(config: dict, seed: int) -> dict:
    """The float64 parameters (SAM v1 ``state_dict()`` names) of ``config`` for one seed."""
    return init_params(config["hidden_size"], config["mask_in_channels"], seed=seed)


def params(config: dict):
    """Parameter dicts for ``config`` (float64, SAM v1 names), from ``init_params`` with a drawn seed."""
    return param_seeds().map(lambda seed: make_params(config, seed))


def coordinates(config: dict, shape: tuple, margin: float = 0.25):
    """Pixel coordinates (…, 2) as (x, y) float64, within ``margin`` of the image on every side."""
    height, width = config["input_image_size"]
    xs = st.floats(-margin * width, (1 + margin) * width, allow_nan=False, allow_infinity=False)
    ys = st.floats(-margin * height, (1 + margin) * height, allow_nan=False, allow_infinity=False)
    pairs = st.tuples(xs, ys)
    count = int(np.prod(shape[:-1])) if len(shape) > 1 else 1
    return st.lists(pairs, min_size=count, max_size=count).map(
        lambda values: np.asarray(values, dtype=np.float64).reshape(shape)
    )


def points(config: dict, batch: int, count: int, margin: float = 0.25):
    """Points (batch, count, 2) in pixels."""
    return coordinates(config, (batch, count, 2), margin)


def labels(batch: int, count: int, values=LABELS):
    """Labels (batch, count) int64 drawn from ``values``."""
    return hnp.arrays(np.int64, (batch, count), elements=st.sampled_from(tuple(values)))


def boxes(config: dict, batch: int, ordered: bool = True, margin: float = 0.25):
    """Boxes (batch, 4) as (x1, y1, x2, y2); ``ordered`` sorts each so that x1 <= x2 and y1 <= y2."""

    def arrange(corners):
        corners = corners.reshape(batch, 2, 2)
        if ordered:
            corners = np.sort(corners, axis=1)
        return corners.reshape(batch, 4)

    return coordinates(config, (batch, 2, 2), margin).map(arrange)


def make_masks(config: dict, batch: int, seed: int, scale: float) -> np.ndarray:
    """Mask logits (batch, 1, 4h, 4w) ~ N(0, scale²) from a seed (the recipe ``mask_specs`` draws)."""
    h, w = config["image_embedding_size"]
    return np.random.default_rng(seed).normal(0.0, scale, (batch, 1, 4 * h, 4 * w))


def mask_specs(batch: int):
    """Mask recipes ("normal", batch, seed, scale) for ``make_masks``."""
    return st.tuples(st.just("normal"), st.just(batch), st.integers(0, 2**32 - 1), st.sampled_from(MASK_SCALES))


def masks(config: dict, batch: int):
    """Masks (batch, 1, 4h, 4w) float64."""
    return mask_specs(batch).map(lambda spec: make_masks(config, spec[1], spec[2], spec[3]))


def materialise(config: dict, spec: dict) -> dict:
    """A prompt from a prompt spec: a mask recipe becomes the mask array; arrays are copied."""
    out = {}
    for key, value in spec.items():
        if value is None:
            continue
        if key == "masks" and isinstance(value, tuple):
            value = make_masks(config, value[1], value[2], value[3])
        out[key] = np.array(value)
    return out


@st.composite
def prompt_specs(
    draw,
    config: dict,
    batch=None,
    max_batch: int = 3,
    max_points: int = 5,
    points=None,
    boxes=None,
    masks=None,
    label_values=LABELS,
    min_prompts: int = 0,
):
    """Prompt specs: like ``prompts`` but a mask is its recipe (see ``make_masks``).

    ``points``, ``boxes``, ``masks``: True (always), False (never) or None (drawn);
    ``min_prompts``: at least this many of the three kinds are given."""
    batch = batch if batch is not None else draw(st.integers(1, max_batch), label="batch")
    while True:
        given = {
            kind: flag if flag is not None else draw(st.booleans(), label=f"with {kind}")
            for kind, flag in (("points", points), ("boxes", boxes), ("masks", masks))
        }
        if sum(given.values()) >= min_prompts:
            break
        forced = [k for k, flag in (("points", points), ("boxes", boxes), ("masks", masks)) if flag is None]
        if not forced:
            raise ValueError("prompt_specs: min_prompts cannot be met with the kinds forced off")
        given[draw(st.sampled_from(forced), label="forced kind")] = True
        if sum(given.values()) >= min_prompts:
            break
    spec = {}
    if given["points"]:
        count = draw(st.integers(0, max_points), label="number of points")
        spec["points"] = draw(_points_strategy(config, batch, count), label="points")
        spec["labels"] = draw(labels(batch, count, label_values), label="labels")
    if given["boxes"]:
        spec["boxes"] = draw(_boxes_strategy(config, batch), label="boxes")
    if given["masks"]:
        spec["masks"] = draw(mask_specs(batch), label="masks (recipe)")
    return spec


_points_strategy, _boxes_strategy = points, boxes


def prompts(config: dict, **kwargs):
    """Prompts in the `sam` layout: a dict with any of points + labels, boxes, masks (arrays).
    Keyword arguments as ``prompt_specs``."""
    return prompt_specs(config, **kwargs).map(lambda spec: materialise(config, spec))


@st.composite
def examples(draw, **config_kwargs):
    """(config, params, prompt): everything one call of an encoder needs."""
    config = draw(configs(**config_kwargs), label="config")
    parameters = draw(params(config), label="params")
    prompt = draw(prompts(config), label="prompt")
    return config, parameters, prompt
