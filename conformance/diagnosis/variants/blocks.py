"""The building blocks of variants: small changes around the reference's own stage functions.

Each block is a stage replacement, a parameter transform, or an input/output transform, in the
forms ``Variant`` takes (``model.py``). The catalogue is made of them; so is the self-test's set of
bugs outside the catalogue (``selftest/novel_bugs.py``), which is why they are public.
"""

from __future__ import annotations

import numpy as np

from samspec.reference import LabelRule
from samspec.reference import activations as _activations
from samspec.reference.coordinates import normalise_coordinates, shift_to_pixel_centres
from samspec.reference.fast.channels_first import downscale_mask_channels_first as downscale_mask
from samspec.reference.fast.window_matmul import conv2x2_stride2_by_windows as conv2x2_stride2
from samspec.reference.masks import conv1x1, layer_norm_channels, no_mask_embedding
from samspec.reference.positional_encoding import fourier_argument, grid_cell_centres, sinusoids
from samspec.reference.sparse import append_box_not_a_point, assemble_sparse, embed_box_corners

from .model import DENSE, DENSE_PE, GAUSSIAN


def replace_stages(**replacements):
    """Stage replacements that need no parameter."""
    return lambda params, dtype: replacements


def param_row(params, dtype, key):
    return np.asarray(params[key], dtype=dtype)


def shift_only(ndim):
    """shift_to_pixel_centres for points (ndim 3: (B, N, 2)) or box corners (ndim 4) only."""

    def shift(coords, xp):
        return shift_to_pixel_centres(coords, xp) if coords.ndim == ndim else coords

    return shift


def normalise_by(size_of):
    """normalise_coordinates with the (H, W) pair replaced by ``size_of((H, W))``."""

    def normalise(coords, input_image_size, xp):
        return normalise_coordinates(coords, size_of(tuple(input_image_size)), xp)

    return normalise


def pe_float16(coords_only):
    """The positional encoding with its unit coordinates rounded to float16 (``coords_only``), or
    computed entirely in float16 (argument and sinusoids) and cast back to the port's dtype."""

    def rounded_coords(unit, gaussian, xp):
        return fourier_argument(xp.astype(xp.astype(unit, xp.float16), unit.dtype), gaussian, xp)

    def half_argument(unit, gaussian, xp):
        return fourier_argument(xp.astype(unit, xp.float16), xp.astype(gaussian, xp.float16), xp)

    if coords_only:
        return replace_stages(fourier_argument=rounded_coords)

    def factory(params, dtype):
        def features_back(argument, xp):
            return xp.astype(sinusoids(argument, xp), dtype)

        return {"fourier_argument": half_argument, "sinusoids": features_back}

    return factory


def interleaved(argument, xp):
    """[sin A0, cos A0, sin A1, cos A1, ...]: the reference's two halves interleaved channel by channel."""
    features = sinusoids(argument, xp)
    half = argument.shape[-1]
    pairs = xp.stack([features[..., :half], features[..., half:]], axis=-1)
    return xp.reshape(pairs, argument.shape[:-1] + (2 * half,))


def cos_first(argument, xp):
    """[cos A, sin A]: the reference's [sin A, cos A] with its halves exchanged."""
    features = sinusoids(argument, xp)
    half = argument.shape[-1]
    return xp.concat([features[..., half:], features[..., :half]], axis=-1)


def grid_offset(dx):
    """grid_cell_centres moved by ``dx`` cells: (j + 0.5 + dx) / w, (i + 0.5 + dx) / h."""

    def centres(image_embedding_size, dtype, xp):
        h, w = image_embedding_size
        return grid_cell_centres(image_embedding_size, dtype, xp) + xp.asarray([dx / w, dx / h], dtype=dtype)

    return centres


def grid_linspace(image_embedding_size, dtype, xp):
    """linspace(0, 1, w) and linspace(0, 1, h): j / (w - 1), i / (h - 1) (0 for a single cell)."""
    h, w = image_embedding_size
    centres = grid_cell_centres(image_embedding_size, dtype, xp)
    offset = xp.asarray([0.5 / w, 0.5 / h], dtype=dtype)
    stretch = xp.asarray([w / max(w - 1, 1) if w > 1 else 0.0, h / max(h - 1, 1) if h > 1 else 0.0], dtype=dtype)
    return (centres - offset) * stretch


def grid_xy_swapped(image_embedding_size, dtype, xp):
    centres = grid_cell_centres(image_embedding_size, dtype, xp)
    return xp.stack([centres[..., 1], centres[..., 0]], axis=-1)


def padding_always(params, dtype):
    """The padding token is appended after the points even when boxes are given."""
    not_a_point = param_row(params, dtype, "not_a_point_embed.weight")

    def assemble(point_tokens, box_tokens, batch, hidden_size, dtype_, xp):
        if point_tokens is not None and box_tokens is not None:
            pad = xp.broadcast_to(xp.reshape(xp.asarray(not_a_point), (1, 1, hidden_size)), (batch, 1, hidden_size))
            point_tokens = xp.concat([point_tokens, pad], axis=1)
        return assemble_sparse(point_tokens, box_tokens, batch, hidden_size, dtype_, xp)

    return {"assemble_sparse": assemble}


def box_not_a_point(params, dtype):
    """Each box's two corner tokens are followed by a not_a_point token (spec §6.3)."""
    not_a_point = param_row(params, dtype, "not_a_point_embed.weight")

    def assemble(point_tokens, box_tokens, batch, hidden_size, dtype_, xp):
        if box_tokens is not None:
            box_tokens = append_box_not_a_point(box_tokens, xp.asarray(not_a_point), xp)
        return assemble_sparse(point_tokens, box_tokens, batch, hidden_size, dtype_, xp)

    return {"assemble_sparse": assemble}


def boxes_first(point_tokens, box_tokens, batch, hidden_size, dtype, xp):
    return assemble_sparse(box_tokens, point_tokens, batch, hidden_size, dtype, xp)


def corner_embeddings_swapped(corner_pe, top_left, bottom_right, xp):
    return embed_box_corners(corner_pe, bottom_right, top_left, xp)


def corners_swapped(corner_pe, top_left, bottom_right, xp):
    return embed_box_corners(xp.flip(corner_pe, axis=-2), top_left, bottom_right, xp)


def relabel(**changes):
    """A change of some labels of the port's label rule: value -> (keep PE?, row of LABEL_ROWS)."""

    def change(rule: LabelRule) -> LabelRule:
        entries = dict(rule.entries)
        for key, value in changes.items():
            entries[int(key.replace("minus_", "-"))] = value
        return LabelRule(entries)

    return change


# mask path ---------------------------------------------------------------------------------------


def activation_downscaler(name):
    """A downscaler whose activation is ``f`` (one not among the reference's named activations)."""
    functions = {
        # GELU's sigmoid approximation, x * sigmoid(1.702 x) ("quick GELU")
        "sigmoid_gelu": lambda x, xp: x * _activations.sigmoid(1.702 * x, xp),
    }
    function = functions[name]

    def downscale(mask, params, activation, xp, eps=1e-6, trace=None):
        return downscale_mask(mask, params, function, xp, eps=eps, trace=trace)

    return replace_stages(downscale_mask=downscale)


def mask_downscaler(norm=layer_norm_channels, second_activation=True):
    """Spec §9.5's composition of the reference's stage functions (channels last), with the
    LayerNorm2d replaced by ``norm(x, gamma, beta, eps, xp)`` (and without the second activation)."""

    def downscale(mask, params, activation, xp, eps=1e-6, trace=None):
        p = params
        x = mask[..., None]
        x = conv2x2_stride2(x, p["mask_downscaling.0.weight"], p["mask_downscaling.0.bias"], xp)
        x = activation(norm(x, p["mask_downscaling.1.weight"], p["mask_downscaling.1.bias"], eps, xp), xp)
        x = conv2x2_stride2(x, p["mask_downscaling.3.weight"], p["mask_downscaling.3.bias"], xp)
        x = norm(x, p["mask_downscaling.4.weight"], p["mask_downscaling.4.bias"], eps, xp)
        x = activation(x, xp) if second_activation else x
        return conv1x1(x, p["mask_downscaling.6.weight"], p["mask_downscaling.6.bias"], xp)

    return replace_stages(downscale_mask=downscale)


def norm_over(axes, unbiased=False, eps_outside=False):
    """A LayerNorm2d over other axes of (B, y, x, C), or with another variance or eps placement."""

    def norm(x, weight, bias, eps, xp):
        count = 1
        for axis in axes:
            count *= x.shape[axis]
        mean = xp.mean(x, axis=axes, keepdims=True)
        centred = x - mean
        squares = xp.sum(centred * centred, axis=axes, keepdims=True)
        if unbiased:  # torch.var's default: divide by count - 1 (NaN for a single channel)
            with np.errstate(divide="ignore", invalid="ignore"):
                variance = squares / (count - 1) if count > 1 else squares * np.nan
        else:
            variance = squares / count
        if eps_outside:
            return centred / (xp.sqrt(variance) + eps) * weight + bias
        with np.errstate(invalid="ignore"):
            return centred / xp.sqrt(variance + eps) * weight + bias

    return norm


def no_affine(params):
    params = dict(params)
    for index in (1, 4):
        params[f"mask_downscaling.{index}.weight"] = np.ones_like(params[f"mask_downscaling.{index}.weight"])
        params[f"mask_downscaling.{index}.bias"] = np.zeros_like(params[f"mask_downscaling.{index}.bias"])
    return params


def kernel_transform(transform):
    def apply(params):
        params = dict(params)
        for index in (0, 3):
            params[f"mask_downscaling.{index}.weight"] = np.ascontiguousarray(
                transform(params[f"mask_downscaling.{index}.weight"])
            )
        return params

    return apply


def gaussian_transform(transform):
    def apply(params):
        params = dict(params)
        params[GAUSSIAN] = np.ascontiguousarray(transform(params[GAUSSIAN]))
        return params

    return apply


def mask_ignored(params, dtype):
    embed = param_row(params, dtype, "no_mask_embed.weight")

    def downscale(mask, params_, activation, xp, eps=1e-6, trace=None):
        h, w = mask.shape[1] // 4, mask.shape[2] // 4
        return no_mask_embedding(xp.asarray(embed), mask.shape[0], (h, w), xp)

    return {"downscale_mask": downscale}


def mask_plus_no_mask(params, dtype):
    embed = param_row(params, dtype, "no_mask_embed.weight")

    def downscale(mask, params_, activation, xp, eps=1e-6, trace=None):
        return downscale_mask(mask, params_, activation, xp, eps=eps, trace=trace) + xp.asarray(embed)[0]

    return {"downscale_mask": downscale}


# layouts (outputs in `sam` layout: dense (B, C, h, w), grid (1, C, h, w)) ----------------------


def channels_last_output(outputs, inputs, config):
    out = dict(outputs)
    for key in (DENSE, DENSE_PE):
        out[key] = np.ascontiguousarray(np.transpose(out[key], (0, 2, 3, 1)))
    return out


def channels_last_reshaped(outputs, inputs, config):
    """NHWC data reinterpreted as NCHW by a reshape instead of a transpose."""
    out = dict(outputs)
    for key in (DENSE, DENSE_PE):
        value = out[key]
        out[key] = np.reshape(np.ascontiguousarray(np.transpose(value, (0, 2, 3, 1))), value.shape)
    return out


def grid_transposed(outputs, inputs, config):
    out = dict(outputs)
    out[DENSE_PE] = np.ascontiguousarray(np.transpose(out[DENSE_PE], (0, 1, 3, 2)))
    return out


def no_mask_batch_1(outputs, inputs, config):
    out = dict(outputs)
    if inputs.get("masks") is None:
        out[DENSE] = out[DENSE][:1]
    return out


def boxes_yxyx(inputs, config):
    out = dict(inputs)
    if out.get("boxes") is not None:
        out["boxes"] = np.asarray(out["boxes"])[..., [1, 0, 3, 2]]
    return out


def coordinates_yx(coords, xp):
    return shift_to_pixel_centres(xp.flip(coords, axis=-1), xp)
