"""Spec §9–§10: the dense prompt embedding, from a mask or from the no-mask embedding.

The stages are defined channels last, (B, y, x, channels), as in spec §9: LayerNorm2d normalises
over the channel axis, which is then the last one, and each convolution is one matrix product
(``conv2x2_stride2``, ``layer_norm_channels``, ``conv1x1``; ``conv2x2_stride2_literal`` spells
§9.1's sum out term by term). ``downscale_mask`` computes the same composition channels first,
(B, channels, pixels), with the ``*_channels_first`` forms below: the mask path has only 4 or 16
channels, and with the pixels on the last axis every elementwise operation runs over long
contiguous rows and each channel reduction or convolution is one matrix product over the
channels. tests/test_fast_paths.py checks every fast form against its definition.
"""

from __future__ import annotations

from .backend import namespace_name


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


def conv2x2_stride2_literal(x, weight, bias, xp):
    """Spec §9.1 term by term, the definition: the sum over the four taps of each 2x2 window.

        y[b, i, j, o] = bias[o] + sum_{di, dj} sum_c x[b, 2i+di, 2j+dj, c] * weight[o, c, di, dj]
        x: (B, H, W, Cin) -> (B, H/2, W/2, Cout)

    Tap (di, dj) of every window is the strided slice x[:, di::2, dj::2, :]; the sum over c is a
    matrix product with weight[:, :, di, dj] transposed.
    """
    out = bias
    for di in (0, 1):
        for dj in (0, 1):
            tap = x[:, di::2, dj::2, :]  # (B, H/2, W/2, Cin)
            out = out + xp.matmul(tap, xp.permute_dims(weight[:, :, di, dj], (1, 0)))
    return out


def conv2x2_stride2_channels_first(x, weight, bias, xp):
    """Spec §9.1 channels first: ``conv2x2_stride2`` with the channel axis before the pixels.

        x: (B, Cin, H, W) -> (B, Cout, H/2, W/2)

    Why this equals the definition: as in ``conv2x2_stride2`` the windows tile the input, so one
    reshape gathers each window's 4*Cin values, here as a column, in the (c, di, dj) order in
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


def conv1x1(x, weight, bias, xp):
    """Spec §9.4, a 1x1 convolution: a matrix product over the channel axis.

    y[b, i, j, o] = bias[o] + sum_c x[b, i, j, c] * weight[o, c, 0, 0]
    x: (B, h, w, Cin), weight: (Cout, Cin, 1, 1) -> (B, h, w, Cout)
    """
    kernel = xp.permute_dims(xp.reshape(weight, (weight.shape[0], weight.shape[1])), (1, 0))
    return xp.matmul(x, kernel) + bias


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


def downscale_mask_literal(mask, params, activation, xp, eps=1e-6, trace=None):
    """Spec §9.5 as written, the definition: the composition of the literal stages, channels last.

    mask: (B, 4h, 4w) -> (B, h, w, C)
    """
    p = params

    def record(name, value):
        if trace is not None:
            trace[f"mask.{name}"] = value
        return value

    x = mask[..., None]  # one input channel, channels last: (B, 4h, 4w, 1)
    x = record("conv1", conv2x2_stride2_literal(x, p["mask_downscaling.0.weight"], p["mask_downscaling.0.bias"], xp))
    x = record("norm1", layer_norm_channels(x, p["mask_downscaling.1.weight"], p["mask_downscaling.1.bias"], eps, xp))
    x = record("act1", activation(x, xp))
    x = record("conv2", conv2x2_stride2_literal(x, p["mask_downscaling.3.weight"], p["mask_downscaling.3.bias"], xp))
    x = record("norm2", layer_norm_channels(x, p["mask_downscaling.4.weight"], p["mask_downscaling.4.bias"], eps, xp))
    x = record("act2", activation(x, xp))
    x = record("conv3", conv1x1(x, p["mask_downscaling.6.weight"], p["mask_downscaling.6.bias"], xp))
    return x


def downscale_mask(mask, params, activation, xp, eps=1e-6, trace=None):
    """Spec §9.5, the mask downscaler: 4x smaller, hidden_size channels.

        conv 2x2/s2 (1 -> Cm/4) -> LayerNorm2d -> act -> conv 2x2/s2 (Cm/4 -> Cm) -> LayerNorm2d
        -> act -> conv 1x1 (Cm -> C)
        mask: (B, 4h, 4w) -> (B, h, w, C)

    ``activation`` is a function ``f(x, xp)`` (elementwise, so indifferent to the layout);
    ``trace``, when a dict, receives every intermediate as a channels-last view (spec §11.4).
    Computed channels first, the whole batch at once (see the module docstring), and returned as
    a channels-last view; ``downscale_mask_literal`` is the definition. On NumPy the encoder's
    ``__call__`` runs reference/fast_mask.py instead.
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


def no_mask_embedding(no_mask_embed, batch, image_embedding_size, xp):
    """Spec §10, the dense embedding when no mask is given: one learned vector at every cell.

    D[b, i, j, :] = no_mask_embed[0, :]       no_mask_embed: (1, C) -> (B, h, w, C)
    """
    h, w = image_embedding_size
    channels = no_mask_embed.shape[1]
    return xp.broadcast_to(xp.reshape(no_mask_embed, (1, 1, 1, channels)), (batch, h, w, channels))
