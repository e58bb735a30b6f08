"""The catalogue of known divergences, as data (docs/diagnosis.md, docs/spec.md §12.2).

Each entry is a ``Variant`` (``model.py``) made of building blocks (``blocks.py``). The diagnosis
compares a failing port with every variant; the self-test checks that every variant, run as a port,
fails ``samspec check`` and is diagnosed as itself. A name here is the name used in docs/spec.md
§12.2, profiles and reports.
"""

from __future__ import annotations

import numpy as np

from samspec.reference import LabelRule
from samspec.reference.conventions import KERAS_HUB_LABELS
from samspec.reference.positional_encoding import fourier_argument

from .blocks import (
    activation_downscaler,
    box_not_a_point,
    boxes_first,
    boxes_yxyx,
    channels_last_output,
    channels_last_reshaped,
    coordinates_yx,
    corner_embeddings_swapped,
    corners_swapped,
    cos_first,
    gaussian_transform,
    grid_linspace,
    grid_offset,
    grid_transposed,
    grid_xy_swapped,
    interleaved,
    kernel_transform,
    mask_downscaler,
    mask_ignored,
    mask_plus_no_mask,
    no_affine,
    no_mask_batch_1,
    norm_over,
    normalise_by,
    padding_always,
    pe_float16,
    relabel,
    replace_stages,
    shift_only,
)
from .model import Variant

V = Variant

CATALOGUE = [
    # coordinates (§3)
    V(
        "no_pixel_shift",
        "your port does not add 0.5 to point and box coordinates before normalising (pixel-centre shift)",
        "§3.1",
        "coordinates",
        stages=replace_stages(shift_to_pixel_centres=lambda coords, xp: coords),
    ),
    V(
        "no_pixel_shift_points",
        "your port does not add 0.5 to point coordinates before normalising (boxes are shifted)",
        "§3.1",
        "coordinates",
        stages=replace_stages(shift_to_pixel_centres=shift_only(4)),
    ),
    V(
        "no_pixel_shift_boxes",
        "your port does not add 0.5 to box corners before normalising (points are shifted)",
        "§3.1",
        "coordinates",
        stages=replace_stages(shift_to_pixel_centres=shift_only(3)),
    ),
    V(
        "coordinates_yx",
        "your port reads point and box coordinates as (y, x) instead of (x, y)",
        "§3",
        "coordinates",
        stages=replace_stages(shift_to_pixel_centres=coordinates_yx),
    ),
    V(
        "swapped_xy_normalisation",
        "your port divides x by the image height and y by the width (input_image_size is (H, W))",
        "§3.2",
        "coordinates",
        stages=replace_stages(normalise_coordinates=normalise_by(lambda hw: (hw[1], hw[0]))),
    ),
    V(
        "square_normalisation",
        "your port divides x and y by one size, the longer image side, as if the image were square",
        "§3.2",
        "coordinates",
        stages=replace_stages(normalise_coordinates=normalise_by(lambda hw: (max(hw), max(hw)))),
        ports="HF, ONNX",
    ),
    V(
        "square_normalisation_height",
        "your port divides x and y by the image height, as if the image were square",
        "§3.2",
        "coordinates",
        stages=replace_stages(normalise_coordinates=normalise_by(lambda hw: (hw[0], hw[0]))),
    ),
    V(
        "square_normalisation_width",
        "your port divides x and y by the image width, as if the image were square",
        "§3.2",
        "coordinates",
        stages=replace_stages(normalise_coordinates=normalise_by(lambda hw: (hw[1], hw[1]))),
    ),
    V(
        "fixed_1024_normalisation",
        "your port divides coordinates by a fixed 1024 instead of the configured image size",
        "§3.2",
        "coordinates",
        stages=replace_stages(normalise_coordinates=normalise_by(lambda hw: (1024, 1024))),
        ports="sam.cpp",
    ),
    V(
        "normalise_by_size_minus_1",
        "your port divides coordinates by (W - 1, H - 1) instead of (W, H) (align-corners style)",
        "§3.2",
        "coordinates",
        stages=replace_stages(normalise_coordinates=normalise_by(lambda hw: (hw[0] - 1, hw[1] - 1))),
    ),
    # positional encoding (§4)
    V(
        "cos_sin_order",
        "your positional encoding puts the cosines before the sines",
        "§4.2",
        "positional encoding",
        stages=replace_stages(sinusoids=cos_first),
    ),
    V(
        "sin_cos_interleaved",
        "your positional encoding interleaves sines and cosines (sin, cos, sin, ...) instead of all sines then "
        "all cosines",
        "§4.2",
        "positional encoding",
        stages=replace_stages(sinusoids=interleaved),
    ),
    V(
        "no_centring",
        "your positional encoding skips the 2u - 1 centring: it projects u in [0, 1] instead of [-1, 1]",
        "§4.1",
        "positional encoding",
        stages=replace_stages(fourier_argument=lambda u, g, xp: fourier_argument(0.5 * (u + 1.0), g, xp)),
    ),
    V(
        "pi_not_2pi",
        "your positional encoding multiplies by pi instead of 2 pi",
        "§4.1",
        "positional encoding",
        stages=replace_stages(fourier_argument=lambda u, g, xp: 0.5 * fourier_argument(u, g, xp)),
    ),
    V(
        "gaussian_rows_swapped",
        "your positional encoding multiplies x by row 1 and y by row 0 of the Gaussian matrix",
        "§4.1",
        "positional encoding",
        params=gaussian_transform(lambda g: g[::-1]),
    ),
    V(
        "gaussian_transposed",
        "your port loads the (2, C/2) Gaussian matrix as (C/2, 2) by a reshape and transposes it back (a "
        "transpose was needed)",
        "§4.1",
        "positional encoding",
        params=gaussian_transform(lambda g: np.reshape(g, (g.shape[1], 2)).T),
    ),
    V(
        "gaussian_transposed_reshaped",
        "your port transposes the Gaussian matrix and reshapes it back to (2, C/2), scrambling its entries",
        "§4.1",
        "positional encoding",
        params=gaussian_transform(lambda g: np.reshape(g.T, g.shape)),
    ),
    V(
        "pe_float16",
        "your positional encoding is computed in float16",
        "§1.3",
        "positional encoding",
        stages=pe_float16(coords_only=False),
        rounding="float16",
    ),
    V(
        "pe_float16_coords",
        "your positional encoding rounds the normalised coordinates to float16",
        "§1.3",
        "positional encoding",
        stages=pe_float16(coords_only=True),
        rounding="float16",
    ),
    V(
        "gaussian_float16",
        "your Gaussian matrix is stored in float16",
        "§1.3",
        "positional encoding",
        params=gaussian_transform(lambda g: g.astype(np.float16).astype(np.float64)),
        ports="sam.cpp (fp16 weights)",
        rounding="float16",
    ),
    # dense positional grid (§8)
    V(
        "grid_no_half_cell",
        "your dense positional grid samples cell corners j / w instead of centres (j + 0.5) / w",
        "§8.1",
        "grid",
        stages=replace_stages(grid_cell_centres=grid_offset(-0.5)),
    ),
    V(
        "grid_cumsum_no_offset",
        "your dense positional grid uses cumsum without the - 0.5: (j + 1) / w instead of (j + 0.5) / w",
        "§8.1",
        "grid",
        stages=replace_stages(grid_cell_centres=grid_offset(0.5)),
    ),
    V(
        "grid_linspace",
        "your dense positional grid spans the unit square edge to edge, linspace(0, 1): j / (w - 1) instead of "
        "(j + 0.5) / w",
        "§8.1",
        "grid",
        stages=replace_stages(grid_cell_centres=grid_linspace),
    ),
    V(
        "grid_xy_swapped",
        "your dense positional grid stacks (y, x) instead of (x, y)",
        "§8.1",
        "grid",
        stages=replace_stages(grid_cell_centres=grid_xy_swapped),
    ),
    V(
        "grid_transposed",
        "your dense positional grid is transposed: (1, C, w, h) instead of (1, C, h, w)",
        "§8.2",
        "grid",
        outputs=grid_transposed,
    ),
    # padding and labels (§5)
    V(
        "no_padding_point",
        "your port does not append the padding point (0, 0) with label -1 when points come without boxes",
        "§5.1",
        "labels",
        pad_points=False,
        ports="keras-hub, ONNX",
    ),
    V(
        "padding_point_always",
        "your port appends the padding point even when a box is given",
        "§5.1",
        "labels",
        stages=padding_always,
    ),
    V(
        "not_a_point_keeps_pe",
        "your port adds not_a_point_embed to the positional encoding of label -1 instead of replacing it",
        "§5.2",
        "labels",
        labels=relabel(minus_1=(1, "not_a_point")),
    ),
    V(
        "not_a_point_zeroed",
        "your port gives label -1 an all-zero token instead of not_a_point_embed",
        "§5.2",
        "labels",
        labels=relabel(minus_1=(0, "none")),
    ),
    V(
        "not_a_point_wraps_to_last",
        "your port looks label -1 up in the point-embedding table, where index -1 wraps to the last row "
        "(point_embeddings.3)",
        "§5.2",
        "labels",
        labels=relabel(minus_1=(1, "bottom_right")),
    ),
    V(
        "labels_swapped",
        "your port swaps the foreground and background embeddings (label 1 gets point_embeddings.0)",
        "§5.2",
        "labels",
        labels=relabel(**{"0": (1, "foreground"), "1": (1, "background")}),
    ),
    V(
        "labels_2_3_foreground",
        "your port gives labels 2 and 3 the foreground embedding (where(label == 0, bg, fg))",
        "§5.2",
        "labels",
        labels=LabelRule(dict(KERAS_HUB_LABELS.entries)),
        ports="keras-hub",
    ),
    V(
        "corner_labels",
        "your port gives labels 2 and 3 the box-corner embeddings (point_embeddings.2 / .3)",
        "§5.2",
        "labels",
        labels=relabel(**{"2": (1, "top_left"), "3": (1, "bottom_right")}),
        ports="ONNX, sam2, ultralytics, HF SAM 2",
    ),
    # boxes and the sparse assembly (§6, §7)
    V(
        "box_corners_swapped",
        "your port gives the top-left embedding to (x2, y2) and the bottom-right one to (x1, y1)",
        "§6",
        "boxes",
        stages=replace_stages(embed_box_corners=corners_swapped),
    ),
    V(
        "box_corner_embeddings_swapped",
        "your port swaps the two corner embeddings (point_embeddings.2 and .3)",
        "§6.2",
        "boxes",
        stages=replace_stages(embed_box_corners=corner_embeddings_swapped),
    ),
    V(
        "boxes_yxyx",
        "your port reads boxes as (y1, x1, y2, x2) instead of (x1, y1, x2, y2)",
        "§6.1",
        "boxes",
        inputs=boxes_yxyx,
    ),
    V(
        "box_not_a_point_token",
        "your port appends a not_a_point token after each box's two corner tokens",
        "§6.3",
        "boxes",
        stages=box_not_a_point,
        ports="HF SAM 2 family",
    ),
    V(
        "boxes_before_points",
        "your sparse output puts the box tokens before the point tokens",
        "§7",
        "boxes",
        stages=replace_stages(assemble_sparse=boxes_first),
    ),
    # mask path (§9, §10)
    V(
        "tanh_gelu",
        "your mask downscaler uses the tanh approximation of GELU",
        "§9.3",
        "mask path",
        activation="gelu_tanh",
        ports="candle",
    ),
    V(
        "sigmoid_gelu",
        "your mask downscaler uses the sigmoid approximation of GELU, x * sigmoid(1.702 x)",
        "§9.3",
        "mask path",
        stages=activation_downscaler("sigmoid_gelu"),
    ),
    V("relu_activation", "your mask downscaler uses ReLU instead of GELU", "§9.3", "mask path", activation="relu"),
    V(
        "silu_activation",
        "your mask downscaler uses SiLU (swish) instead of GELU",
        "§9.3",
        "mask path",
        activation="silu",
    ),
    V(
        "no_activation",
        "your mask downscaler has no activation after its LayerNorms",
        "§9.3",
        "mask path",
        activation="linear",
    ),
    V("elu_activation", "your mask downscaler uses ELU instead of GELU", "§9.3", "mask path", activation="elu"),
    V("mish_activation", "your mask downscaler uses Mish instead of GELU", "§9.3", "mask path", activation="mish"),
    V("tanh_activation", "your mask downscaler uses tanh instead of GELU", "§9.3", "mask path", activation="tanh"),
    V(
        "sigmoid_activation",
        "your mask downscaler uses the logistic sigmoid instead of GELU",
        "§9.3",
        "mask path",
        activation="sigmoid",
    ),
    V(
        "layer_norm_eps_1e-5",
        "your mask downscaler's LayerNorm uses eps 1e-5 (PyTorch's default) instead of 1e-6",
        "§9.2",
        "mask path",
        layer_norm_eps=1e-5,
    ),
    V(
        "layer_norm_eps_1e-3",
        "your mask downscaler's LayerNorm uses eps 1e-3 (Keras's default) instead of 1e-6",
        "§9.2",
        "mask path",
        layer_norm_eps=1e-3,
    ),
    V(
        "layer_norm_eps_1e-12",
        "your mask downscaler's LayerNorm uses eps 1e-12 instead of 1e-6",
        "§9.2",
        "mask path",
        layer_norm_eps=1e-12,
    ),
    V(
        "layer_norm_no_eps",
        "your mask downscaler's LayerNorm has no eps (0): a pixel whose channels are equal gives 0 / 0",
        "§9.2",
        "mask path",
        stages=mask_downscaler(lambda x, weight, bias, eps, xp: norm_over((-1,))(x, weight, bias, 0.0, xp)),
    ),
    V(
        "layer_norm_eps_outside_sqrt",
        "your mask downscaler's LayerNorm adds eps to the standard deviation, not to the variance",
        "§9.2",
        "mask path",
        stages=mask_downscaler(norm_over((-1,), eps_outside=True)),
    ),
    V(
        "layer_norm_unbiased",
        "your mask downscaler's LayerNorm uses the unbiased variance (divides by C - 1)",
        "§9.2",
        "mask path",
        stages=mask_downscaler(norm_over((-1,), unbiased=True)),
    ),
    V(
        "layer_norm_spatial",
        "your mask downscaler's LayerNorm normalises each channel over the pixels (instance norm), not each "
        "pixel over the channels",
        "§9.2",
        "mask path",
        stages=mask_downscaler(norm_over((1, 2))),
    ),
    V(
        "layer_norm_all_axes",
        "your mask downscaler's LayerNorm normalises over channels and pixels together (GroupNorm(1) or "
        "LayerNorm([C, H, W]))",
        "§9.2",
        "mask path",
        stages=mask_downscaler(norm_over((1, 2, 3))),
    ),
    V(
        "layer_norm_no_affine",
        "your mask downscaler's LayerNorm ignores its weight and bias (gamma, beta)",
        "§9.2",
        "mask path",
        params=no_affine,
    ),
    V(
        "conv_kernel_transposed",
        "your mask downscaler's 2x2 convolution kernels are transposed (kh and kw swapped)",
        "§9.1",
        "mask path",
        params=kernel_transform(lambda w: np.transpose(w, (0, 1, 3, 2))),
    ),
    V(
        "conv_kernel_flipped",
        "your mask downscaler's 2x2 convolutions flip their kernels (true convolution, not PyTorch's "
        "cross-correlation)",
        "§9.1",
        "mask path",
        params=kernel_transform(lambda w: w[:, :, ::-1, ::-1]),
    ),
    V(
        "mask_ignored",
        "your port ignores the mask prompt and always returns no_mask_embed",
        "§9",
        "mask path",
        stages=mask_ignored,
    ),
    V(
        "mask_plus_no_mask",
        "your port adds no_mask_embed to the downscaled mask",
        "§10",
        "mask path",
        stages=mask_plus_no_mask,
    ),
    V(
        "no_mask_batch_1",
        "your no-mask dense output has batch 1 whatever the batch size",
        "§10",
        "mask path",
        outputs=no_mask_batch_1,
        ports="candle",
    ),
    # layout (§11)
    V(
        "channels_last",
        "your dense outputs are channels-last (B, h, w, C) where (B, C, h, w) is expected",
        "§11.2",
        "layout",
        outputs=channels_last_output,
        ports="keras-hub, MLX",
    ),
    V(
        "channels_last_reshaped",
        "your dense outputs are channels-last data reshaped (not transposed) to (B, C, h, w)",
        "§11.2",
        "layout",
        outputs=channels_last_reshaped,
    ),
]

VARIANTS = {variant.name: variant for variant in CATALOGUE}


def get_variant(name: str) -> Variant:
    if name not in VARIANTS:
        raise ValueError(f"variant: expected one of {sorted(VARIANTS)}; received {name!r}")
    return VARIANTS[name]
