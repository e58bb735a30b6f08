"""Spec §11: the whole encoder against Meta's SAM v1 PromptEncoder (torch, float32, CPU).

Both run with identical random parameters. Meta computes in float32, so the float64 reference
can only agree to Meta's own float32 error; the bound used is measured, not guessed: it is
k times the distance between the float32 and float64 reference runs on the same inputs, plus a floor.
"""

import zlib

import numpy as np
import pytest
from conftest import require

from samspec.reference import SAMPromptEncoder, init_params

pytestmark = pytest.mark.sam  # Meta's PromptEncoder: torch and segment-anything

CONFIGS = {
    "seed": dict(hidden_size=256, image_embedding_size=(64, 64), input_image_size=(1024, 1024), mask_in_channels=16),
    "non_square": dict(hidden_size=256, image_embedding_size=(8, 6), input_image_size=(128, 96), mask_in_channels=16),
    "small": dict(hidden_size=32, image_embedding_size=(4, 6), input_image_size=(64, 96), mask_in_channels=4),
}

PROMPTS = ["points", "points+boxes", "boxes", "masks", "points+masks", "points+boxes+masks", "none"]


def make_prompt(kind, config, batch, rng):
    height, width = config["input_image_size"]
    h, w = config["image_embedding_size"]
    prompt = {}
    if "points" in kind:
        n = 7
        # inside, on the border and outside the image
        xs = rng.uniform(-0.1 * width, 1.1 * width, (batch, n))
        ys = rng.uniform(-0.1 * height, 1.1 * height, (batch, n))
        xs[:, 0], ys[:, 0] = 0, 0
        xs[:, 1], ys[:, 1] = width - 1, height - 1
        prompt["points"] = np.stack([xs, ys], axis=-1)
        labels = rng.integers(-1, 4, (batch, n))
        labels[:, :5] = [-1, 0, 1, 2, 3]  # every label in every batch element
        prompt["labels"] = labels
    if "boxes" in kind:
        x = np.sort(rng.uniform(0, width, (batch, 2)), axis=1)
        y = np.sort(rng.uniform(0, height, (batch, 2)), axis=1)
        prompt["boxes"] = np.stack([x[:, 0], y[:, 0], x[:, 1], y[:, 1]], axis=1)
    if "masks" in kind:
        prompt["masks"] = rng.normal(0, 4, (batch, 1, 4 * h, 4 * w))
    return prompt


@pytest.fixture(scope="module")
def meta_adapter_class():
    from samspec.conformance.adapters.segment_anything import SegmentAnythingAdapter, load_prompt_encoder_class

    require("torch")
    require("segment_anything", load=load_prompt_encoder_class)

    return SegmentAnythingAdapter


@pytest.mark.parametrize("config_name", sorted(CONFIGS))
@pytest.mark.parametrize("kind", PROMPTS)
def test_spec11_encoder_matches_meta(meta_adapter_class, config_name, kind):
    """§11 whole encoder: float64 and float32 reference vs Meta float32, batch 3, every label."""
    config = CONFIGS[config_name]
    params = init_params(config["hidden_size"], config["mask_in_channels"], seed=11)
    rng = np.random.default_rng(zlib.crc32(f"{config_name}:{kind}".encode()))
    prompt = make_prompt(kind, config, batch=3, rng=rng)

    meta = meta_adapter_class()
    meta.build(config, params)
    got = meta.run(prompt.get("points"), prompt.get("labels"), prompt.get("boxes"), prompt.get("masks"))
    truth = SAMPromptEncoder(**config, params=params, dtype="float64")(**prompt)
    single = SAMPromptEncoder(**config, params=params, dtype="float32")(**prompt)

    for key, expected in truth.items():
        ours32 = np.asarray(single[key], dtype=np.float64)
        theirs = got[key].astype(np.float64)
        assert theirs.shape == expected.shape, f"§11 {key}: Meta shape {theirs.shape} vs reference {expected.shape}"
        if expected.size == 0:
            continue
        faithful = np.max(np.abs(ours32 - expected))  # what float32 rounding alone costs
        meta_error = np.max(np.abs(theirs - expected))
        budget = 4 * faithful + 1e-6
        assert meta_error <= budget, f"§11 {key}: float64 reference vs Meta {meta_error:.3g} > {budget:.3g}"
        assert meta_error <= 1e-5, f"§11 {key}: float64 reference vs Meta {meta_error:.3g} > 1e-5"
        assert np.max(np.abs(ours32 - theirs)) <= 1e-4, f"§11 {key}: float32 reference vs Meta"
