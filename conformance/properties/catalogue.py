"""The properties: for each, what hypothesis draws and what must hold of the port's outputs on it
(``PROPERTIES``, name -> ``Property``). A check raises ``PropertyFailure`` saying how the property
failed; the budget of every comparison comes from the port runner (docs/tolerances.md)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from samspec.reference import DENSE, DENSE_PE, OUTPUT_KEYS, SPARSE

from ..harness.tolerance import FLOORS
from ..profiles.profile import NotApplicable
from . import strategies as sst


class PropertyFailure(AssertionError):
    """A property does not hold for this example; the message says how."""


def _dtype(outputs):
    return np.asarray(outputs[SPARSE]).dtype.name


def _close(name, got, want, budget):
    """Raise PropertyFailure unless got and want have one shape and differ by at most budget."""
    got, want = np.asarray(got), np.asarray(want)
    if got.shape != want.shape:
        raise PropertyFailure(f"{name}: shape {got.shape}, expected {want.shape}")
    if got.size == 0:
        return
    difference = np.abs(got.astype(np.float64) - want.astype(np.float64))
    worst = float(np.max(difference)) if np.all(np.isfinite(difference)) else math.inf
    if not worst <= budget:
        index = tuple(
            int(i)
            for i in np.unravel_index(
                int(np.nanargmax(np.where(np.isfinite(difference), difference, np.inf))), difference.shape
            )
        )
        raise PropertyFailure(
            f"{name}: differs by {worst:.3g} (allowed {budget:.3g}) at {index}: {float(got[index]):.7g} vs "
            f"{float(want[index]):.7g}"
        )


# -- the properties ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Property:
    name: str
    description: str
    sections: tuple
    draw: object  # (data) -> kwargs
    check: object  # (runner, **kwargs) -> None, raising PropertyFailure
    outputs: tuple = field(default=OUTPUT_KEYS)


def _base(data, square=False):
    config = data.draw(sst.configs(square=square), label="config")
    seed = data.draw(sst.param_seeds(), label="params_seed")
    return config, seed


def _prompt(config, spec):
    return sst.materialise(config, spec)


def draw_permute_points(data):
    from hypothesis import strategies as st

    config, seed = _base(data)
    spec = data.draw(sst.prompt_specs(config, points=True, masks=False, max_points=6), label="prompt")
    count = spec["points"].shape[1]
    permutation = data.draw(st.permutations(list(range(count))), label="permutation")
    return dict(config=config, params_seed=seed, prompt=spec, permutation=list(permutation))


def check_permute_points(runner, config, params_seed, prompt, permutation):
    """Permuting the points (with their labels) permutes the first N sparse rows; nothing else moves."""
    base = _prompt(config, prompt)
    order = np.asarray(permutation, dtype=np.int64)
    moved = dict(base, points=base["points"][:, order], labels=base["labels"][:, order])
    first = runner.run(config, params_seed, base)
    second = runner.run(config, params_seed, moved)
    dtype, count = _dtype(first), len(order)
    for key in OUTPUT_KEYS:
        budget = runner.budget(config, params_seed, base, key, dtype)
        want = first[key]
        if key == SPARSE and want.ndim == 3 and want.shape[1] >= count:
            want = np.concatenate([want[:, order], want[:, count:]], axis=1)
        _close(f"{key} after permuting the points by {list(permutation)}", second[key], want, budget)


def draw_batch_independence(data):
    config, seed = _base(data)
    spec = data.draw(sst.prompt_specs(config, max_batch=3, min_prompts=1), label="prompt")
    return dict(config=config, params_seed=seed, prompt=spec)


def check_batch_independence(runner, config, params_seed, prompt):
    """Each image of a batch gives what it gives alone: no output row depends on another image."""
    base = _prompt(config, prompt)
    batch = next(v.shape[0] for v in base.values())
    whole = runner.run(config, params_seed, base)
    dtype = _dtype(whole)
    for b in range(batch):
        alone = runner.run(config, params_seed, {k: v[b : b + 1] for k, v in base.items()})
        for key in (SPARSE, DENSE):
            budget = runner.budget(config, params_seed, base, key, dtype)
            if whole[key].shape[0] != batch:
                raise PropertyFailure(f"{key}: batch {whole[key].shape[0]} for {batch} images")
            _close(f"{key} of image {b} in a batch of {batch} vs alone", whole[key][b : b + 1], alone[key], budget)


def draw_box_equals_corners(data):
    from hypothesis import strategies as st

    config, seed = _base(data)
    batch = data.draw(st.integers(1, 3), label="batch")
    boxes = data.draw(sst.boxes(config, batch, ordered=False), label="boxes")
    return dict(config=config, params_seed=seed, boxes=boxes)


def check_box_equals_corners(runner, config, params_seed, boxes):
    """A box's two tokens are its corners' point tokens with the corner embeddings instead of the
    foreground one: box_token[i] - point_embeddings.(2+i) = point_token(corner i, label 1) - point_embeddings.1."""
    boxes = np.asarray(boxes)
    batch = boxes.shape[0]
    params = sst.make_params(config, params_seed)
    corners = boxes.reshape(batch, 2, 2)
    as_box = runner.run(config, params_seed, {"boxes": boxes})
    as_points = runner.run(config, params_seed, {"points": corners, "labels": np.ones((batch, 2), dtype=np.int64)})
    dtype = _dtype(as_box)
    budget = runner.budget(config, params_seed, {"boxes": boxes}, SPARSE, dtype) + runner.budget(
        config, params_seed, {"points": corners, "labels": np.ones((batch, 2), dtype=np.int64)}, SPARSE, dtype
    )
    if as_box[SPARSE].ndim != 3 or as_box[SPARSE].shape[1] < 2 or as_points[SPARSE].shape[1] < 2:
        raise PropertyFailure(
            f"sparse shapes {as_box[SPARSE].shape} (box) and {as_points[SPARSE].shape} (corners as points)"
        )
    for i, corner in enumerate(("top-left", "bottom-right")):
        from_box = as_box[SPARSE][:, i].astype(np.float64) - params[f"point_embeddings.{2 + i}.weight"][0]
        from_point = as_points[SPARSE][:, i].astype(np.float64) - params["point_embeddings.1.weight"][0]
        _close(
            f"box token {i} ({corner}) minus its corner embedding vs the corner as a foreground point",
            from_box,
            from_point,
            budget,
        )


def draw_grid_prompt_independent(data):
    config, seed = _base(data)
    first = data.draw(sst.prompt_specs(config, min_prompts=1), label="first prompt")
    second = data.draw(sst.prompt_specs(config), label="second prompt")
    return dict(config=config, params_seed=seed, first=first, second=second)


def check_grid_prompt_independent(runner, config, params_seed, first, second):
    """The dense positional grid depends only on the configuration and G, never on the prompt."""
    a = runner.run(config, params_seed, _prompt(config, first))
    try:
        b = runner.run(config, params_seed, _prompt(config, second))
    except NotApplicable:  # e.g. an empty second prompt under keras_hub: compare with the first again
        b = runner.run(config, params_seed, _prompt(config, first))
    _close(f"{DENSE_PE} for two different prompts", b[DENSE_PE], a[DENSE_PE], 0.0)


def draw_no_mask_broadcast(data):
    config, seed = _base(data)
    spec = data.draw(sst.prompt_specs(config, masks=False), label="prompt")
    return dict(config=config, params_seed=seed, prompt=spec)


def check_no_mask_broadcast(runner, config, params_seed, prompt):
    """Without a mask the dense output is no_mask_embed at every cell of every image (spec §10)."""
    base = _prompt(config, prompt)
    out = runner.run(config, params_seed, base)
    dense = out[DENSE]
    embed = sst.make_params(config, params_seed)["no_mask_embed.weight"][0]
    h, w = config["image_embedding_size"]
    batch = next((v.shape[0] for v in base.values()), 1)
    if dense.shape != (batch, embed.shape[0], h, w):
        raise PropertyFailure(f"{DENSE}: shape {dense.shape}, expected {(batch, embed.shape[0], h, w)}")
    name = dense.dtype.name if dense.dtype.name in FLOORS else "float32"
    budget = FLOORS[name] * max(1.0, float(np.max(np.abs(embed))))
    _close(
        f"{DENSE} without a mask vs no_mask_embed broadcast",
        dense,
        np.broadcast_to(embed[None, :, None, None], dense.shape),
        budget,
    )


def draw_scale_invariance(data):
    from hypothesis import strategies as st

    config, seed = _base(data)
    spec = data.draw(sst.prompt_specs(config, masks=False, min_prompts=1), label="prompt")
    factor = data.draw(st.sampled_from((2, 4, 8)), label="scale factor")
    return dict(config=config, params_seed=seed, prompt=spec, factor=factor)


def _scaled(prompt, factor):
    """Pixel coordinates of the same positions in an image ``factor`` times larger: the pixel centre
    p + 0.5 scales, so p' = factor (p + 0.5) - 0.5 (exact in float64 for a power of two)."""
    out = dict(prompt)
    for key in ("points", "boxes"):
        if key in out:
            out[key] = factor * (np.asarray(out[key], dtype=np.float64) + 0.5) - 0.5
    return out


def check_scale_invariance(runner, config, params_seed, prompt, factor):
    """Scaling the image size and the coordinates together leaves every output unchanged (§3)."""
    base = _prompt(config, prompt)
    larger = dict(config, input_image_size=tuple(factor * s for s in config["input_image_size"]))
    small = runner.run(config, params_seed, base)
    big = runner.run(larger, params_seed, _scaled(base, factor))
    dtype = _dtype(small)
    for key in OUTPUT_KEYS:
        budget = runner.budget(config, params_seed, base, key, dtype) + runner.budget(
            larger, params_seed, _scaled(base, factor), key, dtype
        )
        _close(f"{key} with the image and the coordinates scaled by {factor}", big[key], small[key], budget)


def draw_point_matches_grid(data):
    from hypothesis import strategies as st

    config, seed = _base(data)
    h, w = config["image_embedding_size"]
    cell = data.draw(st.tuples(st.integers(0, h - 1), st.integers(0, w - 1)), label="grid cell (i, j)")
    return dict(config=config, params_seed=seed, cell=list(cell))


def check_point_matches_grid(runner, config, params_seed, cell):
    """A foreground point at the centre of grid cell (i, j) is encoded as the dense positional grid
    at (i, j), plus the foreground embedding: both are PE((j + 0.5) / w, (i + 0.5) / h) (§3, §8)."""
    i, j = cell
    h, w = config["image_embedding_size"]
    height, width = config["input_image_size"]
    point = np.array([[[width * (j + 0.5) / w - 0.5, height * (i + 0.5) / h - 0.5]]])  # + 0.5, / (W, H) -> centre
    prompt = {"points": point, "labels": np.ones((1, 1), dtype=np.int64)}
    out = runner.run(config, params_seed, prompt)
    params = sst.make_params(config, params_seed)
    dtype = _dtype(out)
    if out[SPARSE].ndim != 3 or out[SPARSE].shape[1] < 1 or out[DENSE_PE].shape[2:] != (h, w):
        raise PropertyFailure(f"shapes {out[SPARSE].shape} (sparse) and {out[DENSE_PE].shape} (dense PE)")
    from_point = out[SPARSE][0, 0].astype(np.float64) - params["point_embeddings.1.weight"][0]
    from_grid = out[DENSE_PE][0, :, i, j]
    budget = runner.budget(config, params_seed, prompt, SPARSE, dtype) + runner.budget(
        config, params_seed, prompt, DENSE_PE, dtype
    )
    _close(
        f"a foreground point at the centre of cell {(i, j)} minus the foreground embedding vs the dense "
        f"positional grid there",
        from_point,
        from_grid,
        budget,
    )


def draw_padding_rule(data):
    config, seed = _base(data)
    spec = data.draw(sst.prompt_specs(config, points=True, masks=False), label="prompt")
    return dict(config=config, params_seed=seed, prompt=spec)


def check_padding_rule(runner, config, params_seed, prompt):
    """Points without boxes get one more token, exactly not_a_point_embed; with boxes, none (§5.1)."""
    base = _prompt(config, prompt)
    out = runner.run(config, params_seed, base)
    sparse = out[SPARSE]
    batch, count = base["points"].shape[:2]
    params = sst.make_params(config, params_seed)
    with_boxes = "boxes" in base
    tokens = count + (2 if with_boxes else 1)
    expected_shape = (batch, tokens, config["hidden_size"])
    if sparse.shape != expected_shape:
        rule = "N points + 2 box corners, no padding token" if with_boxes else "N points + 1 padding token"
        raise PropertyFailure(f"{SPARSE}: shape {sparse.shape}, expected {expected_shape} ({rule})")
    if not with_boxes:
        embed = params["not_a_point_embed.weight"][0]
        name = sparse.dtype.name if sparse.dtype.name in FLOORS else "float32"
        budget = FLOORS[name] * max(1.0, float(np.max(np.abs(embed))))
        _close(
            f"{SPARSE} padding token (last row) vs not_a_point_embed",
            sparse[:, -1],
            np.broadcast_to(embed, sparse[:, -1].shape),
            budget,
        )


def draw_any_prompt(data):
    config, seed = _base(data)
    spec = data.draw(sst.prompt_specs(config, min_prompts=1), label="prompt")
    return dict(config=config, params_seed=seed, prompt=spec)


def check_deterministic(runner, config, params_seed, prompt):
    """Two calls with the same inputs return bit-identical outputs."""
    base = _prompt(config, prompt)
    first = runner.run(config, params_seed, base)
    second = runner.run(config, params_seed, base)
    for key in OUTPUT_KEYS:
        if first[key].shape != second[key].shape or not np.array_equal(first[key], second[key], equal_nan=True):
            difference = (
                np.max(np.abs(first[key].astype(np.float64) - second[key].astype(np.float64)))
                if first[key].shape == second[key].shape
                else "shape"
            )
            raise PropertyFailure(f"{key}: a repeated call differs ({difference})")


def check_no_input_mutation(runner, config, params_seed, prompt):
    """The port never writes into its input arrays (transformers#42172)."""
    base = _prompt(config, prompt)
    mutated = runner.mutated_inputs(config, params_seed, base)  # compared where the port runs (its worker)
    if mutated:
        raise PropertyFailure(f"the port modified its input {mutated[0]!r} in place")


def _cast(prompt, dtype):
    return {k: (v.astype(dtype) if k in ("points", "boxes", "masks") else v) for k, v in prompt.items()}


def check_float64_inputs(runner, config, params_seed, prompt):
    """float64 inputs are either refused with an error naming the dtype, or used as if rounded once
    to the port's own dtype (spec §11.3): the outputs for float64 inputs equal, within rounding,
    those for the same inputs rounded to that dtype first. A float64 path that truncates further
    (to float16, to integers) fails. The port's dtype is its output dtype for float32 inputs."""
    base = _prompt(config, prompt)
    for key in ("points", "boxes", "masks"):
        if key in base:  # + 1/3: not representable in float32 or float16
            base[key] = base[key].astype(np.float64) + np.float64(1.0 / 3.0)
    dtype = _dtype(runner.run(config, params_seed, _cast(base, np.float32)))
    if dtype not in FLOORS:
        raise PropertyFailure(f"{SPARSE} has dtype {dtype} for float32 inputs")
    try:
        wide = runner.run(config, params_seed, base)
    except NotApplicable:
        raise
    except Exception as exc:  # refused: acceptable only with a clear message
        text = str(exc).lower()
        if "float64" in text or "dtype" in text or "double" in text:
            return
        raise PropertyFailure(f"float64 inputs refused without naming the dtype: {type(exc).__name__}: {exc}") from exc
    rounded = _cast(base, np.dtype(dtype))
    narrow = runner.run(config, params_seed, rounded)
    for key in OUTPUT_KEYS:
        budget = runner.budget(config, params_seed, rounded, key, dtype)
        _close(f"{key} for float64 inputs vs the same inputs rounded to {dtype} first", wide[key], narrow[key], budget)


PROPERTIES = {
    p.name: p
    for p in (
        Property(
            "permute_points",
            "permuting the points permutes the sparse rows",
            ("5", "7"),
            draw_permute_points,
            check_permute_points,
        ),
        Property(
            "batch_independence",
            "each image of a batch is independent of the others",
            ("11.1",),
            draw_batch_independence,
            check_batch_independence,
        ),
        Property(
            "box_equals_corners",
            "a box equals its two corners with the corner embeddings",
            ("6",),
            draw_box_equals_corners,
            check_box_equals_corners,
        ),
        Property(
            "grid_prompt_independent",
            "the dense positional grid does not depend on the prompt",
            ("8.2",),
            draw_grid_prompt_independent,
            check_grid_prompt_independent,
        ),
        Property(
            "no_mask_broadcast",
            "without a mask, the dense output is no_mask_embed broadcast",
            ("10",),
            draw_no_mask_broadcast,
            check_no_mask_broadcast,
        ),
        Property(
            "scale_invariance",
            "scaling the image size with the coordinates changes nothing",
            ("3",),
            draw_scale_invariance,
            check_scale_invariance,
        ),
        Property(
            "point_matches_grid",
            "a point at a cell centre is encoded as the dense grid there",
            ("3", "8"),
            draw_point_matches_grid,
            check_point_matches_grid,
        ),
        Property(
            "padding_rule",
            "points without boxes get exactly one not-a-point token",
            ("5.1",),
            draw_padding_rule,
            check_padding_rule,
        ),
        Property("deterministic", "repeated calls are identical", ("11",), draw_any_prompt, check_deterministic),
        Property("no_input_mutation", "inputs are not modified", ("11.3",), draw_any_prompt, check_no_input_mutation),
        Property(
            "float64_inputs",
            "float64 inputs are used at the port's precision or refused clearly",
            ("11.3",),
            draw_any_prompt,
            check_float64_inputs,
        ),
    )
}
