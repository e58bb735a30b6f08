"""Spec §9 on NumPy, fast: the mask downscaler as ``SAMPromptEncoder.__call__`` computes it there.

The definition is ``masks.downscale_mask`` (channels last, stage by stage), which the teaching
composition calls. Why this equals the definition: this module computes the same composition, the
stages' arithmetic in the spec's order, rearranged in two ways that are exact in real arithmetic:

1. *The pixels in window order.* LayerNorm2d (§9.2) and the activation (§9.3) act on each
   pixel's channel vector alone, so between the convolutions the order of the pixels is free.
   With the mask's pixels gathered once in the order (di1, dj1 | di2, dj2, image, i, j) — the
   first convolution's tap, the second's tap, the output cell — both 2x2 stride-2 convolutions
   (§9.1) are plain matrix products: the first contracts over the rows (di1, dj1), and its output
   rows (c, di2, dj2) are then exactly the second convolution's window vectors, in the order of
   PyTorch's weight (Cout, Cin, 2, 2). One gather replaces a window gather per convolution.
2. *Each bias inside its product*, as the weight of one more input row that is constant 1
   ([W | b] @ [z; 1] = W z + b, ``channels_first.kernel_with_bias``): every product writes its
   output once, the largest (the 1x1 convolution's, hidden_size channels) straight into place.

LayerNorm and the activation then run in place on each chunk of images, whose arrays stay in the
core's cache. LayerNorm's centring is deliberately not folded into the convolution before it
(x - mean_c x = (W - mean_o W) z + (b - mean_o b), exact too, and one pass fewer): in float32 it
would avoid the cancellation of a large common mode and so be far more accurate than the spec's
order on a near-constant mask (masks.near_zero_variance: 3e-7 against 4e-5), and the tolerance
model takes this code's float32 error as the error a faithful float32 port makes.
``tests/test_fast_paths.py`` checks the result against
``masks.downscale_mask`` (float64, 1e-12) and against the teaching composition.
"""

from __future__ import annotations

import numpy as np

from ..masks import normalised_without_overflow
from .channels_first import kernel_with_bias
from .normal_tail import gelu_from_upper_tail

CHUNK_BYTES = 2**19  # images per chunk: about this many bytes of first-layer activations (measured best
# on the 2-core machine of docs/performance.md: two 256 x 256 masks a chunk in float32, one in float64)


def window_order(masks, out):
    """Spec §9.1 twice, the gather:
    out[(di1, dj1), (di2, dj2), image, i, j] = masks[image, 4i + 2di2 + di1, 4j + 2dj2 + dj1].

    masks: (n, 4h, 4w) -> out: (2, 2, 2, 2, n, h, w), written in place
    """
    n, height, width = masks.shape
    h, w = height // 4, width // 4
    windows = np.reshape(masks, (n, h, 2, 2, w, 2, 2))  # (image, i, di2, di1, j, dj2, dj1)
    np.copyto(out, np.transpose(windows, (3, 6, 2, 5, 0, 1, 4)))


def normalise_in_place(x, weight, bias, eps):
    """Spec §9.2 in place on x (C, P): x <- (x - mu) / sqrt(var + eps) * gamma + beta, per pixel.

    The same operations as ``channels_first.layer_norm_channels_first``; where the squares overflow, the
    rescaled form (``masks.normalised_without_overflow``).
    """
    channels = x.shape[0]
    average = np.full((1, channels), 1.0 / channels, dtype=x.dtype)
    x -= average @ x  # centred
    with np.errstate(over="ignore"):  # an overflowing square is handled below
        variance = average @ (x * x)
    if not np.all(np.isfinite(variance)):
        x[...] = normalised_without_overflow(x, eps, 0, np) * weight[:, None] + bias[:, None]
        return
    variance += eps
    x *= 1.0 / np.sqrt(variance)
    x *= weight[:, None]
    x += bias[:, None]


def activate_in_place(x, activation):
    """Spec §9.3 in place (the fast GELU writes its result straight into x)."""
    if activation is gelu_from_upper_tail:
        activation(x, np, out=x)
    else:
        x[...] = activation(x, np)


def image_chunks(batch, step):
    """The chunks of images as slices: ``step`` images each, except the first and the last, which
    have half as many, so that on two lanes (``fast.two_lanes``) the second lane starts sooner and
    the two finish closer together."""
    edge = max(1, step // 2)
    if batch <= 2 * edge:
        return [slice(start, min(start + edge, batch)) for start in range(0, batch, edge)]
    inner = list(range(edge, batch - edge, step)) + [batch - edge]
    return [slice(0, edge)] + [slice(a, b) for a, b in zip(inner[:-1], inner[1:])] + [slice(batch - edge, batch)]


class MaskDownscaler:
    """Spec §9.5 on NumPy: ``downscale_mask``'s composition for a batch, in chunks of images.

        masks: (B, 4h, 4w) -> ``output``: (B, h*w, C) for float32, (B, C, h*w) otherwise
        (the layout in which OpenBLAS writes this K = Cm + 1 product faster in the dtype, measured:
        docs/performance.md); ``dense()`` is the (B, h, w, C) view.

    For each chunk of images (``chunks``), ``project(chunk, features(first_layer(chunk)))``
    computes stage 1 (the first convolution), stages 2-6 (LayerNorms, activations and the second
    convolution) and stage 7 (the 1x1 convolution, written into the output). Chunks are
    independent and write disjoint slices, so they may run in any order, at once.
    """

    def __init__(self, masks, params, activation, eps):
        p = params
        self.masks, self.activation, self.eps = masks, activation, eps
        self.dtype = np.result_type(masks, *p.values())
        self.kernels = [
            kernel_with_bias(p["mask_downscaling.0.weight"], p["mask_downscaling.0.bias"], np).astype(
                self.dtype
            ),  # (Cm/4, 5)
            kernel_with_bias(p["mask_downscaling.3.weight"], p["mask_downscaling.3.bias"], np).astype(
                self.dtype
            ),  # (Cm, Cm + 1)
        ]
        self.norms = [(p[f"mask_downscaling.{i}.weight"], p[f"mask_downscaling.{i}.bias"]) for i in (1, 4)]
        weight = p["mask_downscaling.6.weight"]
        self.projection = kernel_with_bias(weight, p["mask_downscaling.6.bias"], np).astype(self.dtype)  # (C, Cm + 1)
        batch, height, width = masks.shape
        self.h, self.w, self.hidden = height // 4, width // 4, weight.shape[0]
        first_layer_bytes = self.kernels[0].shape[0] * (height // 2) * (width // 2) * self.dtype.itemsize  # an image's
        self.chunks = image_chunks(batch, max(1, CHUNK_BYTES // first_layer_bytes))
        self.channels_last = self.dtype == np.float32
        cells = self.h * self.w
        self.output = np.empty(
            (batch, cells, self.hidden) if self.channels_last else (batch, self.hidden, cells), self.dtype
        )

    def first_layer(self, chunk):
        """Stage 1 for the chunk of images ``chunk`` (a slice): -> (4 * Cm/4 + 1, n*h*w), rows
        (c, di2, dj2) of the first convolution (the second convolution's window vectors, still to
        be normalised and activated), then ones."""
        masks = self.masks[chunk]
        n, cells = masks.shape[0], self.h * self.w
        first, second = self.kernels
        taps = np.empty((5, 4 * n * cells), self.dtype)  # the mask's pixels in window order, then ones
        window_order(masks, np.reshape(taps[:4], (2, 2, 2, 2, n, self.h, self.w)))
        taps[4] = 1
        hidden = np.empty((second.shape[1], n * cells), self.dtype)
        np.matmul(first, taps, out=np.reshape(hidden[:-1], (first.shape[0], 4 * n * cells)))  # §9.1
        hidden[-1] = 1
        return hidden

    def features(self, hidden):
        """Stages 2-6 from ``first_layer``'s output (n*h*w cells), which they overwrite:
        -> (Cm + 1, n*h*w), the features of each cell, then ones (the 1x1 convolution's bias)."""
        first, second = self.kernels
        (norm1, norm2), cells = self.norms, hidden.shape[1]
        x = np.reshape(hidden[:-1], (first.shape[0], 4 * cells))
        normalise_in_place(x, *norm1, self.eps)  # §9.2
        activate_in_place(x, self.activation)  # §9.3
        features = np.empty((second.shape[0] + 1, cells), self.dtype)
        x = features[:-1]
        np.matmul(second, hidden, out=x)  # §9.1
        normalise_in_place(x, *norm2, self.eps)  # §9.2
        activate_in_place(x, self.activation)  # §9.3
        features[-1] = 1
        return features

    def project(self, chunk, features):
        """Stage 7, the 1x1 convolution (§9.4), of features (Cm + 1, n*h*w) with its ones row, into
        the output's slice for the chunk of images ``chunk`` (a slice)."""
        cells, n = self.h * self.w, chunk.stop - chunk.start
        if self.channels_last:
            np.matmul(features.T, self.projection.T, out=np.reshape(self.output[chunk], (n * cells, self.hidden)))
        else:
            for image in range(n):
                np.matmul(
                    self.projection,
                    features[:, image * cells : (image + 1) * cells],
                    out=self.output[chunk.start + image],
                )

    def dense(self):
        """The output as (B, h, w, C) (a view)."""
        batch = self.output.shape[0]
        if self.channels_last:
            return np.reshape(self.output, (batch, self.h, self.w, self.hidden))
        return np.transpose(np.reshape(self.output, (batch, self.hidden, self.h, self.w)), (0, 2, 3, 1))
