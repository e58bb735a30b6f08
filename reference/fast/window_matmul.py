"""Spec §9.1, fast form: the 2x2 stride-2 convolution as one matrix product over gathered windows."""

from __future__ import annotations


def conv2x2_stride2_by_windows(x, weight, bias, xp):
    """Spec §9.1, a 2x2 convolution with stride 2, as one matrix product over gathered windows.

        y[b, i, j, o] = bias[o] + sum_{di, dj, c} x[b, 2i+di, 2j+dj, c] * weight[o, c, di, dj]
        x: (B, H, W, Cin), weight: (Cout, Cin, 2, 2) as in PyTorch, bias: (Cout,) -> (B, H/2, W/2, Cout)

    Why this equals the definition (``masks.conv2x2_stride2``, the sum over the four taps): the
    windows tile the image exactly, so a reshape gathers each 2x2 window into one vector of
    4*Cin values, and the sum over (di, dj, c) is one matrix product with the kernel flattened in
    the same (di, dj, c) order (spec §9.1's "as reshape + matmul").
    """
    batch, height, width, cin = x.shape
    cout = weight.shape[0]
    windows = xp.reshape(x, (batch, height // 2, 2, width // 2, 2, cin))
    windows = xp.permute_dims(windows, (0, 1, 3, 2, 4, 5))  # (B, H/2, W/2, di, dj, c)
    windows = xp.reshape(windows, (batch, height // 2, width // 2, 4 * cin))
    kernel = xp.reshape(xp.permute_dims(weight, (2, 3, 1, 0)), (4 * cin, cout))  # (di, dj, c) x o
    return xp.matmul(windows, kernel) + bias
