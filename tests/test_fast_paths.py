"""Every fast path of the reference against its literal definition (docs/performance.md).

The encoder runs the fast forms; the literal forms stay in the code as the definitions. In float64
each pair must agree to 1e-12 (max abs) over several shapes, non-square and batched; in float32 a
fast form must stay a faithful float32 computation (error against float64 within 2x the literal's).
"""

import functools
import math

import numpy as np
import pytest
from conftest import require, require_cupy_gpu
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from samspec.reference import STAGES, SAMPromptEncoder, get_activation, init_params
from samspec.reference.activations import gelu
from samspec.reference.fast import PART_STAGES
from samspec.reference.fast import window_order as fast_mask
from samspec.reference.fast.channels_first import (
    conv1x1_channels_first,
    conv2x2_stride2_channels_first,
    layer_norm_channels_first,
    with_ones_channel,
)
from samspec.reference.fast.channels_first import downscale_mask_channels_first as downscale_mask
from samspec.reference.fast.half_angle import sin_and_cos, sin_cos_half_angle
from samspec.reference.fast.label_table import embed_point_labels_by_table as embed_point_labels
from samspec.reference.fast.label_table import sparse_embeddings, token_table
from samspec.reference.fast.normal_tail import (
    TABLE_END,
    TABLE_STEP,
    TAIL_FITS,
    fast_activation,
    gelu_from_upper_tail,
    normal_upper_tail,
    upper_tail_polynomial,
    upper_tail_table,
)
from samspec.reference.fast.separable_grid import dense_positional_grid_separable as dense_positional_grid
from samspec.reference.fast.separable_grid import fourier_features_on_grid
from samspec.reference.fast.window_matmul import conv2x2_stride2_by_windows as conv2x2_stride2
from samspec.reference.masks import conv1x1, layer_norm_channels
from samspec.reference.masks import conv2x2_stride2 as conv2x2_stride2_literal
from samspec.reference.masks import downscale_mask as downscale_mask_literal
from samspec.reference.positional_encoding import dense_positional_grid as dense_positional_grid_literal
from samspec.reference.positional_encoding import fourier_features
from samspec.reference.semantics import KERAS_HUB_LABELS, SAM_LABELS
from samspec.reference.sparse import (
    append_padding_point,
    assemble_sparse,
    embed_box_corners,
    label_embedding_table,
)
from samspec.reference.sparse import embed_point_labels as embed_point_labels_literal

EXACT = 1e-12  # float64: fast form vs definition, max abs

GRID_SIZES = [(1, 1), (1, 7), (5, 3), (8, 6), (64, 64), (16, 48)]
BATCHED_SHAPES = [(1, 4, 4), (3, 8, 6), (2, 6, 10), (4, 16, 16)]  # (B, H, W) of a conv input


def gaussian(channels, seed=0):
    return np.random.default_rng(seed).standard_normal((2, channels // 2))


def max_abs(a, b):
    return float(np.max(np.abs(np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)), initial=0.0))


# -- §4, §8: the positional encoding of a grid -----------------------------------------------------


def angles_with_hard_cases(seed=0):
    """Wide random angles plus the hard ones of the half-angle form: 0, +-pi/2 and +-pi (|t| = 1
    and |t| -> inf) and their neighbouring doubles, and multiples of 2 pi."""
    rng = np.random.default_rng(seed)
    special = np.array([0.0, np.pi / 2, np.pi, 3 * np.pi / 2, 2 * np.pi, 100 * np.pi, 1e-300, 5e-324])
    special = np.concatenate([special, np.nextafter(special, np.inf), np.nextafter(special, -np.inf)])
    return np.concatenate([rng.normal(0.0, 20.0, 4096), rng.uniform(-1e4, 1e4, 4096), special, -special])


def test_spec4_2_half_angle_sin_cos_equal_sin_and_cos():
    """§4.2's sinusoids in float64 by t = tan(a/2): sin a = 2t/(1+t^2), cos a = (1-t^2)/(1+t^2)."""
    angles = angles_with_hard_cases()
    sin, cos = sin_cos_half_angle(angles, np)
    assert max_abs(sin, np.sin(angles)) <= 8 * np.finfo(np.float64).eps
    assert max_abs(cos, np.cos(angles)) <= 8 * np.finfo(np.float64).eps
    assert np.all(np.isfinite(sin)) and np.all(np.isfinite(cos))
    # the fast paths' dispatcher: half angles in float64 only; float32 keeps xp.sin and xp.cos
    assert max_abs(sin_and_cos(angles, np)[0], sin) == 0.0
    angles32 = angles.astype(np.float32)
    assert np.array_equal(sin_and_cos(angles32, np)[1], np.cos(angles32))


@pytest.mark.parametrize("size", GRID_SIZES)
@pytest.mark.parametrize("channels", [2, 32, 256])
def test_spec8_2_dense_grid_separable_equals_literal(size, channels):
    G = gaussian(channels, seed=size[0] * 100 + size[1])
    fast = dense_positional_grid(size, G, np)
    literal = dense_positional_grid_literal(size, G, np)
    assert fast.shape == literal.shape == (size[0], size[1], channels)
    assert max_abs(fast, literal) <= EXACT


@pytest.mark.parametrize("h, w", [(1, 5), (7, 3), (32, 32), (64, 1024)])
def test_spec4_fourier_features_on_grid_equals_fourier_features(h, w):
    """Any axes, also outside the unit square and unsorted: PE((x_j, y_i)) by §4 directly."""
    rng = np.random.default_rng(h * w)
    x, y = rng.uniform(-0.5, 1.5, w), rng.uniform(-0.5, 1.5, h)
    G = gaussian(256, seed=3)
    fast = fourier_features_on_grid(x, y, G, np)  # (C, h, w)
    points = np.stack(np.broadcast_arrays(x[None, :], y[:, None]), axis=-1)  # (h, w, 2) as (x, y)
    literal = fourier_features(points, G, np)  # (h, w, C)
    assert fast.shape == (256, h, w)
    assert max_abs(np.moveaxis(fast, 0, -1), literal) <= EXACT


@pytest.mark.parametrize("size", [(64, 64), (8, 6), (64, 1024)])
def test_spec8_2_dense_grid_float32_is_faithful(size):
    """The separable form in float32 is no less accurate than the direct float32 form (within 2x)."""
    G = init_params(256, 16, seed=0)["pe_layer.positional_encoding_gaussian_matrix"]
    truth = dense_positional_grid_literal(size, G, np)
    G32 = G.astype(np.float32)
    fast, literal = dense_positional_grid(size, G32, np), dense_positional_grid_literal(size, G32, np)
    assert fast.dtype == np.float32
    assert max_abs(fast, truth) <= 2 * max_abs(literal, truth) + 1e-7


# -- §5.2, §6.2, §7: the sparse tokens -------------------------------------------------------------


@pytest.mark.parametrize("rule", [SAM_LABELS, KERAS_HUB_LABELS], ids=["sam", "keras_hub"])
@pytest.mark.parametrize("shape", [(1, 1), (3, 7), (2, 0), (5, 33)])
def test_spec5_2_label_lookup_equals_masks_and_where(rule, shape):
    rng = np.random.default_rng(sum(shape))
    params = init_params(32, 4, seed=2)
    table = label_embedding_table(params, np.float64, np)
    pe = rng.normal(size=shape + (32,))
    labels = rng.choice(np.array(rule.allowed), size=shape)
    fast = embed_point_labels(pe, labels, table, rule, np)
    literal = embed_point_labels_literal(pe, labels, table, rule, np)
    assert fast.shape == literal.shape == shape + (32,)
    assert max_abs(fast, literal) <= EXACT
    if shape[1]:
        not_a_point = labels == -1
        assert np.array_equal(
            literal[not_a_point], np.broadcast_to(params["not_a_point_embed.weight"], literal[not_a_point].shape)
        )


def literal_sparse(coords, labels, corners, params, rule, G, image_size):
    """§3.2–§7 part by part with the literal forms (the encoder's stage-by-stage path)."""
    from samspec.reference.coordinates import normalise_coordinates

    table = label_embedding_table(params, np.float64, np)
    point_tokens = box_tokens = None
    if coords is not None:
        pe = fourier_features(normalise_coordinates(coords, image_size, np), G, np)
        point_tokens = embed_point_labels_literal(pe, labels, table, rule, np)
    if corners is not None:
        pe = fourier_features(normalise_coordinates(corners, image_size, np), G, np)
        box_tokens = embed_box_corners(pe, params["point_embeddings.2.weight"], params["point_embeddings.3.weight"], np)
    batch = (coords if coords is not None else corners).shape[0]
    return assemble_sparse(point_tokens, box_tokens, batch, G.shape[1] * 2, np.float64, np)


@pytest.mark.parametrize("rule", [SAM_LABELS, KERAS_HUB_LABELS], ids=["sam", "keras_hub"])
@pytest.mark.parametrize(
    "batch, points, boxes, image_size",
    [
        (1, 1, None, (1024, 1024)),
        (4, 5, 1, (1024, 1024)),
        (3, None, 1, (96, 128)),
        (2, 7, 3, (96, 128)),
        (2, 0, 0, (64, 64)),
        (64, 32, 1, (1024, 1024)),
        (2, 3, 0, (48, 80)),
    ],
)
def test_spec7_sparse_embeddings_equal_the_stages(rule, batch, points, boxes, image_size):
    rng = np.random.default_rng(batch * 31 + (points or 0))
    params = init_params(64, 4, seed=4)
    G = params["pe_layer.positional_encoding_gaussian_matrix"]
    height, width = image_size
    coords = labels = corners = None
    if points is not None:
        coords = rng.uniform(-20, width + 20, (batch, points, 2)) + 0.5
        labels = rng.choice(np.array(rule.allowed), size=(batch, points))
        if boxes is None:
            coords, labels = append_padding_point(coords, labels, np)
    if boxes is not None:
        corners = rng.uniform(0, min(height, width), (batch, boxes, 2, 2)) + 0.5
    keep, embeddings = token_table(label_embedding_table(params, np.float64, np), rule, np)
    fast = sparse_embeddings(coords, labels, corners, keep, embeddings, rule, G, image_size, np)
    literal = literal_sparse(coords, labels, corners, params, rule, G, image_size)
    assert fast.shape == literal.shape
    assert max_abs(fast, literal) <= EXACT


# -- §9: the mask downscaler -----------------------------------------------------------------------


def to_channels_first(x):
    return np.ascontiguousarray(np.moveaxis(x, -1, 1))


@pytest.mark.parametrize("shape", BATCHED_SHAPES)
@pytest.mark.parametrize("cin, cout", [(1, 4), (4, 16), (3, 5)])
def test_spec9_1_conv2x2_stride2_forms_equal_the_sum(shape, cin, cout):
    rng = np.random.default_rng(cin * 10 + cout)
    batch, height, width = shape
    x = rng.normal(size=(batch, height, width, cin))
    weight, bias = rng.normal(size=(cout, cin, 2, 2)), rng.normal(size=(cout,))
    literal = conv2x2_stride2_literal(x, weight, bias, np)
    assert literal.shape == (batch, height // 2, width // 2, cout)
    assert max_abs(conv2x2_stride2(x, weight, bias, np), literal) <= EXACT
    fast = conv2x2_stride2_channels_first(to_channels_first(x), weight, bias, np)
    assert max_abs(np.moveaxis(fast, 1, -1), literal) <= EXACT


def test_spec9_1_conv2x2_literal_is_the_textbook_sum():
    """The literal form against four nested loops, so that the definition itself is pinned down."""
    rng = np.random.default_rng(9)
    x, weight, bias = rng.normal(size=(2, 4, 6, 3)), rng.normal(size=(5, 3, 2, 2)), rng.normal(size=(5,))
    expected = np.zeros((2, 2, 3, 5))
    for b in range(2):
        for i in range(2):
            for j in range(3):
                for o in range(5):
                    expected[b, i, j, o] = bias[o] + sum(
                        x[b, 2 * i + di, 2 * j + dj, c] * weight[o, c, di, dj]
                        for di in (0, 1)
                        for dj in (0, 1)
                        for c in range(3)
                    )
    assert max_abs(conv2x2_stride2_literal(x, weight, bias, np), expected) <= EXACT


@pytest.mark.parametrize("shape", BATCHED_SHAPES)
@pytest.mark.parametrize("channels", [1, 4, 16])
def test_spec9_2_layer_norm_channels_first_equals_definition(shape, channels):
    rng = np.random.default_rng(channels)
    x = rng.normal(0, 3, shape + (channels,))
    gamma, beta = 1 + 0.1 * rng.normal(size=channels), 0.1 * rng.normal(size=channels)
    literal = layer_norm_channels(x, gamma, beta, 1e-6, np)
    batch, height, width = shape
    flat = np.reshape(to_channels_first(x), (batch, channels, height * width))
    fast = layer_norm_channels_first(flat, gamma, beta, 1e-6, np)
    assert max_abs(np.moveaxis(np.reshape(fast, (batch, channels, height, width)), 1, -1), literal) <= EXACT
    if channels == 1:  # §9.2: a single channel normalises to exactly beta
        assert np.all(fast == beta[0])


# -- §9.3: the exact GELU from the normal upper tail ---------------------------------------------


# float32 squares of the largest arguments overflow to inf, and exp(-inf) = 0 is the right limit
float32_square_overflows = pytest.mark.filterwarnings("ignore:overflow encountered in multiply:RuntimeWarning")


def gelu_arguments(seed=0):
    """Where GELU's forms differ: around 0 (both signs, subnormal), the bend, both tails, the
    far tails where Q underflows, and values of the mask path's size (LayerNorm outputs)."""
    rng = np.random.default_rng(seed)
    special = np.array([0.0, 5e-324, 1e-300, 1e-8, 0.5, 1.0, 4.0, 5.66, 8.49, 30.0, 38.0, 40.0, 1e6, 1e30])
    return np.concatenate([np.linspace(-12, 12, 4801), rng.normal(0, 3, 4096), special, -special])


def upper_tail_truth(a):
    """Q(a) = Phi(-a) = erfc(a / sqrt 2) / 2 by the platform's libm, for any real a."""
    return np.array([0.5 * math.erfc(v / math.sqrt(2.0)) for v in a.tolist()])


@float32_square_overflows
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_spec9_3_normal_upper_tail_equals_half_erfc(dtype):
    """Q(a) = erfc(a/sqrt 2)/2 within 4 machine epsilons absolute for all a >= 0, and within
    64 relative for a < 5 (where Q > 2.8e-7: Q's own digits, which 1 - Phi would cancel)."""
    a = np.abs(gelu_arguments())
    eps = float(np.finfo(dtype).eps)
    values = normal_upper_tail(a.astype(dtype), np)
    assert values.dtype == np.dtype(dtype)
    a = a.astype(dtype).astype(np.float64)  # the arguments as the dtype holds them
    truth = upper_tail_truth(a)
    assert max_abs(values, truth) <= 4 * eps, f"§9.3 Q({dtype}): absolute error"
    near = a < 5
    relative = np.max(np.abs(values[near] / truth[near] - 1.0))
    assert relative <= 64 * eps, f"§9.3 Q({dtype}): relative error {relative / eps:.1f} eps for a < 5"
    assert np.all(values >= 0) and np.all(np.isfinite(values))


def test_spec9_3_upper_tail_fit_is_well_conditioned():
    """The docstring's claim: P in monomials has coefficient magnitudes summing to less than 4,
    so Horner's rule in s (|s| <= 1) loses no more than a few ulps to cancellation."""
    for degree, k in TAIL_FITS.values():
        coefficients = upper_tail_polynomial(degree, k)
        assert len(coefficients) == degree + 1
        assert sum(abs(c) for c in coefficients) < 4.0


def test_spec9_3_upper_tail_table_and_midpoint_rule():
    """float64: the table holds Q at every node; at a node the form returns the table's value
    exactly (h = 0), half a step either side it is within 4 epsilons of erfc, and beyond the
    table Q is 0 (also for the largest float64)."""
    table = upper_tail_table()
    assert table.shape == (int(TABLE_END / TABLE_STEP) + 1,) and not table.flags.writeable
    nodes = np.array([0, 1, 7, 2048, 12345, table.shape[0] - 1]) * TABLE_STEP
    assert np.array_equal(normal_upper_tail(nodes, np), table[(nodes / TABLE_STEP).astype(int)])
    off = np.concatenate([nodes[:-1] + 0.49 * TABLE_STEP, nodes[1:-1] - 0.49 * TABLE_STEP])
    assert max_abs(normal_upper_tail(off, np), upper_tail_truth(off)) <= 4 * np.finfo(np.float64).eps
    assert normal_upper_tail(np.array([40.0, 41.0, 1e300, np.finfo(np.float64).max]), np).tolist() == [0.0] * 4


def test_spec9_3_gelu_from_upper_tail_equals_gelu():
    """float64: GELU(x) = (x + |x|)/2 - |x| Q(|x|) equals x/2 (1 + erf(x/sqrt 2)) to 1e-12, and
    in fact to 4 epsilons of max(|x|, 1); and GELU(x) - GELU(-x) = x (since Phi(x) + Phi(-x) = 1)."""
    x = gelu_arguments()
    fast, literal = gelu_from_upper_tail(x, np), gelu(x, np)
    assert fast.dtype == np.float64
    assert max_abs(fast, literal) <= EXACT
    eps = np.finfo(np.float64).eps
    assert np.max(np.abs(fast - literal) / np.maximum(np.abs(x), 1.0)) <= 4 * eps
    assert max_abs(gelu_from_upper_tail(x, np) - gelu_from_upper_tail(-x, np), x) <= 4 * eps * np.max(np.abs(x))
    assert fast[x == 0].tolist() == [0.0] * int(np.sum(x == 0))
    assert np.array_equal(fast[x > 1e6], x[x > 1e6])


@float32_square_overflows
def test_spec9_3_gelu_from_upper_tail_float32_is_faithful():
    """float32: no less accurate than the definition in float32 (within 2x, absolute), and
    relatively accurate for x < 0, where the definition's 1 + erf cancels."""
    x = gelu_arguments(seed=1).astype(np.float32)
    x64 = x.astype(np.float64)
    truth = x64 * upper_tail_truth(-x64)  # x Phi(x) = x Q(-x) from erfc: no cancellation anywhere
    fast, literal = gelu_from_upper_tail(x, np), gelu(x, np)
    assert fast.dtype == np.float32
    assert max_abs(fast, truth) <= 2 * max_abs(literal, truth) + 1e-7
    tail = (x < -3) & (np.abs(truth) > 1e-30)  # float32's normal range, with room
    relative = np.max(np.abs(fast[tail] / truth[tail] - 1.0))
    assert relative <= 64 * np.finfo(np.float32).eps, f"§9.3 float32 GELU, x < -3: relative error {relative:.2e}"


def test_spec9_3_fast_activation_replaces_only_numpy_gelu():
    assert fast_activation("gelu", np.float64, np) is gelu_from_upper_tail
    assert fast_activation("gelu", np.float32, np) is gelu_from_upper_tail
    assert fast_activation("gelu", np.float16, np) is gelu  # no float16 fit
    assert fast_activation("relu", np.float32, np) is get_activation("relu")
    xps = require("array_api_strict")
    assert fast_activation("gelu", xps.float64, xps) is gelu


@float32_square_overflows
def test_spec9_3_gelu_from_upper_tail_is_array_api_code():
    """The fast form is written in array-API operations only: array_api_strict runs it."""
    xps = require("array_api_strict")
    x = gelu_arguments(seed=2)
    for dtype in (xps.float32, xps.float64):
        value = gelu_from_upper_tail(xps.asarray(x, dtype=dtype), xps)
        expected = gelu_from_upper_tail(x.astype(np.float32 if dtype == xps.float32 else np.float64), np)
        assert value.dtype == dtype
        assert np.array_equal(np.asarray(value), expected)


@pytest.mark.parametrize("batch, pixels, cin, cout", [(1, 1, 16, 256), (3, 24, 4, 32), (16, 4096, 16, 256)])
def test_spec9_4_conv1x1_bias_in_the_product_equals_definition(batch, pixels, cin, cout):
    rng = np.random.default_rng(pixels)
    x = rng.normal(size=(batch, pixels, cin))
    weight, bias = rng.normal(size=(cout, cin, 1, 1)), rng.normal(size=(cout,))
    literal = conv1x1(x, weight, bias, np)
    x_ones = with_ones_channel(np.ascontiguousarray(np.moveaxis(x, -1, 1)), np)
    first = conv1x1_channels_first(x_ones, weight, bias, np)
    assert max_abs(np.moveaxis(first, 1, -1), literal) <= EXACT


@pytest.mark.parametrize("activation", ["gelu", "relu", "gelu_tanh"])
@pytest.mark.parametrize("batch, h, w, cm", [(1, 1, 1, 4), (3, 4, 6, 8), (2, 8, 5, 16), (16, 16, 16, 16)])
def test_spec9_5_downscale_mask_equals_literal_composition(activation, batch, h, w, cm):
    rng = np.random.default_rng(batch * h * w)
    params = init_params(32, cm, seed=6)
    mask = rng.normal(0, 4, (batch, 4 * h, 4 * w))
    act = get_activation(activation)
    fast_trace, literal_trace = {}, {}
    fast = downscale_mask(mask, params, act, np, trace=fast_trace)
    literal = downscale_mask_literal(mask, params, act, np, trace=literal_trace)
    assert fast.shape == literal.shape == (batch, h, w, 32)
    assert max_abs(fast, literal) <= EXACT
    assert list(fast_trace) == list(literal_trace)
    for key in literal_trace:
        assert fast_trace[key].shape == literal_trace[key].shape, key
        assert max_abs(fast_trace[key], literal_trace[key]) <= EXACT, key


# -- §9 on NumPy, the fast form (reference/fast_mask.py) --------------------------------------------


def fast_downscale(mask, params, activation, eps=1e-6):
    """fast_mask.MaskDownscaler's chunks one after the other: (B, 4h, 4w) -> (B, h, w, C)."""
    downscaler = fast_mask.MaskDownscaler(mask, params, activation, eps)
    for chunk in downscaler.chunks:
        downscaler.project(chunk, downscaler.features(downscaler.first_layer(chunk)))
    return downscaler.dense()


@pytest.mark.parametrize("chunk_bytes, batch", [(1, 5), (3 * 4 * 16 * 16 * 8, 7), (10**9, 3)])
@pytest.mark.parametrize("activation", ["gelu", "relu", "gelu_tanh"])
def test_spec9_5_fast_mask_path_equals_literal_composition(monkeypatch, chunk_bytes, batch, activation):
    """The fast form (pixels in window order, biases in the products) an image, three images or
    the whole batch at a time, with a short last chunk, equals the literal composition; its fast
    GELU is the exact GELU."""
    params = init_params(32, 16, seed=4)
    mask = np.random.default_rng(batch).normal(0, 4, (batch, 32, 32))
    monkeypatch.setattr(fast_mask, "CHUNK_BYTES", chunk_bytes)
    act = fast_activation(activation, np.float64, np)
    fast = fast_downscale(mask, params, act)
    assert fast.shape == (batch, 8, 8, 32) and fast.dtype == np.float64
    assert max_abs(fast, downscale_mask_literal(mask, params, get_activation(activation), np)) <= EXACT
    # a float32 mask with float64 parameters is computed in float64, as downscale_mask does; never cast down
    assert fast_downscale(mask.astype(np.float32), params, act).dtype == np.float64


@pytest.mark.parametrize(
    "batch, h, w, cm, hidden", [(1, 1, 1, 4, 8), (2, 3, 5, 8, 32), (1, 64, 64, 16, 256), (40, 3, 9, 16, 64)]
)
def test_spec9_5_fast_mask_path_shapes(batch, h, w, cm, hidden):
    """Square and not, one cell and 64 x 64, mask_in_channels 4 to 16: the output layout is
    (B, h*w, C) in float32 and (B, C, h*w) in float64, and both views equal the definition."""
    params = init_params(hidden, cm, seed=batch)
    mask = np.random.default_rng(h * w).normal(0, 4, (batch, 4 * h, 4 * w))
    literal = downscale_mask_literal(mask, params, gelu, np)
    assert max_abs(fast_downscale(mask, params, gelu_from_upper_tail), literal) <= EXACT
    p32 = {k: v.astype(np.float32) for k, v in params.items()}
    fast32 = fast_downscale(mask.astype(np.float32), p32, gelu_from_upper_tail)
    literal32 = downscale_mask_literal(mask.astype(np.float32), p32, gelu, np)
    assert fast32.dtype == np.float32 and fast32.shape == literal.shape
    assert max_abs(fast32, literal) <= 2 * max_abs(literal32, literal) + 1e-7


@pytest.mark.parametrize("batch, step", [(0, 2), (1, 2), (2, 2), (3, 2), (5, 4), (7, 3), (16, 2), (16, 1), (33, 4)])
def test_spec9_5_image_chunks_partition_the_batch(batch, step):
    """Every image in exactly one chunk, in order; at most ``step`` a chunk; the first and the last
    half as many (so the two lanes start sooner and finish together)."""
    chunks = fast_mask.image_chunks(batch, step)
    assert [i for chunk in chunks for i in range(chunk.start, chunk.stop)] == list(range(batch))
    assert all(0 < chunk.stop - chunk.start <= step for chunk in chunks)
    if len(chunks) > 2:
        assert chunks[0].stop - chunks[0].start == chunks[-1].stop - chunks[-1].start == max(1, step // 2)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_spec9_5_fast_mask_path_empty_batch(dtype):
    encoder = SAMPromptEncoder(**CONFIG, params=init_params(64, 8, seed=8), dtype=dtype)
    dense = encoder(masks=np.zeros((0, 1, 24, 16)))["prompt_dense_embeddings"]
    assert dense.shape == (0, 64, 6, 4) and dense.dtype == np.dtype(dtype)


def test_spec9_1_window_order_is_the_index_formula():
    """window_order: out[di1, dj1, di2, dj2, n, i, j] = masks[n, 4i + 2di2 + di1, 4j + 2dj2 + dj1]."""
    masks = np.arange(2 * 8 * 12, dtype=np.float64).reshape(2, 8, 12)
    out = np.empty((2, 2, 2, 2, 2, 2, 3))
    fast_mask.window_order(masks, out)
    for index in np.ndindex(out.shape):
        di1, dj1, di2, dj2, n, i, j = index
        assert out[index] == masks[n, 4 * i + 2 * di2 + di1, 4 * j + 2 * dj2 + dj1]


def test_spec9_2_fast_mask_path_one_channel_gives_exactly_beta(monkeypatch):
    """mask_in_channels 4: the first LayerNorm has one channel, so its output is exactly beta."""
    params = init_params(8, 4, seed=2)
    params["mask_downscaling.1.bias"] = np.array([0.75])
    mask = np.random.default_rng(3).normal(0, 4, (2, 16, 16))
    seen = []
    real = fast_mask.activate_in_place
    monkeypatch.setattr(fast_mask, "activate_in_place", lambda x, act: seen.append(x.copy()) or real(x, act))
    fast = fast_downscale(mask, params, gelu_from_upper_tail)
    assert np.all(seen[0] == 0.75)
    assert max_abs(fast, downscale_mask_literal(mask, params, gelu, np)) <= EXACT


def test_spec9_2_float32_mask_path_rounds_as_the_spec_orders_layer_norm():
    """The tolerance model's faithful float32 run is this code: on a near-constant mask (a large
    common mode before LayerNorm) its float32 error is that of the spec's order of operations,
    conv then centring, as the teaching composition's, not that of a more accurate rearrangement."""
    params = init_params(32, 16, seed=5)
    mask = 1e-3 * np.random.default_rng(5).standard_normal((1, 32, 24))
    truth = downscale_mask_literal(mask, params, gelu, np)
    p32 = {k: v.astype(np.float32) for k, v in params.items()}
    fast = fast_downscale(mask.astype(np.float32), p32, gelu_from_upper_tail)
    teaching = downscale_mask(mask.astype(np.float32), p32, gelu_from_upper_tail, np)
    assert 0.5 <= max_abs(fast, truth) / max_abs(teaching, truth) <= 2.0


def test_spec9_2_fast_mask_path_rescales_where_squares_overflow():
    """normalise_in_place: values whose centred squares overflow float32 take the rescaled form."""
    x = np.array([[3e20, -1e20], [-3e20, 1e20]], dtype=np.float32) + np.float32(1e20)
    expected = layer_norm_channels_first(x[None], np.ones(2, np.float32), np.zeros(2, np.float32), 1e-6, np)[0]
    fast_mask.normalise_in_place(x, np.ones(2, np.float32), np.zeros(2, np.float32), 1e-6)
    assert np.all(np.isfinite(x)) and max_abs(x, expected) <= 1e-6
    assert max_abs(np.abs(x), np.ones((2, 2))) <= 1e-6


def test_spec9_5_downscale_mask_float32_is_faithful():
    params = init_params(256, 16, seed=0)
    mask = np.random.default_rng(0).normal(0, 4, (2, 64, 64))
    act = get_activation("gelu")
    truth = downscale_mask_literal(mask, params, act, np)
    p32 = {k: v.astype(np.float32) for k, v in params.items()}
    fast = downscale_mask(mask.astype(np.float32), p32, act, np)
    literal = downscale_mask_literal(mask.astype(np.float32), p32, act, np)
    assert fast.dtype == np.float32
    assert max_abs(fast, truth) <= 2 * max_abs(literal, truth) + 1e-7


# -- §11: the whole encoder, fast paths on and off ------------------------------------------------

CONFIG = dict(hidden_size=64, image_embedding_size=(6, 4), input_image_size=(96, 64), mask_in_channels=8)


def prompts(rng, profile):
    if profile == "sam":
        yield {"points": rng.uniform(-5, 100, (3, 5, 2)), "labels": rng.integers(-1, 4, (3, 5))}
        yield {
            "points": rng.uniform(0, 60, (2, 3, 2)),
            "labels": rng.integers(-1, 4, (2, 3)),
            "boxes": np.array([[1.0, 2.0, 50.0, 40.0], [10.0, 0.0, 63.0, 95.0]]),
            "masks": rng.normal(0, 3, (2, 1, 24, 16)),
        }
        yield {"boxes": np.array([[1.0, 2.0, 50.0, 40.0]])}
        yield {"masks": rng.normal(0, 3, (4, 1, 24, 16))}
        yield {}
    else:
        yield {
            "points": rng.uniform(-5, 100, (2, 4, 2)),
            "labels": rng.integers(-1, 4, (2, 4)),
            "boxes": rng.uniform(0, 60, (2, 3, 2, 2)),
            "masks": rng.normal(0, 3, (2, 2, 24, 16, 1)),
        }
        yield {"boxes": rng.uniform(0, 60, (2, 0, 2, 2))}
        yield {
            "points": rng.uniform(-5, 100, (1, 0, 2)),
            "labels": np.zeros((1, 0), dtype=np.int64),
            "boxes": rng.uniform(0, 60, (1, 2, 2, 2)),
        }


def assert_compositions_equal(fast, teaching, inputs, where):
    """The fast compositions (``fast(...)``) equal the teaching composition to 1e-12 of each output's scale."""
    got, expected = fast(**inputs), teaching(**inputs)
    assert list(got) == list(expected), where
    for key in expected:
        assert np.shape(got[key]) == np.shape(expected[key]), f"{where} {key}"
        scale = max(1.0, float(np.max(np.abs(expected[key]))) if np.size(expected[key]) else 1.0)
        error = max_abs(got[key], expected[key])
        assert error <= EXACT * scale, f"{where} {key}: fast composition differs from the teaching one by {error:.3g}"


@pytest.mark.parametrize("profile", ["sam", "keras_hub", "sam2", "hf_sam2"])
def test_spec11_fast_compositions_equal_the_teaching_composition(profile):
    """reference/fast.py: each part's fast form equals SAMPromptEncoder.compose (fast=False), float64."""
    params = init_params(64, 8, seed=8)
    fast = SAMPromptEncoder(**CONFIG, params=params, profile=profile)
    teaching = SAMPromptEncoder(**CONFIG, params=params, profile=profile, fast=False)
    assert all(isinstance(getattr(fast._parts, part), functools.partial) for part in PART_STAGES)
    assert all(not isinstance(getattr(teaching._parts, part), functools.partial) for part in PART_STAGES)
    for inputs in prompts(np.random.default_rng(1), "keras_hub" if profile == "keras_hub" else "sam"):
        assert_compositions_equal(fast, teaching, inputs, f"{profile} {sorted(inputs)}")


def fixture_cases():
    from samspec.conformance.cases.store import load_cases

    return [pytest.param(case, id=case.id) for case in load_cases()]


@pytest.mark.parametrize("case", fixture_cases())
def test_spec11_fast_compositions_equal_the_teaching_composition_on_every_fixture_case(case):
    """reference/fast.py against the teaching composition on every golden case, float64, 1e-12 of scale."""
    assert case.fixture_error is None, case.fixture_error
    config = dict(case.config, profile=case.semantics)
    fast = SAMPromptEncoder(**config, params=case.params)
    teaching = SAMPromptEncoder(**config, params=case.params, fast=False)
    assert_compositions_equal(fast, teaching, case.inputs, case.id)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_spec11_fast_compositions_equal_the_teaching_composition_on_generated_prompts(data):
    """reference/fast.py against the teaching composition on hypothesis prompts (every profile, labels
    of the profile's rule), float64, 1e-12 of scale."""
    from samspec.conformance.properties import strategies as sst
    from samspec.reference import PROFILES

    profile = data.draw(st.sampled_from(["sam", "sam2", "hf_sam2"]), label="profile")
    config = data.draw(sst.configs(), label="config")
    params = data.draw(sst.params(config), label="params")
    prompt = data.draw(sst.prompts(config, label_values=PROFILES[profile].labels.allowed), label="prompt")
    config = dict(config, profile=profile)
    fast = SAMPromptEncoder(**config, params=params)
    teaching = SAMPromptEncoder(**config, params=params, fast=False)
    assert_compositions_equal(fast, teaching, prompt, f"{profile} {config}")


@pytest.mark.parametrize("replaced", sorted(STAGES))
def test_spec11_a_replaced_stage_sends_only_its_parts_to_the_teaching_composition(replaced):
    """fast.choose: a part keeps its fast form unless one of its stages is replaced; the replaced stage is called."""
    calls = []

    def spy(*args, **kwargs):
        calls.append(replaced)
        return STAGES[replaced](*args, **kwargs)

    encoder = SAMPromptEncoder(**CONFIG, params=init_params(64, 8, seed=8), stages={replaced: spy})
    for part, stages in PART_STAGES.items():
        assert isinstance(getattr(encoder._parts, part), functools.partial) == (replaced not in stages), part
    rng = np.random.default_rng(5)
    inputs = {
        "points": rng.uniform(0, 60, (2, 3, 2)),
        "labels": rng.integers(-1, 4, (2, 3)),
        "masks": rng.normal(0, 3, (2, 1, 24, 16)),
    }
    inputs_with_box = dict(inputs, boxes=np.array([[1.0, 2.0, 50.0, 40.0], [10.0, 0.0, 63.0, 95.0]]))
    encoder(**inputs)
    encoder(**inputs_with_box)
    encoder()
    if replaced != "append_box_not_a_point":  # called only under profiles with §6.3
        assert calls, f"stages={{{replaced!r}: ...}} was never called"


def test_spec11_4_trace_is_the_teaching_composition():
    """trace() records the teaching composition: its outputs equal compose(fast=False)'s exactly."""
    params = init_params(64, 8, seed=8)
    encoder = SAMPromptEncoder(**CONFIG, params=params)
    teaching = SAMPromptEncoder(**CONFIG, params=params, fast=False)
    for inputs in prompts(np.random.default_rng(1), "sam"):
        traced, called = encoder.trace(**inputs), teaching(**inputs)
        for key in called:
            assert np.array_equal(traced[key], called[key]), key


def test_spec11_3_float32_has_no_float64_intermediates():
    params = init_params(64, 8, seed=8)
    for profile in ("sam", "keras_hub"):
        encoder = SAMPromptEncoder(**CONFIG, params=params, profile=profile, dtype="float32")
        for inputs in prompts(np.random.default_rng(2), profile):
            for key, value in encoder.trace(**inputs).items():
                value = np.asarray(value)
                assert value.dtype in (np.float32, np.int64), f"{profile} {key}: {value.dtype}"


# -- §1.3: the fast paths stay on the device -------------------------------------------------------


def test_spec1_3_fast_paths_never_read_an_array_back_to_the_host(monkeypatch):
    """No float(), int(), bool() or index use of an array inside the stage functions of the hot path
    (each is a device-to-host round trip under CuPy). Input validation is outside the hot path."""
    xps = require("array_api_strict")
    from array_api_strict._array_object import Array

    params = init_params(64, 8, seed=8)
    encoder = SAMPromptEncoder(**CONFIG, params=params, xp=xps)
    rng = np.random.default_rng(3)
    raw = {
        "points": rng.uniform(0, 60, (2, 3, 2)),
        "labels": rng.integers(-1, 4, (2, 3)),
        "boxes": np.array([[1.0, 2.0, 50.0, 40.0], [10.0, 0.0, 63.0, 95.0]]),
        "masks": rng.normal(0, 3, (2, 1, 24, 16)),
    }
    inputs = {k: xps.asarray(v) for k, v in raw.items()}
    prepared = encoder._prepare_inputs(inputs["points"], inputs["labels"], inputs["boxes"], inputs["masks"])

    def refuse(self, *args):
        raise AssertionError("an array was converted to a Python scalar on the hot path")

    for method in ("__bool__", "__float__", "__int__", "__index__", "__complex__"):
        monkeypatch.setattr(Array, method, refuse)
    monkeypatch.setattr(encoder, "_prepare_inputs", lambda *args: prepared)
    outputs = encoder()  # the fast compositions (reference/fast.py); trace() and the stage functions validate
    assert all(type(v).__module__.startswith("array_api_strict") for v in outputs.values())


def test_spec1_3_cupy_runs_end_to_end():
    cupy = require_cupy_gpu()
    params = init_params(64, 8, seed=8)
    for profile in ("sam", "keras_hub"):
        expected_encoder = SAMPromptEncoder(**CONFIG, params=params, profile=profile)
        encoder = SAMPromptEncoder(**CONFIG, params=params, profile=profile, xp=cupy)
        for inputs in prompts(np.random.default_rng(4), profile):
            expected = expected_encoder(**inputs)
            got = encoder(**{k: cupy.asarray(v) for k, v in inputs.items()})
            for key in expected:
                assert isinstance(got[key], cupy.ndarray), f"{key} left the GPU"
                assert max_abs(cupy.asnumpy(got[key]), expected[key]) <= EXACT, key


# -- §9.5 on two cores (reference/fast.py: two_lanes, chunk_map) ----------------------------------


def test_spec9_5_two_lanes_equal_one_after_the_other(monkeypatch):
    """fast.dense_embedding: features on this thread and products on the worker give exactly the
    result of running the chunks one after the other, and the BLAS thread setting is restored."""
    from threadpoolctl import threadpool_info

    from samspec.reference import fast

    monkeypatch.setattr(fast, "usable_cores", lambda: 2)  # the two lanes even on a one-core runner
    monkeypatch.setattr(fast_mask, "CHUNK_BYTES", 1)  # an image per chunk: five chunks
    params = init_params(64, 8, seed=8)
    encoder = SAMPromptEncoder(**CONFIG, params=params)
    mask = np.random.default_rng(9).normal(0, 3, (5, 24, 16))
    before = [(lib["filepath"], lib["num_threads"]) for lib in threadpool_info()]
    threaded = fast.dense_embedding(encoder, mask, 5)
    assert [(lib["filepath"], lib["num_threads"]) for lib in threadpool_info()] == before
    assert np.array_equal(threaded, fast_downscale(mask, encoder.params, encoder._fast_activation))


def test_spec9_5_two_lanes_raise_the_workers_error_after_every_chunk_stopped(monkeypatch):
    from samspec.reference import fast

    monkeypatch.setattr(fast, "usable_cores", lambda: 2)
    done = []

    def project(item, features):
        if item == 1:
            raise RuntimeError("product failed")
        done.append(item)

    with pytest.raises(RuntimeError, match="product failed"):
        fast.two_lanes(lambda start: start, lambda prepared: prepared, project, range(3))
    assert sorted(done) == [0, 2]  # the other chunks' products finished before it raised


def test_spec8_sweep_chunks_on_threads_equal_one_after_the_other(monkeypatch):
    """fast.chunk_map (W4's sweep): a pool of one thread per core, or ``map`` on one core."""
    from samspec.reference import fast

    monkeypatch.setattr(fast, "usable_cores", lambda: 2)
    assert fast.chunk_map(np, 5) is not map and fast.chunk_map(np, 1) is map
    assert list(fast.chunk_map(np, 5)(lambda v: v * v, range(5))) == [0, 1, 4, 9, 16]


def test_spec9_5_thread_pool_is_remade_in_a_forked_child():
    """The worker threads after os.fork (the check's worker processes): the child makes its own
    instead of waiting forever on the parent's."""
    import os

    encoder = SAMPromptEncoder(**CONFIG, params=init_params(64, 8, seed=8))
    mask = np.random.default_rng(9).normal(0, 3, (4, 1, 24, 16))
    expected = encoder(masks=mask)["prompt_dense_embeddings"]  # the parent's pool exists now
    pid = os.fork()
    if pid == 0:  # the child: exit 0 only when the result is right
        ok = False
        try:
            ok = np.array_equal(encoder(masks=mask)["prompt_dense_embeddings"], expected)
        finally:
            os._exit(0 if ok else 1)
    import time

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            assert os.waitstatus_to_exitcode(status) == 0
            return
        time.sleep(0.05)
    os.kill(pid, 9)
    raise AssertionError("the forked child hung on the parent's thread pool")


def test_spec11_every_fast_module_says_why_it_equals_its_definition_and_is_tested_here():
    """reference/fast/ (docs/performance.md): each module of a rearrangement says why it equals the
    definition and is imported by this file, whose tests compare it with that definition."""
    import importlib
    import pkgutil
    import re
    from pathlib import Path

    from samspec.reference import fast

    here = Path(__file__).read_text(encoding="utf-8")
    modules = [info.name for info in pkgutil.iter_modules(fast.__path__)]
    assert modules, "reference/fast/ has no modules"
    for name in modules:
        text = importlib.import_module(f"samspec.reference.fast.{name}").__doc__ or ""
        source = Path(fast.__path__[0], f"{name}.py").read_text(encoding="utf-8")
        assert re.search(r"[Ww]hy this equals", source), f"reference/fast/{name}.py never says why it equals"
        assert f"samspec.reference.fast.{name} import" in here or f"import {name}" in here, (
            f"reference/fast/{name}.py is not imported by tests/test_fast_paths.py ({text[:60]!r})"
        )
