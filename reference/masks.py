"""Spec §9–§10: the dense prompt embedding, from a mask or from the no-mask embedding.

Internally the mask path is channels last, (B, y, x, channels): LayerNorm2d normalises over
the channel axis, which is then the last one, and each convolution is one matrix product.
"""

from __future__ import annotations


def conv2x2_stride2(x, weight, bias, xp):
    """Spec §9.1, a 2x2 convolution with stride 2 (no overlap, no padding).

        y[b, i, j, o] = bias[o] + sum_{di, dj, c} x[b, 2i+di, 2j+dj, c] * weight[o, c, di, dj]
        x: (B, H, W, Cin), weight: (Cout, Cin, 2, 2) as in PyTorch, bias: (Cout,) -> (B, H/2, W/2, Cout)

    Because the windows tile the image exactly, the convolution is a reshape that gathers each
    2x2 window into one vector of 4*Cin values, followed by one matrix product with the
    kernel flattened in the same (di, dj, c) order.
    """
    batch, height, width, cin = x.shape
    cout = weight.shape[0]
    windows = xp.reshape(x, (batch, height // 2, 2, width // 2, 2, cin))
    windows = xp.permute_dims(windows, (0, 1, 3, 2, 4, 5))  # (B, H/2, W/2, di, dj, c)
    windows = xp.reshape(windows, (batch, height // 2, width // 2, 4 * cin))
    kernel = xp.reshape(xp.permute_dims(weight, (2, 3, 1, 0)), (4 * cin, cout))  # (di, dj, c) x o
    return xp.matmul(windows, kernel) + bias


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
    """
    mean = xp.mean(x, axis=-1, keepdims=True)
    centred = x - mean
    variance = xp.mean(centred * centred, axis=-1, keepdims=True)
    return centred / xp.sqrt(variance + eps) * weight + bias


def downscale_mask(mask, params, activation, xp, eps=1e-6, trace=None):
    """Spec §9.5, the mask downscaler: 4x smaller, hidden_size channels.

        conv 2x2/s2 (1 -> Cm/4) -> LayerNorm2d -> act -> conv 2x2/s2 (Cm/4 -> Cm) -> LayerNorm2d
        -> act -> conv 1x1 (Cm -> C)
        mask: (B, 4h, 4w) -> (B, h, w, C)

    ``activation`` is a function ``f(x, xp)``; ``trace``, when a dict, receives every intermediate.
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
