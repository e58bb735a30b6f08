"""Spec §13: every bad input is refused with a clear error that names the argument and says what
was received; valid inputs are never modified in place."""

import re

import numpy as np
import pytest

from samspec.reference import SAMPromptEncoder, init_params

# Small configuration: C = 8, embedding grid 4 x 4 (masks 16 x 16), Cm = 4.
SMALL = dict(hidden_size=8, image_embedding_size=(4, 4), input_image_size=(16, 16), mask_in_channels=4)

P1 = np.zeros((1, 2, 2))  # one image, two points
L1 = np.array([[1, 0]])
BOX1 = np.array([[0.0, 0.0, 4.0, 4.0]])
MASK1 = np.zeros((1, 1, 16, 16))


def params_with(change):
    params = init_params(8, 4, seed=0)
    change(params)
    return params


def _drop(params):
    del params["point_embeddings.1.weight"]


def _extra(params):
    params["point_embeddings.4.weight"] = np.zeros((1, 8))


def _reshape(params):
    params["no_mask_embed.weight"] = np.zeros((8,))


def _nan(params):
    params["mask_downscaling.3.bias"][2] = np.nan


def _int_dtype(params):
    params["not_a_point_embed.weight"] = np.zeros((1, 8), dtype=np.int64)


def _overflow(params):
    params["point_embeddings.0.weight"][0, 0] = 1e6  # finite in float64, inf in float16


def _big_gaussian(params):
    params["pe_layer.positional_encoding_gaussian_matrix"][:, 0] = 6000.0  # 2 pi * 12000 > 65504


def with_nan(array, index):
    array = np.array(array, dtype=np.float64)
    array[index] = np.nan
    return array


def with_inf(array, index):
    array = np.array(array, dtype=np.float64)
    array[index] = np.inf
    return array


# (id, constructor overrides, call arguments or None for a constructor error,
#  exception type, pattern naming the argument, pattern for what was received)
CASES = [
    # -- points and labels ------------------------------------------------------------------
    (
        "points_rank_2",
        {},
        dict(points=np.zeros((2, 2)), labels=L1),
        ValueError,
        r"^points:",
        r"received shape \(2, 2\)",
    ),
    (
        "points_last_dim_3",
        {},
        dict(points=np.zeros((1, 2, 3)), labels=L1),
        ValueError,
        r"^points:",
        r"received shape \(1, 2, 3\)",
    ),
    (
        "labels_shape_mismatch",
        {},
        dict(points=P1, labels=np.array([[1, 0, 1]])),
        ValueError,
        r"^labels:",
        r"received shape \(1, 3\)",
    ),
    ("labels_float_dtype", {}, dict(points=P1, labels=np.array([[1.0, 0.0]])), TypeError, r"^labels:", r"float64"),
    ("labels_bool_dtype", {}, dict(points=P1, labels=np.array([[True, False]])), TypeError, r"^labels:", r"bool"),
    ("labels_unknown_7", {}, dict(points=P1, labels=np.array([[1, 7]])), ValueError, r"^labels:", r"\[7\]"),
    ("labels_minus_2", {}, dict(points=P1, labels=np.array([[-2, 0]])), ValueError, r"^labels:", r"\[-2\]"),
    (
        "labels_4_keras_hub",
        {"profile": "keras_hub"},
        dict(points=P1, labels=np.array([[4, 0]])),
        ValueError,
        r"^labels:.*keras_hub",
        r"\[4\]",
    ),
    ("points_nan", {}, dict(points=with_nan(P1, (0, 1, 0)), labels=L1), ValueError, r"^points:", r"1 NaN or inf"),
    ("points_inf", {}, dict(points=with_inf(P1, (0, 0, 1)), labels=L1), ValueError, r"^points:", r"1 NaN or inf"),
    ("points_bool", {}, dict(points=np.zeros((1, 2, 2), dtype=bool), labels=L1), TypeError, r"^points:", r"dtype bool"),
    (
        "points_complex",
        {},
        dict(points=np.zeros((1, 2, 2), dtype=complex), labels=L1),
        TypeError,
        r"^points:",
        r"complex",
    ),
    ("points_strings", {}, dict(points=[[["a", "b"]]], labels=[[1]]), TypeError, r"^points:", r"<U1"),
    ("points_without_labels", {}, dict(points=P1), ValueError, r"^labels:", r"received points alone"),
    ("labels_without_points", {}, dict(labels=L1), ValueError, r"^points:", r"received labels alone"),
    # -- boxes --------------------------------------------------------------------------------
    ("boxes_nan", {}, dict(boxes=with_nan(BOX1, (0, 2))), ValueError, r"^boxes:", r"1 NaN or inf"),
    (
        "boxes_corners_under_sam",
        {},
        dict(boxes=np.zeros((1, 2, 2))),
        ValueError,
        r"^boxes:",
        r"received shape \(1, 2, 2\)",
    ),
    (
        "boxes_several_not_xyxy",
        {},
        dict(boxes=np.zeros((1, 2, 5))),
        ValueError,
        r"^boxes:.*\(\*, 4\) or \(\*, \*, 4\)",
        r"received shape \(1, 2, 5\)",
    ),
    (
        "boxes_xyxy_under_keras_hub",
        {"profile": "keras_hub"},
        dict(boxes=BOX1),
        ValueError,
        r"^boxes:",
        r"received shape \(1, 4\)",
    ),
    # -- masks --------------------------------------------------------------------------------
    (
        "masks_1024_for_64x64",
        {
            "hidden_size": 256,
            "mask_in_channels": 16,
            "image_embedding_size": (64, 64),
            "input_image_size": (1024, 1024),
        },
        dict(masks=np.zeros((1, 1, 1024, 1024))),
        ValueError,
        r"^masks:.*\(\*, 1, 256, 256\)",
        r"received shape \(1, 1, 1024, 1024\)",
    ),
    (
        "masks_two_channels",
        {},
        dict(masks=np.zeros((1, 2, 16, 16))),
        ValueError,
        r"^masks:",
        r"received shape \(1, 2, 16, 16\)",
    ),
    ("masks_rank_3", {}, dict(masks=np.zeros((1, 16, 16))), ValueError, r"^masks:", r"received shape \(1, 16, 16\)"),
    ("masks_nan", {}, dict(masks=with_nan(MASK1, (0, 0, 3, 5))), ValueError, r"^masks:", r"1 NaN or inf"),
    (
        "masks_keras_hub_no_trailing_1",
        {"profile": "keras_hub"},
        dict(masks=np.zeros((1, 1, 16, 16))),
        ValueError,
        r"^masks:",
        r"received shape \(1, 1, 16, 16\)",
    ),
    # -- batch sizes --------------------------------------------------------------------------
    (
        "batch_points_vs_boxes",
        {},
        dict(points=np.zeros((2, 1, 2)), labels=np.ones((2, 1), dtype=int), boxes=np.zeros((3, 4))),
        ValueError,
        r"^batch size:",
        r"points has 2, boxes has 3",
    ),
    (
        "batch_points_vs_masks",
        {},
        dict(points=P1, labels=L1, masks=np.zeros((2, 1, 16, 16))),
        ValueError,
        r"^batch size:",
        r"points has 1, masks has 2",
    ),
    (
        "keras_hub_no_prompt",
        {"profile": "keras_hub"},
        dict(),
        ValueError,
        r"^points, labels, boxes, masks:.*keras_hub",
        r"received none",
    ),
    # -- configuration ------------------------------------------------------------------------
    ("hidden_size_odd", {"hidden_size": 7}, None, ValueError, r"^hidden_size:", r"received 7"),
    ("hidden_size_float", {"hidden_size": 8.0}, None, TypeError, r"^hidden_size:", r"received 8\.0"),
    ("mask_in_channels_6", {"mask_in_channels": 6}, None, ValueError, r"^mask_in_channels:", r"received 6"),
    ("profile_unknown", {"profile": "tensorflow"}, None, ValueError, r"^profile:", r"received 'tensorflow'"),
    ("dtype_bfloat16", {"dtype": "bfloat16"}, None, ValueError, r"^dtype:", r"received 'bfloat16'"),
    ("activation_unknown", {"activation": "gelu2"}, None, ValueError, r"^activation:", r"received 'gelu2'"),
    (
        "image_embedding_size_not_pair",
        {"image_embedding_size": (4,)},
        None,
        ValueError,
        r"^image_embedding_size:",
        r"received \(4,\)",
    ),
    (
        "input_image_size_zero",
        {"input_image_size": (0, 16)},
        None,
        ValueError,
        r"^input_image_size:",
        r"received \(0, 16\)",
    ),
    (
        "layer_norm_eps_zero",
        {"layer_norm_eps": 0.0},
        None,
        ValueError,
        r"^layer_norm_eps:.*finite number > 0",
        r"received 0\.0",
    ),
    ("layer_norm_eps_negative", {"layer_norm_eps": -1e-6}, None, ValueError, r"^layer_norm_eps:", r"received -1e-06"),
    ("layer_norm_eps_nan", {"layer_norm_eps": float("nan")}, None, ValueError, r"^layer_norm_eps:", r"received nan"),
    ("layer_norm_eps_inf", {"layer_norm_eps": float("inf")}, None, ValueError, r"^layer_norm_eps:", r"received inf"),
    ("layer_norm_eps_string", {"layer_norm_eps": "1e-6"}, None, TypeError, r"^layer_norm_eps:", r"str '1e-6'"),
    ("layer_norm_eps_bool", {"layer_norm_eps": True}, None, TypeError, r"^layer_norm_eps:", r"bool True"),
    (
        "stages_not_callable",
        {"stages": {"sinusoids": 3}},
        None,
        TypeError,
        r"^stages\['sinusoids'\]:",
        r"received int 3",
    ),
    ("stages_not_a_dict", {"stages": ["sinusoids"]}, None, TypeError, r"^stages: expected a dict", r"received list"),
    ("fast_not_bool", {"fast": "yes"}, None, TypeError, r"^fast: expected True or False", r"received 'yes'"),
    (
        "stages_none_value",
        {"stages": {"downscale_mask": None}},
        None,
        TypeError,
        r"^stages\['downscale_mask'\]:",
        r"NoneType",
    ),
    (
        "float16_input_image_size_70000",
        {"dtype": "float16", "input_image_size": (70000, 70000)},
        None,
        ValueError,
        r"^input_image_size:.*float16",
        r"received \(70000, 70000\)",
    ),
    (
        "float16_image_embedding_size_70000",
        {"dtype": "float16", "image_embedding_size": (70000, 1)},
        None,
        ValueError,
        r"^image_embedding_size:.*float16",
        r"received \(70000, 1\)",
    ),
    (
        "float16_gaussian_overflows_fourier_argument",
        {"dtype": "float16", "params": params_with(_big_gaussian)},
        None,
        ValueError,
        r"^params\['pe_layer\.positional_encoding_gaussian_matrix'\]:.*float16",
        r"received a bound of",
    ),
    # -- parameters ---------------------------------------------------------------------------
    (
        "params_missing_key",
        {"params": params_with(_drop)},
        None,
        ValueError,
        r"^params:",
        r"missing keys \['point_embeddings\.1\.weight'\]",
    ),
    (
        "params_extra_key",
        {"params": params_with(_extra)},
        None,
        ValueError,
        r"^params:",
        r"unexpected keys \['point_embeddings\.4\.weight'\]",
    ),
    (
        "params_wrong_shape",
        {"params": params_with(_reshape)},
        None,
        ValueError,
        r"^params\['no_mask_embed\.weight'\]:",
        r"received \(8,\)",
    ),
    (
        "params_nan",
        {"params": params_with(_nan)},
        None,
        ValueError,
        r"^params\['mask_downscaling\.3\.bias'\]:",
        r"1 NaN or inf",
    ),
    (
        "params_int_dtype",
        {"params": params_with(_int_dtype)},
        None,
        TypeError,
        r"^params\['not_a_point_embed\.weight'\]:",
        r"int64",
    ),
    (
        "params_overflow_float16",
        {"params": params_with(_overflow), "dtype": "float16"},
        None,
        ValueError,
        r"^params\['point_embeddings\.0\.weight'\]:",
        r"1 NaN or inf",
    ),
    ("params_not_a_dict", {"params": [1, 2]}, None, TypeError, r"^params:", r"list"),
]


@pytest.mark.parametrize(
    "ctor, call, exc_type, names_argument, says_received",
    [
        pytest.param(
            *case[1:],
            id=f"spec13-{case[0]}",
            # the float16 cast of 1e6 is the very overflow under test
            marks=[pytest.mark.filterwarnings("ignore:overflow encountered in cast:RuntimeWarning")],
        )
        for case in CASES
    ],
)
def test_spec13_bad_input_is_refused(ctor, call, exc_type, names_argument, says_received):
    """§13 errors: the right exception type, the argument named first, and what was received."""
    kwargs = {**SMALL, **ctor}
    if call is None:
        with pytest.raises(exc_type) as info:
            SAMPromptEncoder(**kwargs)
    else:
        enc = SAMPromptEncoder(**kwargs)
        with pytest.raises(exc_type) as info:
            enc(**call)
    message = str(info.value)
    assert type(info.value) is exc_type
    assert re.search(names_argument, message), f"argument not named: {message!r}"
    assert re.search(says_received, message), f"received value not described: {message!r}"


def test_spec13_enough_distinct_cases():
    """§13: the table above covers at least 22 distinct bad inputs."""
    assert len({case[0] for case in CASES}) == len(CASES) >= 22


def test_spec13_errors_raised_by_trace_too():
    """§13: enc.trace validates exactly like __call__."""
    enc = SAMPromptEncoder(**SMALL)
    with pytest.raises(ValueError, match=r"^labels:.*\[7\]"):
        enc.trace(P1, np.array([[1, 7]]))


@pytest.mark.parametrize("profile", ["sam", "keras_hub"])
def test_spec13_unsigned_labels_accepted_or_refused_clearly(profile):
    """§13: labels of an unsigned integer dtype are either encoded like int64 labels or refused with
    an error naming labels; never a raw NumPy OverflowError from inside the algorithm."""
    enc = SAMPromptEncoder(**SMALL, profile=profile)
    labels = np.array([[1, 0]], dtype=np.uint8)
    try:
        out = enc(P1, labels)
    except (TypeError, ValueError) as exc:
        assert str(exc).startswith("labels:")
        return
    expected = enc(P1, labels.astype(np.int64))
    assert np.array_equal(out["prompt_sparse_embeddings"], expected["prompt_sparse_embeddings"])


# -- inputs are never modified ------------------------------------------------------------------

RNG = np.random.default_rng(0)
VALID_CALLS = [
    pytest.param(
        "sam", dict(points=RNG.uniform(0, 16, (2, 3, 2)), labels=np.array([[1, 0, 2], [3, 1, -1]])), id="sam-points"
    ),
    pytest.param(
        "sam",
        dict(
            points=RNG.uniform(0, 16, (1, 2, 2)),
            labels=np.array([[1, 0]], dtype=np.int32),
            boxes=np.array([[1.0, 2.0, 9.0, 7.0]]),
        ),
        id="sam-points-boxes",
    ),
    pytest.param(
        "sam",
        dict(
            points=RNG.uniform(0, 16, (1, 1, 2)).astype(np.float32),
            labels=np.array([[0]]),
            masks=RNG.standard_normal((1, 1, 16, 16)),
        ),
        id="sam-points-masks",
    ),
    pytest.param("sam", dict(points=np.array([[[3, 4]]], dtype=np.int64), labels=np.array([[1]])), id="sam-int-points"),
    pytest.param(
        "keras_hub",
        dict(
            points=RNG.uniform(0, 16, (2, 2, 2)),
            labels=np.array([[1, 0], [2, -1]]),
            boxes=RNG.uniform(0, 16, (2, 3, 2, 2)),
            masks=RNG.standard_normal((2, 2, 16, 16, 1)),
        ),
        id="keras_hub-all",
    ),
]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("profile, call", VALID_CALLS)
def test_spec13_inputs_not_mutated(profile, call, dtype):
    """§13: valid calls leave every input array unchanged (values, shape, dtype), labels included after padding."""
    copies = {name: value.copy() for name, value in call.items()}
    params = init_params(8, 4, seed=1)
    params_copy = {name: value.copy() for name, value in params.items()}
    enc = SAMPromptEncoder(**SMALL, profile=profile, dtype=dtype, params=params)
    enc(**call)
    enc.trace(**call)
    for name, value in call.items():
        assert value.shape == copies[name].shape, name
        assert value.dtype == copies[name].dtype, name
        assert np.array_equal(value, copies[name]), name
    for name, value in params.items():
        assert np.array_equal(value, params_copy[name]), name


def test_spec13_labels_unchanged_after_padding():
    """§5.1 + §13: padding builds new arrays; the caller's labels keep shape (B, N) and their values."""
    enc = SAMPromptEncoder(**SMALL)
    labels = np.array([[1, 0]])
    trace = enc.trace(P1, labels)
    assert trace["points.labels"].shape == (1, 3)
    assert labels.shape == (1, 2)
    assert np.array_equal(labels, [[1, 0]])


@pytest.mark.parametrize(
    "dtype, kwargs, name",
    [
        ("float32", dict(points=np.array([[[1e300, 1.0]]]), labels=np.array([[1]])), "points"),
        ("float16", dict(points=np.array([[[70000.0, 1.0]]]), labels=np.array([[1]])), "points"),
        ("float16", dict(boxes=np.array([[0.0, 0.0, 1e6, 1.0]])), "boxes"),
        ("float32", dict(masks=np.full((1, 1, 16, 16), 1e300)), "masks"),
    ],
)
def test_spec13_values_overflowing_the_compute_dtype_are_refused(dtype, kwargs, name):
    """§13: a finite input that becomes inf in the compute dtype is refused, never turned into NaN outputs."""
    enc = SAMPromptEncoder(
        hidden_size=8, image_embedding_size=(4, 4), input_image_size=(64, 64), mask_in_channels=4, dtype=dtype
    )
    with pytest.raises(ValueError, match=rf"^{name}: expected values representable in {dtype}.*received values up to"):
        enc(**kwargs)


@pytest.mark.parametrize(
    "dtype, size, kwargs, name, received",
    [
        # issue 22: a float32 point at 3.4e38 with a small image: 2u - 1 fits, the argument does not
        (
            "float32",
            (8, 8),
            dict(points=np.array([[[3.4e38, 1.0]]], np.float32), labels=np.array([[1]])),
            "points",
            "3.4e+38",
        ),
        # issue 22: a float64 point at 1e308 with input_image_size=(1, 1): 2u itself overflows
        ("float64", (1, 1), dict(points=np.array([[[1.0, 1e308]]]), labels=np.array([[0]])), "points", "1e+308"),
        # a not-a-point label discards the PE, but 0 * NaN is NaN: refused too
        ("float64", (1, 1), dict(points=np.array([[[-1e308, 1.0]]]), labels=np.array([[-1]])), "points", "1e+308"),
        ("float16", (1, 1), dict(boxes=np.array([[0.0, 0.0, 60000.0, 1.0]])), "boxes", "60000"),
    ],
)
@pytest.mark.parametrize("call", ["__call__", "trace"])
def test_spec4_1_non_finite_fourier_argument_is_refused(dtype, size, kwargs, name, received, call):
    """§4.1, §13 (issue 22): a point or corner whose Fourier argument would overflow the compute
    dtype is refused with the argument's name, what was expected and what was received, never NaN."""
    enc = SAMPromptEncoder(
        hidden_size=8, image_embedding_size=(4, 4), input_image_size=size, mask_in_channels=4, dtype=dtype
    )
    pattern = rf"^{name}: expected pixel coordinates whose §4\.1 Fourier argument .* is finite in {dtype} "
    with pytest.raises(ValueError, match=pattern) as raised:
        getattr(enc, call)(**kwargs)
    assert f"input_image_size {size}" in str(raised.value)
    assert f"received values up to {received}" in str(raised.value)


@pytest.mark.parametrize("dtype, size, value", [("float32", (8, 8), 1e36), ("float64", (1, 1), 1e306)])
def test_spec4_1_large_coordinates_within_the_bound_give_finite_outputs(dtype, size, value):
    """§4.1, §13: coordinates far outside the image whose argument is still finite are accepted,
    and every output is finite (the refusal is exactly where NaN would start, not earlier)."""
    enc = SAMPromptEncoder(
        hidden_size=8, image_embedding_size=(4, 4), input_image_size=size, mask_in_channels=4, dtype=dtype
    )
    for route in (enc, enc.trace):
        outputs = route(points=np.array([[[value, -value]]], dtype), labels=np.array([[1]]))
        assert all(np.all(np.isfinite(np.asarray(v))) for v in outputs.values())


def test_spec4_1_fourier_bound_is_per_axis_not_the_largest_coordinate():
    """§4.1, §13: the refusal uses each axis's own frequencies: a huge x is accepted where G's x row
    is tiny (the argument stays finite), though the largest coordinate alone would overflow."""
    params = init_params(8, 4, seed=0)
    params["pe_layer.positional_encoding_gaussian_matrix"][0, :] = 1e-300  # x barely matters
    enc = SAMPromptEncoder(hidden_size=8, image_embedding_size=(4, 4), input_image_size=(1, 1), mask_in_channels=4,
                           params=params)  # fmt: skip
    points, labels = np.array([[[5e307, -0.5]]]), np.array([[1]])  # y: 2u - 1 = -1
    outputs = enc(points=points, labels=labels)
    assert all(np.all(np.isfinite(np.asarray(v))) for v in outputs.values())
    with pytest.raises(ValueError, match=r"^points: expected pixel coordinates whose §4\.1 Fourier argument"):
        enc(points=np.array([[[5e307, 5e307]]]), labels=labels)  # now y overflows too


# -- issue 14 item 9: the reference's own arguments -------------------------------------------------


@pytest.mark.parametrize("seed", [None, True, 1.5, "0", -1])
def test_spec2_2_init_params_refuses_a_seed_that_is_not_an_int(seed):
    """§2.2 init_params: seed must be a non-negative int (None would give new parameters on every call)."""
    with pytest.raises(TypeError, match=r"^seed: expected a non-negative int.*received"):
        init_params(8, 4, seed=seed)


def test_spec2_2_init_params_accepts_numpy_integer_seeds():
    """§2.2 init_params: a NumPy integer seed is the same seed as the Python int."""
    assert all(
        np.array_equal(a, b)
        for a, b in zip(init_params(8, 4, seed=np.int64(5)).values(), init_params(8, 4, seed=5).values())
    )


def _label_stage_calls():
    from samspec.reference.fast.label_table import embed_point_labels_by_table as embed_point_labels
    from samspec.reference.semantics import KERAS_HUB_LABELS, SAM_LABELS
    from samspec.reference.sparse import embed_point_labels as embed_point_labels_literal
    from samspec.reference.sparse import label_embedding_table

    params = init_params(8, 4, seed=0)
    table = label_embedding_table(params, np.float64, np)
    calls = []
    for rule_name, rule in (("sam", SAM_LABELS), ("keras_hub", KERAS_HUB_LABELS)):
        for name, stage in (
            ("embed_point_labels", embed_point_labels),
            ("embed_point_labels_literal", embed_point_labels_literal),
        ):
            calls.append(
                pytest.param(
                    lambda labels, s=stage, r=rule: s(np.zeros(labels.shape + (8,)), labels, table, r, np),
                    id=f"{name}-{rule_name}",
                )
            )
    return calls


@pytest.mark.parametrize("bad", [-2, 4, -10, 99])
@pytest.mark.parametrize("call", _label_stage_calls())
def test_spec5_2_stage_functions_refuse_labels_outside_the_rule(call, bad):
    """§5.2 embed_point_labels (fast and literal): a label outside the rule is a
    ValueError naming labels, the allowed values and what was received, never another row's token."""
    with pytest.raises(
        ValueError,
        match=rf"^labels: expected values in \[-1, 0, 1, 2, 3\].*received unknown label value\(s\) \[{bad}\]",
    ):
        call(np.array([[1, bad]]))


MASK_CONFIG = dict(hidden_size=32, image_embedding_size=(4, 4), input_image_size=(64, 64), mask_in_channels=16)


def _unit_masks():
    masks = np.random.default_rng(0).standard_normal((2, 1, 16, 16))
    return masks / np.abs(masks).max()


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
@pytest.mark.parametrize(
    "dtype, factor, tolerance",
    [("float32", 1e20, 1e-6), ("float32", 1e36, 1e-6), ("float16", 300.0, 5e-3), ("float16", 20000.0, 5e-3)],
)
@pytest.mark.parametrize("route", ["call", "trace"])
def test_spec9_2_layer_norm_of_large_finite_masks_does_not_overflow(dtype, factor, tolerance, route):
    """§9.2 layer_norm_channels (trace) and layer_norm_channels_first (call): masks whose §9.1 output
    squared overflows the dtype give the float64 dense output (LayerNorm is scale-invariant), not beta."""
    params = init_params(32, 16, seed=0)
    masks = _unit_masks() * factor
    want = SAMPromptEncoder(**MASK_CONFIG, params=params)(masks=masks)["prompt_dense_embeddings"]
    enc = SAMPromptEncoder(**MASK_CONFIG, params=params, dtype=dtype)
    got = (enc.trace if route == "trace" else enc)(masks=masks)["prompt_dense_embeddings"]
    error = np.abs(got.astype(np.float64) - want).max() / np.abs(want).max()
    assert error <= tolerance, f"§9.2 LayerNorm2d, {dtype} masks x {factor:g}: relative error {error:.3g}"


@pytest.mark.filterwarnings(
    "ignore:overflow encountered:RuntimeWarning", "ignore:invalid value encountered:RuntimeWarning"
)
@pytest.mark.parametrize("dtype, factor", [("float32", 3e38), ("float16", 60000.0)])
@pytest.mark.parametrize("route", ["call", "trace"])
def test_spec9_2_masks_whose_convolution_overflows_are_refused(dtype, factor, route):
    """§9.1–§9.2: a mask whose first convolution overflows the dtype is a ValueError naming masks and the limit."""
    params = init_params(32, 16, seed=0)
    params["mask_downscaling.0.weight"][:] = 10.0
    enc = SAMPromptEncoder(**MASK_CONFIG, params=params, dtype=dtype)
    with pytest.raises(
        ValueError, match=rf"^masks: expected values whose §9.1 convolutions are representable in {dtype}"
    ):
        (enc.trace if route == "trace" else enc)(masks=_unit_masks() * factor)


def test_spec9_2_rescaled_layer_norm_equals_the_definition():
    """§9.2 normalised_without_overflow: equal to (x - mu) / sqrt(var + eps) where the definition does not overflow."""
    from samspec.reference.masks import normalised_without_overflow

    x = np.random.default_rng(1).standard_normal((3, 5, 7, 4)) * np.array([1e-3, 1.0, 50.0, 1e3])[None, None, None, :]
    centred = x - x.mean(axis=-1, keepdims=True)
    want = centred / np.sqrt((centred**2).mean(axis=-1, keepdims=True) + 1e-6)
    np.testing.assert_allclose(normalised_without_overflow(centred, 1e-6, -1, np), want, rtol=1e-13, atol=1e-15)


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
def test_spec9_2_layer_norm_stage_refuses_non_finite_input():
    """§9.2 layer_norm_channels called directly on an overflowed convolution (inf): a ValueError naming masks."""
    from samspec.reference import layer_norm_channels

    x = np.full((1, 2, 2, 4), 1.0, dtype=np.float32)
    x[0, 0, 0, 1] = np.inf
    with pytest.raises(ValueError, match=r"^masks: .*LayerNorm2d \(§9.2\) received non-finite values"):
        layer_norm_channels(x, np.ones(4, np.float32), np.zeros(4, np.float32), 1e-6, np)
