"""Spec §9–§10: the dense prompt embedding, from a mask or from the no-mask embedding.

The stages are defined channels last, (B, y, x, channels), as in spec §9: LayerNorm2d normalises
over the channel axis, which is then the last one, and each convolution is a sum of matrix
products over the channels. reference/fast/ computes the same composition faster
(channels_first.py, window_matmul.py, window_order.py); tests/test_fast_paths.py checks every fast
form against these definitions.
"""

from __future__ import annotations

from .backend import namespace_name


def conv2x2_stride2(x, weight, bias, xp):
    """Spec §9.1, a 2x2 convolution with stride 2 (no overlap, no padding): the sum over the four
    taps of each 2x2 window.

        y[b, i, j, o] = bias[o] + sum_{di, dj} sum_c x[b, 2i+di, 2j+dj, c] * weight[o, c, di, dj]
        x: (B, H, W, Cin), weight: (Cout, Cin, 2, 2) as in PyTorch, bias: (Cout,) -> (B, H/2, W/2, Cout)

    Tap (di, dj) of every window is the strided slice x[:, di::2, dj::2, :]; the sum over c is a
    matrix product with weight[:, :, di, dj] transposed.
    """
    out = bias
    for di in (0, 1):
        for dj in (0, 1):
            tap = x[:, di::2, dj::2, :]  # (B, H/2, W/2, Cin)
            out = out + xp.matmul(tap, xp.permute_dims(weight[:, :, di, dj], (1, 0)))
    return out


def conv1x1(x, weight, bias, xp):
    """Spec §9.4, a 1x1 convolution: a matrix product over the channel axis.

    y[b, i, j, o] = bias[o] + sum_c x[b, i, j, c] * weight[o, c, 0, 0]
    x: (B, h, w, Cin), weight: (Cout, Cin, 1, 1) -> (B, h, w, Cout)
    """
    kernel = xp.permute_dims(xp.reshape(weight, (weight.shape[0], weight.shape[1])), (1, 0))
    return xp.matmul(x, kernel) + bias


def layer_norm_channels(x, weight, bias, eps, xp):
    """Spec §9.2, LayerNorm2d: normalise each pixel's channel vector.

        mu = mean_c x,  var = mean_c (x - mu)^2  (biased),  y = (x - mu) / sqrt(var + eps) * gamma + beta
        x: (B, h, w, C), gamma / beta: (C,) -> (B, h, w, C);  eps = 1e-6 in SAM

    Where the squares overflow the dtype (|x - mu| above sqrt(finfo.max)), the same value is
    computed rescaled (``normalised_without_overflow``).
    """
    mean = xp.mean(x, axis=-1, keepdims=True)
    centred = x - mean
    variance = xp.mean(centred * centred, axis=-1, keepdims=True)
    if not bool(xp.all(xp.isfinite(variance))):  # the squares overflowed the dtype: the same, rescaled
        return normalised_without_overflow(centred, eps, -1, xp) * weight + bias
    return centred / xp.sqrt(variance + eps) * weight + bias


def normalised_without_overflow(centred, eps, axis, xp):
    """Spec §9.2's (x - mu) / sqrt(var + eps) for inputs whose squares overflow the dtype.

        s = max(1, max_c |x - mu|) per position,  u = (x - mu) / s:
        (x - mu) / sqrt(var + eps) = u / sqrt(mean_c u^2 + eps / s^2)
        centred: x - mu, with the channels on ``axis`` -> the same shape

    Why this equals the definition: divide numerator and denominator by s > 0 (exact in real
    arithmetic). |u| <= 1, so no square overflows, and eps / s^2 <= eps. LayerNorm is
    scale-invariant, so a float32 mask x 1e20 or a float16 mask x 300 still gives the right
    dense output. Input that is itself not finite (a convolution that overflowed) is refused.
    """
    scale = xp.maximum(xp.max(xp.abs(centred), axis=axis, keepdims=True), xp.ones((), dtype=centred.dtype))
    unit = centred / scale
    variance = xp.mean(unit * unit, axis=axis, keepdims=True)
    if namespace_name(xp) == "numpy" and not bool(
        xp.all(xp.isfinite(variance))
    ):  # (SAMPromptEncoder refuses such masks first)
        largest = float(xp.finfo(centred.dtype).max)
        raise ValueError(
            f"masks: expected values whose §9.1 convolutions are representable in {xp.finfo(centred.dtype).dtype} "
            f"(|value| <= {largest:.6g}); LayerNorm2d (§9.2) received non-finite values (the mask values are too large)"
        )
    return unit / xp.sqrt(variance + (eps / scale) / scale)


def downscale_mask(mask, params, activation, xp, eps=1e-6, trace=None):
    """Spec §9.5, the mask downscaler: 4x smaller, hidden_size channels, the stages composed channels last.

        conv 2x2/s2 (1 -> Cm/4) -> LayerNorm2d -> act -> conv 2x2/s2 (Cm/4 -> Cm) -> LayerNorm2d
        -> act -> conv 1x1 (Cm -> C)
        mask: (B, 4h, 4w) -> (B, h, w, C)

    ``activation`` is a function ``f(x, xp)``; ``trace``, when a dict, receives every intermediate
    (spec §11.4). The encoder's fast composition computes the same with reference/fast/ (on NumPy
    window_order.py, elsewhere channels_first.py).
    """
    p = params

    def record(name, value):
        if trace is not None:
            trace[f"mask.{name}"] = value
        return value

    x = mask[..., None]  # one input channel, channels last: (B, 4h, 4w, 1)
    x = record("conv1", conv2x2_stride2(x, p["mask_downscaling.0.weight"], p["mask_downscaling.0.bias"], xp))
    x = record("norm1", layer_norm_channels(x, p["mask_downscaling.1.weight"], p["mask_downscaling.1.bias"], eps, xp))
    x = record("act1", activation(x, xp))
    x = record("conv2", conv2x2_stride2(x, p["mask_downscaling.3.weight"], p["mask_downscaling.3.bias"], xp))
    x = record("norm2", layer_norm_channels(x, p["mask_downscaling.4.weight"], p["mask_downscaling.4.bias"], eps, xp))
    x = record("act2", activation(x, xp))
    x = record("conv3", conv1x1(x, p["mask_downscaling.6.weight"], p["mask_downscaling.6.bias"], xp))
    return x


def no_mask_embedding(no_mask_embed, batch, image_embedding_size, xp):
    """Spec §10, the dense embedding when no mask is given: one learned vector at every cell.

    D[b, i, j, :] = no_mask_embed[0, :]       no_mask_embed: (1, C) -> (B, h, w, C)
    """
    h, w = image_embedding_size
    channels = no_mask_embed.shape[1]
    return xp.broadcast_to(xp.reshape(no_mask_embed, (1, 1, 1, channels)), (batch, h, w, channels))
