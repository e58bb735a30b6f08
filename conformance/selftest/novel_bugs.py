"""The second self-test set: port bugs that are NOT in the catalogue (docs/selftest.md).

The catalogue (``variants.CATALOGUE``) lists the divergences samspec knows by name; the first
self-test set checks that each is caught and named. These bugs are deliberately kept out of it:
the diagnosis has never heard of them, so it must catch each one, never claim that a known variant
explains it, and localise it from the error's structure (``localise.py``) to the spec section
written here. Moving one of them into the catalogue would only move it into the first set.

Each bug is a ``Variant`` built like the catalogue's, from the reference's own stages
(``SAMPromptEncoder(stages={...})``) or a mutation of the parameters, the prompt or the outputs,
and ``section`` is the spec section a correct localisation names. They cover every section from
§3 to §10 and the weight-conversion, ordering and layout mistakes of real ports.
"""

from __future__ import annotations

import numpy as np

from samspec.reference import activations as _activations
from samspec.reference.coordinates import normalise_coordinates
from samspec.reference.fast.channels_first import downscale_mask_channels_first as downscale_mask
from samspec.reference.masks import no_mask_embedding
from samspec.reference.positional_encoding import fourier_argument, grid_cell_centres, sinusoids
from samspec.reference.sparse import append_box_not_a_point, append_padding_point, assemble_sparse, embed_box_corners

from ..diagnosis.variants import DENSE, DENSE_PE, GAUSSIAN, SPARSE, Variant
from ..diagnosis.variants.blocks import mask_downscaler as _downscaler
from ..diagnosis.variants.blocks import param_row as _rows
from ..diagnosis.variants.blocks import relabel as _labels
from ..diagnosis.variants.blocks import replace_stages as _no_params
from .mistakes import (
    argument_with_float16_pi,
    batch_layer_norm,
    boxes_shifted_back,
    cell_centres_in_cells,
    copied_params,
    first_image_everywhere,
    floored_then_shifted,
    gelu_in_float16,
    mask_path,
    masks_in_reverse,
    one_pass_layer_norm,
    rotated_point_embeddings,
    round_float16,
    sparse_batch_rolled,
    sparse_channels_first,
    sparse_channels_reversed,
    sparse_in_float16,
)

__all__ = ["NOVEL", "NOVEL_BUGS"]


def _params(**transforms):
    """A mutation of named float64 parameters (a weight-conversion mistake)."""

    def apply(params):
        params = dict(params)
        for key, transform in transforms.items():
            params[key.replace("__", ".")] = np.ascontiguousarray(transform(params[key.replace("__", ".")]))
        return params

    return apply


def _swap_params(first, second):
    def apply(params):
        params = dict(params)
        params[first], params[second] = params[second], params[first]
        return params

    return apply


def _clipped(coords, input_image_size, xp):
    """Coordinates clipped into the image before normalising."""
    height, width = input_image_size
    return normalise_coordinates(np.clip(coords, 0.0, [width, height]).astype(coords.dtype), input_image_size, xp)


def _sin_only(argument, xp):
    features = sinusoids(argument, xp)
    half = argument.shape[-1]
    return xp.concat([features[..., :half], features[..., :half]], axis=-1)


def _cos_negated(argument, xp):
    features = sinusoids(argument, xp)
    half = argument.shape[-1]
    return xp.concat([features[..., :half], -features[..., half:]], axis=-1)


def _padding_label_0(coords, labels, xp):
    coords, labels = append_padding_point(coords, labels, xp)
    return coords, xp.concat([labels[:, :-1], xp.zeros_like(labels[:, -1:])], axis=1)


def _both_top_left(corner_pe, top_left, bottom_right, xp):
    return embed_box_corners(corner_pe, top_left, top_left, xp)


def _second_corner_x1y2(inputs, config):
    out = dict(inputs)
    if out.get("boxes") is not None:
        boxes = np.array(out["boxes"], dtype=np.float64)
        boxes[:, 2] = boxes[:, 0]
        out["boxes"] = boxes
    return out


def _not_a_point_between_corners(params, dtype):
    """A not_a_point token between each box's two corner tokens (a three-point box padded in the middle)."""
    not_a_point = _rows(params, dtype, "not_a_point_embed.weight")

    def assemble(point_tokens, box_tokens, batch, hidden_size, dtype_, xp):
        if box_tokens is not None:
            tokens = append_box_not_a_point(box_tokens, xp.asarray(not_a_point), xp)  # tl, br, nap per box
            b, n, c = tokens.shape
            box_tokens = xp.reshape(xp.reshape(tokens, (b, n // 3, 3, c))[:, :, [0, 2, 1], :], (b, n, c))
        return assemble_sparse(point_tokens, box_tokens, batch, hidden_size, dtype_, xp)

    return {"assemble_sparse": assemble}


def _points_reversed(point_tokens, box_tokens, batch, hidden_size, dtype, xp):
    if point_tokens is not None:
        point_tokens = xp.flip(point_tokens, axis=1)
    return assemble_sparse(point_tokens, box_tokens, batch, hidden_size, dtype, xp)


def _zero_padded(point_tokens, box_tokens, batch, hidden_size, dtype, xp):
    """Two all-zero tokens appended (a port padding its prompt to a fixed length)."""
    sparse = assemble_sparse(point_tokens, box_tokens, batch, hidden_size, dtype, xp)
    return xp.concat([sparse, xp.zeros((batch, 2, hidden_size), dtype=sparse.dtype)], axis=1)


def _grid_rows_flipped(image_embedding_size, dtype, xp):
    centres = grid_cell_centres(image_embedding_size, dtype, xp)
    return xp.stack([centres[..., 0], 1.0 - centres[..., 1]], axis=-1)


def _grid_by_width(image_embedding_size, dtype, xp):
    """Cell centres with both coordinates divided by the grid width."""
    h, w = image_embedding_size
    centres = grid_cell_centres(image_embedding_size, dtype, xp)
    return centres * xp.asarray([1.0, h / w], dtype=dtype)


def _mask_sigmoid_first(mask, params, activation, xp, eps=1e-6, trace=None):
    return downscale_mask(_activations.sigmoid(mask, xp), params, activation, xp, eps=eps, trace=trace)


def _no_mask_negated(no_mask_embed, batch, image_embedding_size, xp):
    return no_mask_embedding(-no_mask_embed, batch, image_embedding_size, xp)


def _dense_pe_batch(outputs, inputs, config):
    out = dict(outputs)
    batch = out[DENSE].shape[0]
    out[DENSE_PE] = np.ascontiguousarray(np.broadcast_to(out[DENSE_PE], (batch,) + out[DENSE_PE].shape[1:]))
    return out


def _dense_channels_reversed(outputs, inputs, config):
    out = dict(outputs)
    out[DENSE] = np.ascontiguousarray(out[DENSE][:, ::-1])
    return out


B = Variant

NOVEL = [
    # §3 coordinates
    B(
        "shift_by_one",
        "adds 1.0 instead of 0.5 to every coordinate",
        "§3.1",
        "logic",
        stages=_no_params(shift_to_pixel_centres=lambda coords, xp: coords + 1.0),
    ),
    B(
        "points_clipped",
        "clips coordinates into the image before normalising",
        "§3.2",
        "logic",
        stages=_no_params(normalise_coordinates=_clipped),
    ),
    B(
        "normalise_by_half_size",
        "divides coordinates by half the image size",
        "§3.2",
        "logic",
        stages=_no_params(
            normalise_coordinates=lambda c, size, xp: normalise_coordinates(c, (size[0] / 2, size[1] / 2), xp)
        ),
    ),
    # §4 positional encoding
    B(
        "gaussian_columns_reversed",
        "loads the Gaussian matrix with its columns reversed (weight conversion)",
        "§4.1",
        "weight conversion",
        params=_params(**{GAUSSIAN.replace(".", "__"): lambda g: g[:, ::-1]}),
    ),
    B(
        "argument_4pi",
        "multiplies by 4 pi instead of 2 pi",
        "§4.1",
        "logic",
        stages=_no_params(fourier_argument=lambda u, g, xp: 2.0 * fourier_argument(u, g, xp)),
    ),
    B(
        "sin_only",
        "puts the sines in both halves of the features",
        "§4.2",
        "logic",
        stages=_no_params(sinusoids=_sin_only),
    ),
    B(
        "cos_negated",
        "negates the cosine half of the features",
        "§4.2",
        "logic",
        stages=_no_params(sinusoids=_cos_negated),
    ),
    # §5 labels and padding
    B(
        "background_gets_foreground",
        "gives label 0 the foreground embedding",
        "§5.2",
        "logic",
        labels=_labels(**{"0": (1, "foreground")}),
    ),
    B(
        "not_a_point_is_background",
        "gives label -1 the background embedding instead of not_a_point_embed",
        "§5.2",
        "logic",
        labels=_labels(minus_1=(0, "background")),
    ),
    B(
        "foreground_pe_dropped",
        "drops the positional encoding of label-1 points",
        "§5.2",
        "logic",
        labels=_labels(**{"1": (0, "foreground")}),
    ),
    B(
        "padding_label_0",
        "appends the padding point with label 0 instead of -1",
        "§5.1",
        "logic",
        stages=_no_params(append_padding_point=_padding_label_0),
    ),
    # §6 boxes
    B(
        "box_corners_both_top_left",
        "gives both box corners the top-left embedding",
        "§6.2",
        "logic",
        stages=_no_params(embed_box_corners=_both_top_left),
    ),
    B("box_second_corner_x1", "reads the second box corner as (x1, y2)", "§6.1", "logic", inputs=_second_corner_x1y2),
    B(
        "not_a_point_between_corners",
        "puts a not_a_point token between each box's two corner tokens",
        "§6.3",
        "ordering",
        stages=_not_a_point_between_corners,
    ),
    # §7 ordering
    B(
        "point_tokens_reversed",
        "emits the point tokens in reverse order",
        "§7",
        "ordering",
        stages=_no_params(assemble_sparse=_points_reversed),
    ),
    B(
        "sparse_zero_padded",
        "pads the sparse tokens with two all-zero tokens",
        "§7",
        "layout",
        stages=_no_params(assemble_sparse=_zero_padded),
    ),
    # §8 grid
    B(
        "grid_rows_flipped",
        "samples the dense grid's rows bottom to top",
        "§8.1",
        "logic",
        stages=_no_params(grid_cell_centres=_grid_rows_flipped),
    ),
    B(
        "grid_by_width",
        "divides both grid coordinates by the grid width",
        "§8.1",
        "logic",
        stages=_no_params(grid_cell_centres=_grid_by_width),
    ),
    # §9 mask path
    B(
        "conv1_bias_dropped",
        "does not load the first convolution's bias (weight conversion)",
        "§9.1",
        "weight conversion",
        params=_params(**{"mask_downscaling__0__bias": np.zeros_like}),
    ),
    B(
        "conv3_out_channels_reversed",
        "loads the 1x1 convolution's weight with its output channels reversed (weight conversion)",
        "§9.4",
        "weight conversion",
        params=_params(**{"mask_downscaling__6__weight": lambda w: w[::-1]}),
    ),
    B(
        "layer_norm_weight_bias_swapped",
        "loads the first LayerNorm's weight as its bias and its bias as its weight",
        "§9.2",
        "weight conversion",
        params=_swap_params("mask_downscaling.1.weight", "mask_downscaling.1.bias"),
    ),
    B(
        "first_activation_only",
        "applies the activation after the first LayerNorm only",
        "§9.3",
        "logic",
        stages=_downscaler(second_activation=False),
    ),
    B(
        "mask_sigmoid_first",
        "applies a sigmoid to the mask logits before downscaling",
        "§9",
        "logic",
        stages=_no_params(downscale_mask=_mask_sigmoid_first),
    ),
    # §10 no mask
    B(
        "no_mask_negated",
        "negates no_mask_embed",
        "§10",
        "logic",
        stages=_no_params(no_mask_embedding=_no_mask_negated),
    ),
    # §11 layout
    B(
        "dense_pe_batch_expanded",
        "returns the dense positional grid with the prompt's batch size instead of 1",
        "§11.1",
        "batching",
        outputs=_dense_pe_batch,
    ),
    B(
        "dense_channels_reversed",
        "returns the dense embedding's channels in reverse order",
        "§11.2",
        "layout",
        outputs=_dense_channels_reversed,
    ),
    # -- written from docs/spec.md for the second round (conformance/selftest/mistakes.py) --
    # §3, §6: coordinates and box corners
    B(
        "coordinates_floored",
        "floors every coordinate to its pixel before adding 0.5 (casts coordinates to int)",
        "§3.1",
        "logic",
        stages=_no_params(shift_to_pixel_centres=floored_then_shifted),
    ),
    B(
        "box_corners_shifted_back",
        "moves the box corners by -0.5 instead of +0.5",
        "§6.1",
        "logic",
        stages=_no_params(shift_to_pixel_centres=boxes_shifted_back),
    ),
    # §4 positional encoding
    B(
        "pi_as_float16_constant",
        "writes pi as the float16 constant 3.140625 in the Fourier argument",
        "§4.1",
        "precision",
        stages=_no_params(fourier_argument=argument_with_float16_pi),
    ),
    B(
        "gaussian_prescaled_2pi",
        "stores the Gaussian matrix multiplied by 2 pi and still multiplies the argument by 2 pi (weight conversion)",
        "§4.1",
        "weight conversion",
        params=_params(**{GAUSSIAN.replace(".", "__"): lambda g: g * (2.0 * np.pi)}),
    ),
    # §5 label embeddings
    B(
        "point_embeddings_off_by_one",
        "loads point_embeddings.i from point_embeddings.(i+1 mod 4) (weight conversion)",
        "§5.2",
        "weight conversion",
        params=rotated_point_embeddings,
    ),
    B(
        "not_a_point_from_no_mask",
        "loads not_a_point_embed from no_mask_embed (weight conversion)",
        "§5.2",
        "weight conversion",
        params=copied_params(not_a_point_embed__weight="no_mask_embed.weight"),
    ),
    # §6 corner embeddings
    B(
        "corner_embeddings_from_labels",
        "loads the two corner embeddings from the background and foreground ones (weight conversion)",
        "§6.2",
        "weight conversion",
        params=copied_params(
            point_embeddings__2__weight="point_embeddings.0.weight",
            point_embeddings__3__weight="point_embeddings.1.weight",
        ),
    ),
    # §8 grid
    B(
        "grid_centres_in_cells",
        "leaves the grid's cell centres in cell units, (j + 0.5, i + 0.5), without dividing by the grid size",
        "§8.1",
        "logic",
        stages=_no_params(grid_cell_centres=cell_centres_in_cells),
    ),
    # §9 mask path
    B(
        "layer_norm_one_pass_variance",
        "computes LayerNorm's variance as E[x^2] - E[x]^2 in one pass",
        "§9.2",
        "precision",
        stages=mask_path(norm=one_pass_layer_norm),
    ),
    B(
        "layer_norm_over_batch",
        "takes LayerNorm's mean and variance over the batch and the channels together",
        "§9.2",
        "batching",
        stages=mask_path(norm=batch_layer_norm),
    ),
    B(
        "conv1_output_float16",
        "stores the first convolution's output in float16",
        "§9.1",
        "precision",
        stages=mask_path(after_conv1=round_float16),
        rounding="float16",
    ),
    B(
        "gelu_in_float16",
        "computes the mask path's GELU in float16",
        "§9.3",
        "precision",
        stages=gelu_in_float16(),
        rounding="float16",
    ),
    B(
        "layer_norm2_weight_not_loaded",
        "does not load the second LayerNorm's weight (left at ones) (weight conversion)",
        "§9.2",
        "weight conversion",
        params=_params(mask_downscaling__4__weight=np.ones_like),
    ),
    # §10 no mask
    B(
        "no_mask_embed_not_loaded",
        "does not load no_mask_embed (left at zeros) (weight conversion)",
        "§10",
        "weight conversion",
        params=_params(no_mask_embed__weight=np.zeros_like),
    ),
    B(
        "no_mask_embed_float16",
        "stores no_mask_embed in float16",
        "§10",
        "precision",
        params=_params(no_mask_embed__weight=lambda w: w.astype(np.float16).astype(np.float64)),
        rounding="float16",
    ),
    # §11 batch, layout, dtype
    B(
        "first_mask_for_every_image",
        "gives every image of a batch the dense embedding of the first image's mask",
        "§11.1",
        "batching",
        outputs=first_image_everywhere(DENSE, "masks"),
    ),
    B(
        "first_prompt_for_every_image",
        "gives every image of a batch the sparse tokens of the first image's prompt",
        "§11.1",
        "batching",
        outputs=first_image_everywhere(SPARSE, "points"),
    ),
    B(
        "sparse_batch_rolled",
        "gives image b the sparse tokens of image b-1 (an off-by-one batch index)",
        "§11.1",
        "batching",
        outputs=sparse_batch_rolled,
    ),
    B(
        "mask_batch_reversed",
        "returns the dense embeddings of a mask batch in reverse image order",
        "§11.1",
        "batching",
        outputs=masks_in_reverse,
    ),
    B(
        "sparse_channels_reversed",
        "returns the sparse tokens' channels in reverse order",
        "§11.2",
        "layout",
        outputs=sparse_channels_reversed,
    ),
    B(
        "sparse_channels_first",
        "returns the sparse tokens as (B, C, N) instead of (B, N, C)",
        "§11.2",
        "layout",
        outputs=sparse_channels_first,
    ),
    B(
        "sparse_output_float16",
        "stores the sparse tokens in float16 before returning them",
        "§11.3",
        "precision",
        outputs=sparse_in_float16,
        rounding="float16",
    ),
]

NOVEL_BUGS = {bug.name: bug for bug in NOVEL}
