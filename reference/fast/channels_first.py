"""Spec §9, fast form: the mask path channels first, (B, channels, pixels).

The mask path has only 4 or 16 channels: with the pixels on the last axis every elementwise
operation runs over long contiguous rows, and each channel reduction or convolution is one matrix
product over the channels. Each function says why it equals its channels-last definition in
reference/masks.py.
"""

from __future__ import annotations

from ..backend import namespace_name
from ..masks import normalised_without_overflow


def conv2x2_stride2_channels_first(x, weight, bias, xp):
    """Spec §9.1 channels first: ``masks.conv2x2_stride2`` with the channel axis before the pixels.

        x: (B, Cin, H, W) -> (B, Cout, H/2, W/2)

    Why this equals the definition: as in ``window_matmul.conv2x2_stride2_by_windows`` the windows
    tile the input, so one reshape gathers each window's 4*Cin values, here as a column, in the (c, di, dj) order in
    which PyTorch's weight (Cout, Cin, 2, 2) is already stored: the kernel is a plain reshape and
    the sum over (c, di, dj) is one matrix product per image, (Cout, 4Cin) @ (4Cin, pixels).
    """
    batch, cin, height, width = x.shape
    cout = weight.shape[0]
    windows = xp.reshape(x, (batch, cin, height // 2, 2, width // 2, 2))
    windows = xp.permute_dims(windows, (0, 1, 3, 5, 2, 4))  # (B, c, di, dj, H/2, W/2)
    windows = xp.reshape(windows, (batch, 4 * cin, (height // 2) * (width // 2)))
    kernel = xp.reshape(weight, (cout, 4 * cin))  # o x (c, di, dj)
    out = xp.matmul(kernel, windows) + bias[:, None]
    return xp.reshape(out, (batch, cout, height // 2, width // 2))


def with_ones_channel(x, xp):
    """[x; 1]: one more channel, constant 1, after the others: (B, Cin, P) -> (B, Cin+1, P).
    The input of ``conv1x1_channels_first``, which carries the bias as that channel's weight."""
    return xp.concat([x, xp.ones((x.shape[0], 1, x.shape[2]), dtype=x.dtype)], axis=1)


def kernel_with_bias(weight, bias, xp):
    """A convolution's kernel as one matrix with the bias as its last column, for inputs with a
    last row of ones (``with_ones_channel``): [W | b] @ [z; 1] = W z + b.

        weight: (Cout, Cin, kh, kw), bias: (Cout,) -> (Cout, Cin*kh*kw + 1)
    """
    flat = xp.reshape(weight, (weight.shape[0], weight.shape[1] * weight.shape[2] * weight.shape[3]))
    return xp.concat([flat, bias[:, None]], axis=1)


def conv1x1_channels_first(x_ones, weight, bias, xp):
    """Spec §9.4 from channels-first input, with the bias inside the product.

        y[b, o, p] = bias[o] + sum_c weight[o, c, 0, 0] * x[b, c, p]
        x_ones = with_ones_channel(x): (B, Cin+1, P) -> (B, Cout, P)

    Why this equals the definition: W x + b = [W | b] @ [x; 1], a matrix product with one more
    input channel that is constant 1 and whose weight is the bias. The output (hidden_size
    channels, the largest array of the encoder) is then written once, by the product, with no
    full-size temporary for "+ bias".
    """
    return xp.matmul(kernel_with_bias(weight, bias, xp), x_ones)  # (Cout, Cin+1) @ (B, Cin+1, P)


def layer_norm_channels_first(x, weight, bias, eps, xp):
    """Spec §9.2 channels first: ``layer_norm_channels`` over axis 1 of x: (B, C, P).

    Why this equals the definition: the channel mean is a linear map, mean_c x = (1/C, ..., 1/C) @ x,
    so the two means (of x and of the squared deviations) are each one (1, C) @ (C, P) product;
    everything else is the same arithmetic, elementwise over rows of P pixels. (With C = 1 the
    mean is x * 1.0 = x exactly, so the output is exactly beta, as spec §9.2 requires.)
    """
    channels = x.shape[1]
    average = xp.full((1, channels), 1.0 / channels, dtype=x.dtype)
    centred = x - xp.matmul(average, x)
    variance = xp.matmul(average, centred * centred)  # (B, 1, P)
    # Squares that overflow the dtype: the same value rescaled. NumPy checks (a free host read);
    # a device namespace always rescales rather than read a flag back from the device (§1.3).
    if namespace_name(xp) != "numpy" or not bool(xp.all(xp.isfinite(variance))):
        return normalised_without_overflow(centred, eps, 1, xp) * weight[:, None] + bias[:, None]
    return centred * (1.0 / xp.sqrt(variance + eps)) * weight[:, None] + bias[:, None]


def downscale_mask_channels_first(mask, params, activation, xp, eps=1e-6, trace=None):
    """Spec §9.5 channels first, the whole batch at once: ``masks.downscale_mask``'s composition.

        mask: (B, 4h, 4w) -> (B, h, w, C), a channels-last view

    Why this equals the definition: each stage below equals its channels-last definition (its
    docstring), and the activation is elementwise, so indifferent to the layout. ``trace``, when
    a dict, receives every intermediate as a channels-last view (spec §11.4). The encoder's fast
    composition runs it on namespaces other than NumPy (NumPy: window_order.py).
    """
    p = params
    batch, height, width = mask.shape
    h, w = height // 4, width // 4
    hidden = mask_features(xp.reshape(mask, (batch, 1, height, width)), p, activation, xp, eps, trace)  # stages 1-6
    hidden_ones = with_ones_channel(xp.reshape(hidden, (batch, hidden.shape[1], h * w)), xp)
    x = conv1x1_channels_first(hidden_ones, p["mask_downscaling.6.weight"], p["mask_downscaling.6.bias"], xp)  # stage 7
    dense = xp.permute_dims(xp.reshape(x, (batch, x.shape[1], h, w)), (0, 2, 3, 1))  # channels-last view
    if trace is not None:
        trace["mask.conv3"] = dense
    return dense


def mask_features(x, params, activation, xp, eps, trace=None):
    """Spec §9.5 stages 1-6 channels first: conv 2x2/s2 -> LayerNorm2d -> act -> conv 2x2/s2 ->
    LayerNorm2d -> act.  x: (b, 1, 4h, 4w) -> (b, Cm, h, w)."""
    p = params

    def record(name, value):  # value: (b, c, y, x) -> trace (b, y, x, c)
        if trace is not None:
            trace[f"mask.{name}"] = xp.permute_dims(value, (0, 2, 3, 1))
        return value

    def norm_act(x, name, index):  # LayerNorm2d then the activation, on (b, c, y, x)
        shape = x.shape
        flat = xp.reshape(x, (shape[0], shape[1], shape[2] * shape[3]))
        weight, bias = p[f"mask_downscaling.{index}.weight"], p[f"mask_downscaling.{index}.bias"]
        x = record(f"norm{name}", xp.reshape(layer_norm_channels_first(flat, weight, bias, eps, xp), shape))
        return record(f"act{name}", activation(x, xp))

    x = record(
        "conv1", conv2x2_stride2_channels_first(x, p["mask_downscaling.0.weight"], p["mask_downscaling.0.bias"], xp)
    )
    x = norm_act(x, "1", 1)
    x = record(
        "conv2", conv2x2_stride2_channels_first(x, p["mask_downscaling.3.weight"], p["mask_downscaling.3.bias"], xp)
    )
    return norm_act(x, "2", 4)
