"""Building blocks of the second half of the bugs outside the catalogue (``novel_bugs.NOVEL``):
mistakes written from docs/spec.md, one small function each, in the kinds porters make them
(logic, precision, batching, layout, weight conversion). None of them is a catalogue variant.

Stage replacements keep the reference's stage signatures (reference/encoder.py ``STAGES``); the
mask path records its intermediates under the stage names of spec §11.4, so that a traced port
with the bug shows where it departs. Output transforms take and return `sam`-layout outputs.
"""

from __future__ import annotations

import math

import numpy as np

from samspec.reference import activations as _activations
from samspec.reference.fast.window_matmul import conv2x2_stride2_by_windows as conv2x2_stride2
from samspec.reference.masks import conv1x1, layer_norm_channels
from samspec.reference.positional_encoding import fourier_argument, grid_axes

from ..diagnosis.variants import DENSE, SPARSE

PI_FLOAT16 = float(np.float16(math.pi))  # 3.140625: pi written as a float16 constant


def round_float16(x, xp):
    """x rounded to float16 and back to its own dtype (a value stored or computed in half precision)."""
    return xp.astype(xp.astype(x, xp.float16), x.dtype)


# -- §3, §4, §8: coordinates, the Fourier argument, the grid -------------------------------------------------


def floored_then_shifted(coords, xp):
    """§3.1 done on integer pixels: floor(x) + 0.5 (a port that casts coordinates to int first)."""
    return xp.floor(coords) + 0.5


def boxes_shifted_back(coords, xp):
    """§3.1 with the boxes' corners (ndim 4) moved by -0.5 instead of +0.5; points shifted right."""
    return coords - 0.5 if coords.ndim == 4 else coords + 0.5


def argument_with_float16_pi(unit_coords, gaussian_matrix, xp):
    """§4.1 with pi written as the float16 constant 3.140625."""
    return fourier_argument(unit_coords, gaussian_matrix, xp) * (PI_FLOAT16 / math.pi)


def cell_centres_in_cells(image_embedding_size, dtype, xp):
    """§8.1 without the division by the grid size: centres (j + 0.5, i + 0.5) in cell units."""
    x, y = grid_axes(image_embedding_size, dtype, xp)
    w, h = image_embedding_size[1], image_embedding_size[0]
    xs = xp.broadcast_to(xp.reshape(x * w, (1, w)), (h, w))
    ys = xp.broadcast_to(xp.reshape(y * h, (h, 1)), (h, w))
    return xp.stack([xs, ys], axis=-1)


# -- §9: the mask path ------------------------------------------------------------------------------------


def one_pass_layer_norm(x, weight, bias, eps, xp):
    """§9.2 with the variance as E[x^2] - E[x]^2 (one pass; cancels on near-constant channels)."""
    mean = xp.mean(x, axis=-1, keepdims=True)
    variance = xp.maximum(xp.mean(x * x, axis=-1, keepdims=True) - mean * mean, xp.zeros((), dtype=x.dtype))
    return (x - mean) / xp.sqrt(variance + eps) * weight + bias


def batch_layer_norm(x, weight, bias, eps, xp):
    """§9.2 with the statistics over the batch and the channels together (images mixed)."""
    mean = xp.mean(x, axis=(0, 3), keepdims=True)
    centred = x - mean
    variance = xp.mean(centred * centred, axis=(0, 3), keepdims=True)
    return centred / xp.sqrt(variance + eps) * weight + bias


def float16_activation(function):
    """The activation ``function`` computed on float16-rounded input, its result rounded to float16."""
    return lambda x, xp: round_float16(function(round_float16(x, xp), xp), xp)


def mask_path(norm=layer_norm_channels, after_conv1=None, activation=None):
    """§9.5's composition (channels last), recording every stage of §11.4, with the LayerNorm2d
    replaced by ``norm``, ``after_conv1(x, xp)`` applied to the first convolution's output, and
    ``activation(x, xp)`` in place of the configured one."""

    def downscale(mask, params, configured, xp, eps=1e-6, trace=None):
        p, act = params, activation or configured

        def record(name, value):
            if trace is not None:
                trace[f"mask.{name}"] = value
            return value

        x = conv2x2_stride2(mask[..., None], p["mask_downscaling.0.weight"], p["mask_downscaling.0.bias"], xp)
        x = record("conv1", after_conv1(x, xp) if after_conv1 is not None else x)
        x = record("norm1", norm(x, p["mask_downscaling.1.weight"], p["mask_downscaling.1.bias"], eps, xp))
        x = record("act1", act(x, xp))
        x = record("conv2", conv2x2_stride2(x, p["mask_downscaling.3.weight"], p["mask_downscaling.3.bias"], xp))
        x = record("norm2", norm(x, p["mask_downscaling.4.weight"], p["mask_downscaling.4.bias"], eps, xp))
        x = record("act2", act(x, xp))
        return record("conv3", conv1x1(x, p["mask_downscaling.6.weight"], p["mask_downscaling.6.bias"], xp))

    return lambda params, dtype: {"downscale_mask": downscale}


def gelu_in_float16():
    return mask_path(activation=float16_activation(_activations.gelu))


# -- weight conversion -------------------------------------------------------------------------------------


def copied_params(**sources):
    """Parameters loaded from the wrong key: {target: source} (``__`` for ``.``)."""

    def apply(params):
        params = dict(params)
        for target, source in sources.items():
            params[target.replace("__", ".")] = np.array(params[source.replace("__", ".")])
        return params

    return apply


def rotated_point_embeddings(params):
    """point_embeddings.0 ... .3 loaded one key late: row i from point_embeddings.(i + 1 mod 4)."""
    params = dict(params)
    rows = [params[f"point_embeddings.{i}.weight"] for i in range(4)]
    for i in range(4):
        params[f"point_embeddings.{i}.weight"] = np.array(rows[(i + 1) % 4])
    return params


# -- §11: batching, layout, output dtype -------------------------------------------------------------------


def _changed(outputs, key, change):
    out = dict(outputs)
    out[key] = np.ascontiguousarray(change(out[key]))
    return out


def first_image_everywhere(key, needs):
    """Output ``key`` of image 0 repeated for every image of the batch, when ``needs`` is given."""

    def apply(outputs, inputs, config):
        if inputs.get(needs) is None or outputs[key].shape[0] < 2:
            return outputs
        return _changed(outputs, key, lambda v: np.broadcast_to(v[:1], v.shape))

    return apply


def sparse_batch_rolled(outputs, inputs, config):
    """Image b's sparse tokens are image b-1's (an off-by-one batch index, wrapping around)."""
    return _changed(outputs, SPARSE, lambda v: np.roll(v, 1, axis=0))


def masks_in_reverse(outputs, inputs, config):
    """The dense embeddings of a mask batch in reverse image order."""
    if inputs.get("masks") is None:
        return outputs
    return _changed(outputs, DENSE, lambda v: v[::-1])


def sparse_channels_reversed(outputs, inputs, config):
    return _changed(outputs, SPARSE, lambda v: v[..., ::-1])


def sparse_channels_first(outputs, inputs, config):
    """The sparse tokens returned as (B, C, N') instead of (B, N', C)."""
    return _changed(outputs, SPARSE, lambda v: np.swapaxes(v, 1, 2))


def sparse_in_float16(outputs, inputs, config):
    """The sparse tokens stored in float16 and returned in the port's dtype."""
    return _changed(outputs, SPARSE, lambda v: v.astype(np.float16).astype(v.dtype))
