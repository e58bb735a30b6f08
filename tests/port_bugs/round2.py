"""Round 2 of the held-out buggy ports (issue 23, a second red team): ports written from scratch.

Every port here is its own code, written from docs/spec.md and the real ports' code (not a subclass
of Meta's, transformers', sam2's or keras-hub's class): a PyTorch ``nn.Module``
(``round2_torch``), a JAX port (``round2_jax``), float32 NumPy ports with other API conventions
(channels-last everywhere, (y, x) coordinates, per-image loops: ``round2_numpy``) and a program run
as a port in another language (``round2_exec.py``, checked with ``samspec check --exec``,
docs/other-languages.md). Each buggy port derives from its family's faithful port by the one change
a porter would make. ``bugs.BUGS`` appends ``ROUND2``.
"""

from __future__ import annotations

import sys

from .model import EXEC_SCRIPT, JAX, NUMPY, TORCH, PortBug


def _family(module, profile="sam"):
    def make(name, cls, sections=(), kind="", what="", precision=False, names=(), profile=profile, **kw):
        port = f"{module}:{cls}"
        return PortBug(name, port, profile, tuple(sections), kind, precision, tuple(names), what, **kw)

    return make


def _exec(name, bug, sections=(), kind="", what="", precision=False, names=(), **kw):
    """A program run as a port in another language: ``samspec check --exec "python round2_exec.py BUG ..."``."""
    port = f"--exec={sys.executable} {EXEC_SCRIPT} {bug} {{fixtures}} {{out}}"
    return PortBug(name, port, "sam", tuple(sections), kind, precision, tuple(names), what, **kw)


_torch, _jax, _numpy = _family(TORCH), _family(JAX), _family(NUMPY, "keras_hub")

TORCH_PORTS = [
    _torch(
        "r2_torch_faithful", "TorchFaithful", what="faithful nn.Module written from the spec, float32", faithful=True
    ),
    _torch(
        "r2_torch_sparse_half_storage",
        "TorchSparseHalfStorage",
        ["§7", "§11.3", "§1.3"],
        "precision",
        "sparse tokens stored in float16 and handed back as float32",
        precision=True,
    ),
    _torch(
        "r2_torch_variance_by_moments",
        "TorchVarianceByMoments",
        ["§9.2"],
        "precision",
        "LayerNorm2d variance as E[x²] − E[x]² in float32: cancels on nearly constant pixels",
    ),
    _torch(
        "r2_torch_unit_coords_clamped",
        "TorchUnitCoordsClamped",
        ["§3.2"],
        "logic",
        "normalised coordinates clamped to [0, 1]: only points and boxes outside the image differ",
    ),
    _torch(
        "r2_torch_uint8_masks_rescaled",
        "TorchUint8MasksRescaled",
        ["§9"],
        "dtype/cast",
        "uint8 masks divided by 255 (read as an image): only masks.integer_uint8 differs",
    ),
    _torch(
        "r2_torch_norm2_affine_swapped",
        "TorchNorm2AffineSwapped",
        ["§9.2"],
        "weight conversion",
        "LayerNorm 2's weight loaded from its bias and its bias from its weight",
    ),
    _torch(
        "r2_torch_grid_from_image_size",
        "TorchGridFromImageSize",
        ["§8.2", "§8.1", "§2.1", "§10"],
        "wrong default",
        "grid size derived as input_image_size // 16: only config.unrelated_sizes differs",
    ),
    _torch(
        "r2_torch_corner_label_threshold",
        "TorchCornerLabelThreshold",
        ["§5.2"],
        "logic",
        "sam2 labels written as label >= 2 -> top-left: label 3 gets the top-left embedding",
        profile="sam2",
    ),
    _torch(
        "r2_torch_first_gelu_tanh",
        "TorchFirstGeluTanh",
        ["§9.3"],
        "wrong default",
        "the first activation of the mask path is tanh-GELU, the second exact",
    ),
    _torch(
        "r2_torch_no_mask_as_zero_mask",
        "TorchNoMaskAsZeroMask",
        ["§10"],
        "logic",
        "no mask: a zero mask run through the downscaler instead of no_mask_embed",
    ),
    _torch(
        "r2_torch_complex_exp",
        "TorchComplexExp",
        ["§4.2"],
        "layout",
        "sin and cos from exp(iA) by view_as_real: (cos, sin) pairs interleaved",
    ),
]

TORCH_PORTS += [
    _torch(
        "r2_torch_gelu_sqrt2_typed",
        "TorchGeluSqrt2Typed",
        ["§9.3"],
        "logic",
        "GELU by hand with √2 typed as 1.414: an error above float32's budget, below float16's",
    ),
]

# the same port with its own trace() (round2_torch.TracedTorchPort): samspec traces failing cases by default
TRACED_TORCH_PORTS = [
    _torch("r2_traced_torch_faithful", "TracedTorchFaithful", what="faithful, with trace()", faithful=True),
    _torch(
        "r2_traced_torch_sparse_half_storage",
        "TracedTorchSparseHalfStorage",
        ["§7", "§11.3", "§1.3"],
        "precision",
        "sparse tokens stored in float16, with the port's trace()",
        precision=True,
    ),
    _torch(
        "r2_traced_torch_unit_coords_clamped",
        "TracedTorchUnitCoordsClamped",
        ["§3.2"],
        "logic",
        "normalised coordinates clamped to [0, 1], with the port's trace()",
    ),
    _torch(
        "r2_traced_torch_variance_by_moments",
        "TracedTorchVarianceByMoments",
        ["§9.2"],
        "precision",
        "LayerNorm2d variance as E[x²] − E[x]², with the port's trace()",
    ),
    _torch(
        "r2_traced_torch_gelu_sqrt2_typed",
        "TracedTorchGeluSqrt2Typed",
        ["§9.3"],
        "logic",
        "GELU with √2 typed as 1.414, with the port's trace()",
    ),
]

JAX_PORTS = [
    _jax("r2_jax_faithful", "JaxFaithful", what="faithful functional JAX port, NHWC inside, float32", faithful=True),
    _jax(
        "r2_jax_fourier_bfloat16",
        "JaxFourierBfloat16",
        ["§4.1", "§11.3", "§1.3"],
        "precision",
        "the Fourier projection's operands in bfloat16 (a TPU's DEFAULT matmul precision), result float32",
        precision=True,
    ),
    _jax(
        "r2_jax_standardize",
        "JaxStandardize",
        ["§9.2"],
        "wrong default",
        "LayerNorm2d by jax.nn.standardize, whose epsilon defaults to 1e-5",
        names=["layer_norm_eps_1e-5"],
    ),
    _jax(
        "r2_jax_gelu_default",
        "JaxGeluDefault",
        ["§9.3"],
        "wrong default",
        "jax.nn.gelu with its default approximate=True (tanh GELU)",
        names=["tanh_gelu"],
    ),
    _jax(
        "r2_jax_grid_x_from_cumsum",
        "JaxGridXFromCumsum",
        ["§8.1"],
        "off-by-one",
        "grid x from cumsum without the - 0.5, (j + 1) / w; y is right",
    ),
    _jax(
        "r2_jax_labels_by_index",
        "JaxLabelsByIndex",
        ["§5.2"],
        "logic",
        "label rows gathered as table[label + 1]: JAX clamps labels 2, 3 to the foreground row",
        names=["labels_2_3_foreground"],
    ),
    _jax(
        "r2_jax_grid_transposed_back",
        "JaxGridTransposedBack",
        ["§8.2", "§11.2"],
        "layout",
        "the (h, w, C) grid moved to channels-first by transpose(2, 1, 0): (C, w, h)",
        names=["grid_transposed"],
    ),
    _jax(
        "r2_jax_no_padding_for_zero_points",
        "JaxNoPaddingForZeroPoints",
        ["§5.1"],
        "off-by-one",
        "padding point appended only when the image has points: N = 0 gives no token",
    ),
    _jax(
        "r2_jax_masks_float16",
        "JaxMasksFloat16",
        ["§9", "§11.3", "§1.3"],
        "precision",
        "masks rounded to float16 on the way in, then computed in float32",
        precision=True,
    ),
]

NUMPY_PORTS = [
    _numpy(
        "r2_nhwc_faithful", "NhwcFaithful", what="faithful float32 NumPy port, keras-hub conventions", faithful=True
    ),
    _numpy(
        "r2_nhwc_kernel_reversed_axes",
        "NhwcKernelReversedAxes",
        ["§9.1"],
        "weight conversion",
        "OIHW → HWIO by transpose(3, 2, 1, 0): kh and kw exchanged",
        names=["conv_kernel_transposed"],
    ),
    _numpy(
        "r2_nhwc_norm_over_height",
        "NhwcNormOverHeight",
        ["§9.2"],
        "layout",
        "LayerNorm2d ported from NCHW code keeping axis=1: normalises over the height in NHWC",
    ),
    _numpy(
        "r2_nhwc_grid_row_col",
        "NhwcGridRowCol",
        ["§8.1"],
        "layout",
        "grid cell centres stacked (y, x) by a (row, col) helper",
        names=["grid_xy_swapped"],
    ),
    _numpy(
        "r2_nhwc_shift_in_place",
        "NhwcShiftInPlace",
        ["§3.1", "§11.1"],
        "batching",
        "the batch's points shifted in place inside the image loop: image b shifted b + 1 times",
    ),
    _numpy(
        "r2_nhwc_dense_pe_batched",
        "NhwcDensePeBatched",
        ["§8.2", "§11.1", "§11.2"],
        "batching",
        "positional grid broadcast to the prompt's batch: (B, h, w, C) instead of (1, h, w, C)",
    ),
    _numpy(
        "r2_nhwc_corner_rows_repeated",
        "NhwcCornerRowsRepeated",
        ["§6.2"],
        "broadcasting",
        "corner embeddings by np.repeat, not np.tile: tl, tl, br, br with two boxes or more",
    ),
    _numpy(
        "r2_nhwc_boxes_popped",
        "NhwcBoxesPopped",
        ["§6.2", "§7"],
        "ordering",
        "an image's boxes popped from a stack: several boxes per image in reverse order",
    ),
    _numpy(
        "r2_nhwc_factored_norm",
        "NhwcFactoredNorm",
        ["§9.2"],
        "precision",
        "LayerNorm in the factored form x·s + (β − μ·s): a single channel no longer gives β (cm4, tiny)",
    ),
]

EXEC_PORTS = [
    _exec(
        "r2_exec_faithful", "faithful", what="faithful program: reads the fixtures, writes .npy, float32", faithful=True
    ),
    _exec(
        "r2_exec_raw_f8_reader",
        "raw_f8_reader",
        ["§11.3", "§9", "§3"],
        "dtype/cast",
        "hand-written .npy reader reads every input but labels as <f8: integer points, boxes, masks garbled",
    ),
    _exec(
        "r2_exec_f32_written_as_f8",
        "f32_written_as_f8",
        ["§11.3", "§1.3"],
        "precision",
        "computes in float32, writes every output as <f8",
        precision=True,
    ),
    _exec(
        "r2_exec_js_erf",
        "js_erf",
        ["§9.3"],
        "logic",
        "float64 port with the Abramowitz-Stegun erf of JavaScript ports (error 1.5e-7)",
    ),
    _exec(
        "r2_exec_two_pi_digits",
        "two_pi_digits",
        ["§4.1"],
        "logic",
        "float64 port with 2π typed as 6.2831853",
    ),
    _exec(
        "r2_exec_grid_nhwc_buffer",
        "grid_nhwc_buffer",
        ["§11.2", "§8.2"],
        "layout",
        "the (h, w, C) grid buffer written under the (1, C, h, w) header",
        names=["channels_last_reshaped"],
    ),
    _exec(
        "r2_exec_case0_fallthrough",
        "case0_fallthrough",
        ["§5.2"],
        "logic",
        "a switch on the label whose case 0 falls through: background points get background + foreground",
    ),
    _exec(
        "r2_exec_grid_cache_by_size",
        "grid_cache_by_size",
        ["§8.2"],
        "logic",
        "positional grids cached by (h, w) across cases: a later config of the same size reuses another's grid",
    ),
    _exec(
        "r2_exec_empty_prompt_padded",
        "empty_prompt_padded",
        ["§7", "§5.1"],
        "wrong default",
        "no points and no boxes taken as zero points, so padded: sparse (B, 1, C) not_a_point instead of (B, 0, C)",
    ),
]

ROUND2 = TORCH_PORTS + TRACED_TORCH_PORTS + JAX_PORTS + NUMPY_PORTS + EXEC_PORTS
