"""The held-out buggy ports and what a right diagnosis says about each (issue 23, the red team).

Each entry is a port written as real port code (NumPy from docs/spec.md, or a subclass or
monkeypatch of Meta's, transformers', sam2's or keras-hub's prompt encoder), with one bug (two for
``two_bugs``), or none (``faithful``: it must pass). For each bug:

- ``sections``: the spec sections a right summary may lead with (its top-level section is
  compared, as in ``selftest.score``); a port with two bugs lists one per bug;
- ``kind``: logic, precision, batching, layout, weight conversion, ordering, off-by-one,
  dtype/cast, broadcasting, wrong default;
- ``precision``: whether the bug genuinely rounds to a lower precision (only there is a precision
  claim, spec §11.3, true);
- ``names``: the catalogue variants whose sentence is true of this port (naming any other is wrong).

Written from docs/spec.md and the ports' own code, not from samspec's variants or diagnosis.
"""

from __future__ import annotations

from .model import HF, KERAS, META, NP, NPF, SAM2, PortBug
from .round2 import ROUND2


def _np(name, cls, sections, kind, what, precision=False, names=(), **kw):
    return PortBug(name, f"{NP}:{cls}", "sam", tuple(sections), kind, precision, tuple(names), what, **kw)


NUMPY = [
    PortBug("numpy_faithful", f"{NPF}:NumpyPort", "sam", what="faithful NumPy port, float32", faithful=True),
    _np("numpy_f64_inside", "NumpyPortFloat64Inside", (), "", "faithful: float64 inside, float32 out", faithful=True),
    _np(
        "np_linspace_complex_faithful",
        "NumpyLinspaceComplexFaithful",
        (),
        "",
        "faithful: grid by linspace, sinusoids by exp(1j A)",
        faithful=True,
    ),
    _np(
        "np_odd_strides_faithful",
        "NumpyOddStridesFaithful",
        (),
        "",
        "faithful: outputs as Fortran-ordered, transposed and broadcast views",
        faithful=True,
    ),
    _np(
        "np_shift_only_integer_inputs",
        "ShiftOnlyIntegerInputs",
        ["§3.1"],
        "logic",
        "adds 0.5 only to integer coordinates",
        names=["no_pixel_shift"],
    ),
    _np(
        "np_shift_typo",
        "ShiftTypo",
        ["§3.1"],
        "logic",
        "shift typed as 0.4999: an error of float16's size, not a precision bug",
    ),
    _np(
        "np_normalise_with_epsilon",
        "NormaliseWithEpsilon",
        ["§3.2"],
        "logic",
        "divides by (size + 1e-4): a small error, not a precision bug",
    ),
    _np("np_cos_from_sin", "CosFromSin", ["§4.2"], "logic", "cos A taken as sqrt(1 - sin² A): its sign is lost"),
    _np("np_centring_precedence", "CentringPrecedence", ["§4.1"], "logic", "2 * (u - 1) instead of 2u - 1"),
    _np("np_pi_typed", "PiTyped", ["§4.1"], "logic", "2π typed as 2 * 3.1416: an error below float16's budget"),
    _np(
        "np_gaussian_bfloat16_checkpoint",
        "GaussianBfloat16Checkpoint",
        ["§4.1", "§11.3", "§1.3"],
        "precision",
        "Gaussian matrix rounded to bfloat16 (a bfloat16 checkpoint)",
        precision=True,
    ),
    _np(
        "np_outside_points_wrapped",
        "OutsidePointsWrapped",
        ["§3.2"],
        "logic",
        "points wrapped into the image (x mod W, y mod H): only points outside differ",
    ),
    _np(
        "np_mask_weights_float16_checkpoint",
        "MaskWeightsFloat16Checkpoint",
        ["§9", "§11.3", "§1.3"],
        "precision",
        "mask downscaler weights rounded to float16 (a float16 checkpoint)",
        precision=True,
    ),
    _np(
        "np_padding_label_prepended",
        "PaddingLabelPrepended",
        ["§5.1"],
        "off-by-one",
        "padding point appended, its label -1 prepended",
    ),
    _np("np_pad_when_no_mask", "PadWhenNoMask", ["§5.1"], "logic", "pads points when no mask (not no box) is given"),
    _np("np_padding_prepended", "PaddingPrepended", ["§5.1", "§7"], "ordering", "padding token before the points"),
    _np(
        "np_label_rows_cached_by_size",
        "LabelRowsCachedBySize",
        ["§5.2"],
        "logic",
        "label rows memoised by hidden size: later weights of the same size reuse the first build's rows",
    ),
    _np(
        "np_labels_of_first_image",
        "LabelsOfFirstImage",
        ["§5.2", "§11.1"],
        "batching",
        "label embeddings looked up with image 0's labels for every image",
    ),
    _np("np_boxes_clipped", "BoxesClippedToImage", ["§6.1"], "logic", "box corners clipped into the image"),
    _np("np_box_corners_sorted", "BoxCornersSorted", ["§6.1"], "logic", "boxes reordered to (min, min, max, max)"),
    _np(
        "np_empty_sparse_batch_one",
        "EmptySparseBatchOne",
        ["§7", "§11.1"],
        "batching",
        "no points and no boxes: sparse (1, 0, C) whatever the batch",
    ),
    _np(
        "np_empty_sparse_float64",
        "EmptySparseFloat64",
        ["§11.3", "§7"],
        "dtype/cast",
        "sparse output starts from a float64 np.zeros, so it is float64 holding float32 values",
        precision=True,
    ),
    _np(
        "np_grid_float16",
        "GridFloat16",
        ["§8.2", "§11.3", "§1.3"],
        "precision",
        "dense positional grid computed in float16",
        precision=True,
    ),
    _np(
        "np_grid_from_pixel_centres",
        "GridFromPixelCentres",
        ["§8.1"],
        "wrong default",
        "grid from 16-pixel patch centres / (W, H): right only when H = 16h, W = 16w",
    ),
    _np(
        "np_gelu_erf_series_truncated",
        "GeluErfSeriesTruncated",
        ["§9.3"],
        "logic",
        "erf by an 8-term Maclaurin series: wrong only for large |x|",
    ),
    _np(
        "np_degenerate_boxes_widened",
        "DegenerateBoxesWidened",
        ["§6.1"],
        "logic",
        "degenerate boxes widened to one pixel: only degenerate boxes differ",
    ),
    _np(
        "np_conv_taps_swapped",
        "ConvTapsSwapped",
        ["§9.1"],
        "off-by-one",
        "conv 2x2 written tap by tap with weight[:, :, dj, di]",
        names=["conv_kernel_transposed"],
    ),
    _np(
        "np_layer_norm_over_width",
        "LayerNormOverWidth",
        ["§9.2"],
        "layout",
        "LayerNorm2d over the width axis (NCHW code with axis=-1)",
    ),
    _np(
        "np_second_norm_eps_1e-5",
        "SecondNormEps1e5",
        ["§9.2", "§9"],
        "wrong default",
        "the second LayerNorm2d with eps 1e-5, the first with 1e-6",
        names=["layer_norm_eps_1e-5"],
    ),
    _np("np_activation_before_norm", "ActivationBeforeNorm", ["§9"], "ordering", "conv, GELU, LayerNorm2d"),
    _np("np_norm_precedence", "NormPrecedence", ["§9.2"], "logic", "x - mu / sqrt(var + eps)"),
    _np(
        "np_variance_over_everything",
        "VarianceOverEverything",
        ["§9.2"],
        "broadcasting",
        "LayerNorm variance reduced over every axis (mean per pixel)",
    ),
    _np(
        "np_windows_without_permute",
        "WindowsWithoutPermute",
        ["§9.1"],
        "layout",
        "2x2 windows gathered by reshape alone",
    ),
    _np(
        "np_integer_masks_as_uint8",
        "IntegerMasksAsUint8",
        ["§9"],
        "dtype/cast",
        "integer masks read as uint8: negative integer logits wrap",
    ),
    _np("np_mask_cast_to_int", "MaskCastToInt", ["§9"], "dtype/cast", "mask logits truncated to int32"),
    _np(
        "np_no_mask_reshaped_nhwc",
        "NoMaskReshapedFromNHWC",
        ["§10"],
        "layout",
        "no_mask_embed broadcast channels-last and reshaped to (B, C, h, w)",
    ),
    _np(
        "np_tokens_flattened_wrong",
        "TokensFlattenedWrong",
        ["§11.1"],
        "batching",
        "points encoded as (B*N, 2), unflattened as (N, B, C) transposed",
    ),
    _np(
        "np_batch_one_squeezed",
        "BatchOneSqueezed",
        ["§11.1", "§11.2"],
        "layout",
        "a batch of one returns sparse tokens (N', C)",
    ),
    _np("np_dense_pe_no_batch_axis", "DensePeNoBatchAxis", ["§11.2", "§8.2"], "layout", "dense PE returned (C, h, w)"),
    _np(
        "np_whole_port_float16",
        "WholePortFloat16",
        ["§11.3", "§1.3"],
        "precision",
        "every stage computed in float16, outputs returned as float32",
        precision=True,
        names=["pe_float16", "pe_float16_coords", "gaussian_float16"],
    ),
    _np("np_traced_faithful", "TracedNumpyPort", (), "", "faithful NumPy port with its own trace()", faithful=True),
    _np("np_traced_cos_from_sin", "TracedCosFromSin", ["§4.2"], "logic", "cos from sin, with the port's trace()"),
    _np(
        "np_traced_boxes_clipped",
        "TracedBoxesClipped",
        ["§6.1"],
        "logic",
        "box corners clipped into the image, with the port's trace()",
    ),
    _np("np_traced_boxes_xxyy", "TracedBoxesXXYY", ["§6.1"], "layout", "box corners (x1, x2), (y1, y2), traced"),
    _np(
        "np_traced_windows_without_permute",
        "TracedWindowsWithoutPermute",
        ["§9.1"],
        "layout",
        "2x2 windows by reshape alone, with the port's trace()",
    ),
    _np(
        "np_traced_labels_of_first_image",
        "TracedLabelsOfFirstImage",
        ["§5.2", "§11.1"],
        "batching",
        "image 0's labels for the batch, with the port's trace()",
    ),
    _np(
        "np_trace_fails_on_batches",
        "TraceFailsOnBatchesMaskCastToInt",
        ["§9"],
        "dtype/cast",
        "mask logits truncated to int32; the port's trace() raises on batches > 1",
    ),
    _np(
        "np_two_labels_batch_norm_precedence",
        "TwoBugsLabelsBatchAndNormPrecedence",
        ["§5.2", "§11.1", "§9.2"],
        "batching + logic",
        "image 0's labels for the batch (§5.2), and x - mu / sqrt(var + eps) (§9.2)",
        two_bugs=True,
    ),
    _np(
        "np_two_pi_typed_mask_int",
        "TwoBugsPiTypedAndMaskInt",
        ["§4.1", "§9"],
        "logic + dtype/cast",
        "2π as 2 * 3.1416 (§4.1, tiny), and mask logits truncated to int32 (§9)",
        two_bugs=True,
    ),
    _np(
        "np_two_grid_float16_corners_sorted",
        "TwoBugsGridFloat16AndCornersSorted",
        ["§8.2", "§11.3", "§1.3", "§6.1"],
        "precision + logic",
        "grid in float16 (§8.2, precision), and boxes reordered to (min, max) (§6.1)",
        precision=True,
        two_bugs=True,
    ),
    _np(
        "np_two_cos_from_sin_empty_batch",
        "TwoBugsCosFromSinAndEmptyBatch",
        ["§4.2", "§7", "§11.1"],
        "logic + batching",
        "cos from sin (§4.2), and the empty sparse output with batch 1 (§7)",
        two_bugs=True,
    ),
]


def _meta(name, cls, sections, kind, what, precision=False, names=(), **kw):
    return PortBug(name, f"{META}:{cls}", "sam", tuple(sections), kind, precision, tuple(names), what, **kw)


META_PORTS = [
    _meta(
        "meta_faithful_refactor", "MetaFaithfulRefactor", (), "", "faithful refactor (instance patches)", faithful=True
    ),
    _meta("meta_shift_x_only", "MetaShiftXOnly", ["§3.1"], "off-by-one", "only x shifted by 0.5 (points, boxes)"),
    _meta(
        "meta_gaussian_not_loaded",
        "MetaGaussianNotLoaded",
        ["§4.1"],
        "weight conversion",
        "Gaussian buffer skipped by the loader: fresh torch.randn matrix",
    ),
    _meta(
        "meta_autocast_bfloat16",
        "MetaAutocastBfloat16",
        ["§11.3", "§1.3"],
        "precision",
        "whole port under torch.autocast('cpu') (bfloat16 matmuls, convolutions)",
        precision=True,
    ),
    _meta(
        "meta_labels_2_3_background",
        "MetaLabels23Background",
        ["§5.2"],
        "logic",
        "labels 2 and 3 get the background embedding (where(label == 1, fg, bg))",
    ),
    _meta("meta_labels_uint8", "MetaLabelsUint8", ["§5.2"], "dtype/cast", "labels as uint8: label -1 becomes 255"),
    _meta(
        "meta_bottom_right_gets_both",
        "MetaBottomRightGetsBoth",
        ["§6.2"],
        "logic",
        "top-left embedding added to both corners, bottom-right to corner 1 too",
    ),
    _meta("meta_boxes_xxyy", "MetaBoxesXXYY", ["§6.1"], "layout", "box read as corners (x1, x2), (y1, y2)"),
    _meta(
        "meta_boxes_of_first_image",
        "MetaBoxesOfFirstImage",
        ["§6.1", "§11.1"],
        "batching",
        "boxes[:1] encoded and expanded to the batch",
    ),
    _meta(
        "meta_grid_divisors_swapped",
        "MetaGridDivisorsSwapped",
        ["§8.1"],
        "logic",
        "grid y divided by w, x by h (instance patch of pe_layer.forward)",
    ),
    _meta(
        "meta_dense_pe_cached_on_class",
        "MetaDensePECachedOnClass",
        ["§8.2", "§8"],
        "logic",
        "dense PE cached on the class: later encoders return the first one's grid",
    ),
    _meta(
        "meta_layer_norm_bfloat16",
        "MetaLayerNormBfloat16",
        ["§9.2", "§11.3", "§1.3"],
        "precision",
        "both LayerNorm2d computed in bfloat16",
        precision=True,
    ),
    _meta(
        "meta_compiled_mask_clamp",
        "MetaCompiledMaskClamp",
        ["§9"],
        "logic",
        "mask logits clamped to [-10, 10] inside a torch.compile-wrapped instance method",
    ),
    _meta(
        "meta_norm1_beta_from_conv1_bias",
        "MetaNorm1BetaFromConv1Bias",
        ["§9.2"],
        "weight conversion",
        "first LayerNorm's bias loaded from the first conv's bias",
    ),
    _meta(
        "meta_no_mask_hw_swapped", "MetaNoMaskHWSwapped", ["§10"], "layout", "no_mask_embed expanded to (B, C, w, h)"
    ),
    _meta(
        "meta_two_shift_x_norm1_beta",
        "MetaTwoShiftXAndNorm1Beta",
        ["§3.1", "§9.2"],
        "off-by-one + weight conversion",
        "only x shifted (§3.1), and LayerNorm 1's bias from the conv bias (§9.2)",
        two_bugs=True,
    ),
]


def _port(module, profile):
    def make(name, cls, sections, kind, what, precision=False, names=(), **kw):
        return PortBug(name, f"{module}:{cls}", profile, tuple(sections), kind, precision, tuple(names), what, **kw)

    return make


_hf, _sam2, _keras = _port(HF, "hf"), _port(SAM2, "sam2"), _port(KERAS, "keras_hub")

HF_PORTS = [
    _hf("hf_float64_faithful", "HfFloat64", (), "", "faithful: transformers in float64", faithful=True),
    _hf(
        "hf_float64_pe_float32",
        "HfFloat64PeFloat32",
        ["§11.3", "§1.3", "§4"],
        "precision",
        "float64 port whose positional embeddings stay float32",
        precision=True,
    ),
    _hf("hf_faithful_gather", "HfFaithfulGather", (), "", "faithful: label embeddings by one gather", faithful=True),
    _hf(
        "hf_point_pe_not_tied",
        "HfPointPeNotTied",
        ["§4.1"],
        "weight conversion",
        "prompt encoder's positional embedding untied from the loaded one (fresh init)",
    ),
    _hf(
        "hf_gelu_new_default",
        "HfGeluNewDefault",
        ["§9.3"],
        "wrong default",
        "hidden_act left at gelu_new (tanh GELU)",
        names=["tanh_gelu"],
    ),
    _hf(
        "hf_patch_size_default",
        "HfPatchSizeDefault",
        ["§8", "§10"],
        "wrong default",
        "grid size image_size // 16 (transformers' default patch size) instead of the configured one",
    ),
    _hf("hf_boxes_transposed", "HfBoxesTransposed", ["§6.1"], "layout", "box corners (x1, x2), (y1, y2)"),
    _hf(
        "hf_conv2_weight_scrambled",
        "HfConv2WeightScrambled",
        ["§9.1"],
        "weight conversion",
        "conv 2 weight: in/out axes swapped and reshaped back",
    ),
    _hf(
        "hf_no_mask_batch_from_point_axis",
        "HfNoMaskBatchFromPointAxis",
        ["§10", "§11.1"],
        "batching",
        "no-mask dense expanded to the point-batch axis P = 1",
        names=["no_mask_batch_1"],
    ),
    _hf(
        "hf_negative_labels_not_a_point",
        "HfNegativeLabelsNotAPoint",
        ["§5.2"],
        "logic",
        "every label < 0 gives not_a_point_embed: -10 is not zeros",
    ),
    _hf(
        "hf_two_boxes_transposed_conv2",
        "HfTwoBoxesTransposedConv2",
        ["§6.1", "§9.1"],
        "layout + weight conversion",
        "boxes (x1, x2), (y1, y2) (§6.1), and conv 2's weight scrambled (§9.1)",
        two_bugs=True,
    ),
]

SAM2_PORTS = [
    _sam2("sam2_faithful_table", "Sam2FaithfulTable", (), "", "faithful: label rows by one gather", faithful=True),
    _sam2(
        "sam2_corner_labels_swapped",
        "Sam2CornerLabelsSwapped",
        ["§5.2"],
        "logic",
        "point labels 2 and 3 get each other's corner embedding",
    ),
    _sam2(
        "sam2_no_padding_for_zero_points",
        "Sam2NoPaddingForZeroPoints",
        ["§5.1"],
        "logic",
        "no padding token when the point list is empty (N = 0)",
    ),
    _sam2(
        "sam2_boxes_shifted_twice",
        "Sam2BoxesShiftedTwice",
        ["§3.1", "§6.1"],
        "off-by-one",
        "boxes shifted by 0.5 twice (the caller and the encoder); points right",
    ),
    _sam2(
        "sam2_no_mask_from_not_a_point",
        "Sam2NoMaskFromNotAPoint",
        ["§10"],
        "weight conversion",
        "no_mask_embed loaded from not_a_point_embed",
    ),
    _sam2(
        "sam2_grid_size_swapped",
        "Sam2GridSizeSwapped",
        ["§8.2", "§8.1"],
        "layout",
        "dense PE grid built for (w, h)",
        names=["grid_transposed"],
    ),
    _sam2(
        "sam2_points_float16",
        "Sam2PointsFloat16",
        ["§3", "§11.3", "§1.3"],
        "precision",
        "point and box pixel coordinates rounded to float16 before the encoder",
        precision=True,
    ),
    _sam2(
        "sam2_two_corner_labels_no_mask",
        "Sam2TwoCornerLabelsNoMask",
        ["§5.2", "§10"],
        "logic + weight conversion",
        "labels 2/3 swapped (§5.2), and no_mask_embed from not_a_point_embed (§10)",
        two_bugs=True,
    ),
]

KERAS_PORTS = [
    _keras("keras_faithful_box_concat", "KerasFaithfulBoxConcat", (), "", "faithful _embed_box rewrite", faithful=True),
    _keras(
        "keras_conv3_reshaped",
        "KerasConv3Reshaped",
        ["§9.4"],
        "weight conversion",
        "1x1 kernel converted by reshape instead of transpose",
    ),
    _keras(
        "keras_box_corners_on_box_axis",
        "KerasBoxCornersStackedOnBoxAxis",
        ["§6.2"],
        "ordering",
        "corner tokens tl0, tl1, …, br0, br1, …: differs only with two boxes or more per image",
    ),
    _keras("keras_shift_x_only", "KerasShiftXOnly", ["§3.1"], "off-by-one", "only x shifted by 0.5 (points)"),
    _keras(
        "keras_two_conv3_shift_x",
        "KerasTwoConv3ShiftX",
        ["§3.1", "§9.4"],
        "off-by-one + weight conversion",
        "only x shifted (§3.1), and the 1x1 kernel by reshape (§9.4)",
        two_bugs=True,
    ),
]

BUGS = NUMPY + META_PORTS + HF_PORTS + SAM2_PORTS + KERAS_PORTS + ROUND2  # round 2: round2.py


def by_name() -> dict:
    return {bug.name: bug for bug in BUGS}
