"""Spec §1.3: the reference is backend-agnostic. Under array_api_strict (which refuses every
NumPy-only call and implicit conversion) and other namespaces it must match NumPy."""

import numpy as np
import pytest
from conftest import require, require_cupy_gpu

from samspec.reference import SAMPromptEncoder, init_params

CONFIG = dict(hidden_size=32, image_embedding_size=(4, 6), input_image_size=(64, 96), mask_in_channels=8)


def prompt(rng):
    return {
        "points": rng.uniform(-5, 100, (2, 4, 2)),
        "labels": np.array([[-1, 0, 1, 2], [3, 1, 0, -1]]),
        "boxes": np.array([[1.0, 2.0, 50.0, 40.0], [10.0, 0.0, 95.0, 63.0]]),
        "masks": rng.normal(0, 3, (2, 1, 16, 24)),
    }


@pytest.mark.parametrize("activation", ["gelu", "gelu_tanh", "relu", "silu", "softplus", "elu"])
@pytest.mark.parametrize("keys", [("points", "labels"), ("boxes",), ("points", "labels", "boxes", "masks"), ()])
def test_spec1_3_array_api_strict_matches_numpy(activation, keys):
    xps = require("array_api_strict")
    params = init_params(32, 8, seed=5)
    inputs = {k: v for k, v in prompt(np.random.default_rng(0)).items() if k in keys}
    expected = SAMPromptEncoder(**CONFIG, activation=activation, params=params)(**inputs)
    strict = SAMPromptEncoder(**CONFIG, activation=activation, params=params, xp=xps)
    got = strict(**{k: xps.asarray(v) for k, v in inputs.items()})
    for key in expected:
        assert type(got[key]).__module__.startswith("array_api_strict"), f"§1.3 {key} left the namespace"
        np.testing.assert_allclose(np.asarray(got[key]), expected[key], rtol=0, atol=1e-13, err_msg=f"§1.3 {key}")


def test_spec1_3_strict_trace_covers_every_stage():
    xps = require("array_api_strict")
    inputs = prompt(np.random.default_rng(1))
    expected = SAMPromptEncoder(**CONFIG).trace(**inputs)
    got = SAMPromptEncoder(**CONFIG, xp=xps).trace(**{k: xps.asarray(v) for k, v in inputs.items()})
    assert list(got) == list(expected)
    for key in expected:
        np.testing.assert_allclose(np.asarray(got[key]), np.asarray(expected[key]), rtol=0, atol=1e-13, err_msg=key)


def test_spec1_3_strict_refuses_float16_clearly():
    xps = require("array_api_strict")
    with pytest.raises(TypeError, match="dtype"):
        SAMPromptEncoder(**CONFIG, dtype="float16", xp=xps)


@pytest.mark.sam
def test_spec1_3_torch_namespace_matches_numpy():
    torch = require("torch")
    require("array_api_compat")
    inputs = prompt(np.random.default_rng(2))
    expected = SAMPromptEncoder(**CONFIG)(**inputs)
    got = SAMPromptEncoder(**CONFIG, xp=torch)(**{k: torch.as_tensor(v) for k, v in inputs.items()})
    for key in expected:
        np.testing.assert_allclose(got[key].numpy(), expected[key], rtol=0, atol=1e-12, err_msg=key)


def test_spec1_3_cupy_matches_numpy():
    cupy = require_cupy_gpu()
    inputs = prompt(np.random.default_rng(3))
    expected = SAMPromptEncoder(**CONFIG)(**inputs)
    got = SAMPromptEncoder(**CONFIG, xp=cupy)(**{k: cupy.asarray(v) for k, v in inputs.items()})
    for key in expected:
        assert isinstance(got[key], cupy.ndarray), f"{key} left the GPU"
        np.testing.assert_allclose(cupy.asnumpy(got[key]), expected[key], rtol=0, atol=1e-12, err_msg=key)
