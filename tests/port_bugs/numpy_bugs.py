"""Buggy NumPy ports: each subclass of the faithful ``NumpyPort`` rewrites one stage the way a
porter gets it wrong (registry: ``bugs.py``). ``NumpyPortFloat64Inside`` is a faithful rewrite."""

from __future__ import annotations

import numpy as np

from .numpy_port import NumpyPort


# ---------------------------------------------------------------- faithful rewrites
class NumpyPortFloat64Inside(NumpyPort):
    """Faithful: computes every stage in float64 and rounds the three outputs to float32 once."""

    name = "numpy-f64-inside"
    dtype = np.float64

    def run(self, points, labels, boxes, masks):
        return {k: np.asarray(v, dtype=np.float32) for k, v in super().run(points, labels, boxes, masks).items()}


class NumpyLinspaceComplexFaithful(NumpyPort):
    """Faithful: the grid's cell centres by ``np.linspace`` and the sinusoids from ``np.exp(1j * A)``
    (complex64), each rounded differently from the reference but within float32's rounding."""

    name = "numpy-linspace-complex"

    def cell_centres(self):
        ys = np.linspace(0.5 / self.h, 1 - 0.5 / self.h, self.h, dtype=self.dtype)
        xs = np.linspace(0.5 / self.w, 1 - 0.5 / self.w, self.w, dtype=self.dtype)
        return np.stack(np.meshgrid(xs, ys), axis=-1)

    def sinusoids(self, arg):
        z = np.exp(1j * arg.astype(np.complex64))
        return np.concatenate([z.imag, z.real], axis=-1).astype(self.dtype)


class NumpyOddStridesFaithful(NumpyPort):
    """Faithful: returns views (a Fortran-ordered sparse copy, the dense output as a transposed view of a
    channels-last array, the grid as a read-only broadcast view)."""

    name = "numpy-odd-strides"

    def downscale(self, masks):
        return np.asfortranarray(super().downscale(masks))

    def run(self, points, labels, boxes, masks):
        out = super().run(points, labels, boxes, masks)
        dense = np.ascontiguousarray(out["prompt_dense_embeddings"].transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
        pe = out["prompt_dense_positional_embeddings"]
        return {
            "prompt_sparse_embeddings": np.asfortranarray(out["prompt_sparse_embeddings"]),
            "prompt_dense_embeddings": dense,
            "prompt_dense_positional_embeddings": np.broadcast_to(pe[0], pe.shape),
        }


# ---------------------------------------------------------------- §3 coordinates
class ShiftOnlyIntegerInputs(NumpyPort):
    """§3.1: shifts by 0.5 only integer pixel indices, believing float coordinates are already centres."""

    def embed_points(self, points, labels, pad):
        shifted = np.issubdtype(np.asarray(points).dtype, np.integer)
        coords = np.asarray(points, dtype=self.dtype) + (self.const(0.5) if shifted else self.const(0))
        labels = np.asarray(labels)
        if pad:
            coords, labels = self.pad(coords, labels)
        return self.label_tokens(self.encode(self.normalise(coords)), labels)

    def box_corners(self, boxes):
        shifted = np.issubdtype(np.asarray(boxes).dtype, np.integer)
        coords = np.asarray(boxes, dtype=self.dtype) + (self.const(0.5) if shifted else self.const(0))
        return coords.reshape(-1, 2, 2)


class ShiftTypo(NumpyPort):
    """§3.1: the pixel-centre shift typed as 0.4999 (an error far below a pixel, of float16's size)."""

    def shift(self, coords):
        return coords + self.const(0.4999)


class NormaliseWithEpsilon(NumpyPort):
    """§3.2: divides by (size + 1e-4) "to avoid a division by zero"."""

    def normalise(self, coords):
        return coords / (np.array([self.W, self.H], dtype=self.dtype) + self.const(1e-4))


class SecondNormEps1e5(NumpyPort):
    """§9.2 wrong default: the second LayerNorm2d built with PyTorch's default eps 1e-5 (the first has 1e-6)."""

    def downscale(self, masks):
        self._norms = 0
        return super().downscale(masks)

    def layer_norm(self, x, gamma, beta):
        self._norms += 1
        self.eps = 1e-5 if self._norms == 2 else 1e-6
        try:
            return super().layer_norm(x, gamma, beta)
        finally:
            self.eps = 1e-6


# ---------------------------------------------------------------- §4 positional encoding
class CosFromSin(NumpyPort):
    """§4.2: takes cos A = sqrt(1 - sin² A) to save a transcendental call (loses the sign of cos)."""

    def sinusoids(self, arg):
        s = np.sin(arg)
        return np.concatenate([s, np.sqrt(np.maximum(self.const(1) - s * s, 0))], axis=-1)


class CentringPrecedence(NumpyPort):
    """§4.1: writes the centring as 2 * (u - 1) (an operator-precedence slip) instead of 2u - 1."""

    def fourier_argument(self, unit):
        g = self.p["pe_layer.positional_encoding_gaussian_matrix"]
        return self.const(2 * np.pi) * ((self.const(2) * (unit - self.const(1))) @ g)


class PiTyped(NumpyPort):
    """§4.1: 2π typed as 2 * 3.1416 (a hand-written constant, off by 7e-6 relative)."""

    def fourier_argument(self, unit):
        g = self.p["pe_layer.positional_encoding_gaussian_matrix"]
        return self.const(2 * 3.1416) * ((self.const(2) * unit - self.const(1)) @ g)


def round_to_bfloat16(x):
    """float32 values rounded to bfloat16 (round to nearest even on the upper 16 bits), as float32."""
    bits = np.asarray(x, dtype=np.float32).view(np.uint32)
    rounded = (bits + np.uint32(0x7FFF) + ((bits >> np.uint32(16)) & np.uint32(1))) & np.uint32(0xFFFF0000)
    return rounded.view(np.float32)


class GaussianBfloat16Checkpoint(NumpyPort):
    """Precision, weights: the Gaussian matrix comes from a bfloat16 checkpoint (rounded to bfloat16)."""

    def convert(self, params):
        p = super().convert(params)
        key = "pe_layer.positional_encoding_gaussian_matrix"
        p[key] = round_to_bfloat16(p[key])
        return p


# ---------------------------------------------------------------- §5 points
class PaddingLabelPrepended(NumpyPort):
    """§5.1 off by one: appends the padding point after the points but prepends its label -1."""

    def pad(self, coords, labels):
        b = coords.shape[0]
        coords = np.concatenate([coords, np.zeros((b, 1, 2), coords.dtype)], axis=1)
        labels = np.concatenate([-np.ones((b, 1), labels.dtype), labels], axis=1)
        return coords, labels


class PadWhenNoMask(NumpyPort):
    """§5.1: pads the points when no *mask* is given (copy-paste of the wrong condition) instead of no box."""

    def run(self, points, labels, boxes, masks):
        self._masks_given = masks is not None
        return super().run(points, labels, boxes, masks)

    def sparse(self, points, labels, boxes, batch):
        parts = [self.empty_sparse(batch)]
        if points is not None:
            parts.append(self.embed_points(points, labels, pad=not self._masks_given))
        if boxes is not None:
            parts.append(self.embed_boxes(boxes))
        return np.concatenate(parts, axis=1)


class PaddingPrepended(NumpyPort):
    """§5.1 ordering: the padding point and its label -1 are put before the points instead of after them."""

    def pad(self, coords, labels):
        b = coords.shape[0]
        coords = np.concatenate([np.zeros((b, 1, 2), coords.dtype), coords], axis=1)
        labels = np.concatenate([-np.ones((b, 1), labels.dtype), labels], axis=1)
        return coords, labels


_LABEL_ROWS = {}


class LabelRowsCachedBySize(NumpyPort):
    """§5.2 state: the label rows are memoised by hidden size (a "cheap" key), so a later build with other
    weights of the same size reuses the first build's not_a_point/background/foreground rows."""

    def label_tokens(self, pe, labels):
        keys = ("not_a_point_embed.weight", "point_embeddings.0.weight", "point_embeddings.1.weight")
        rows = _LABEL_ROWS.setdefault(self.C, [self.p[k].copy() for k in keys])
        cached = dict(self.p, **dict(zip(keys, rows)))
        own, self.p = self.p, cached
        try:
            return super().label_tokens(pe, labels)
        finally:
            self.p = own


class LabelsOfFirstImage(NumpyPort):
    """§5.2 batching: looks the label embeddings up with the first image's labels for the whole batch."""

    def label_tokens(self, pe, labels):
        return super().label_tokens(pe, np.broadcast_to(labels[:1], labels.shape))


class OutsidePointsWrapped(NumpyPort):
    """§3.2: wraps coordinates into the image, x mod W and y mod H, before the shift (points only)."""

    def embed_points(self, points, labels, pad):
        wrapped = np.mod(np.asarray(points, dtype=self.dtype), np.array([self.W, self.H], dtype=self.dtype))
        return super().embed_points(wrapped, labels, pad)


# ---------------------------------------------------------------- §6 boxes
class BoxesClippedToImage(NumpyPort):
    """§6.1: clips box corners into the image, [0, W-1] x [0, H-1], before the shift."""

    def box_corners(self, boxes):
        hi = np.array([self.W - 1, self.H - 1, self.W - 1, self.H - 1], dtype=self.dtype)
        boxes = np.clip(np.asarray(boxes, dtype=self.dtype), 0, hi)
        return self.shift(boxes).reshape(-1, 2, 2)


class BoxCornersSorted(NumpyPort):
    """§6.1: "repairs" boxes to (min x, min y, max x, max y) before encoding them."""

    def box_corners(self, boxes):
        b = np.asarray(boxes, dtype=self.dtype)
        lo, hi = np.minimum(b[:, :2], b[:, 2:]), np.maximum(b[:, :2], b[:, 2:])
        return self.shift(np.concatenate([lo, hi], axis=1)).reshape(-1, 2, 2)


class DegenerateBoxesWidened(NumpyPort):
    """§6.1: "repairs" degenerate boxes to at least one pixel wide and high (x2 = max(x2, x1 + 1))."""

    def box_corners(self, boxes):
        b = np.array(boxes, dtype=self.dtype)
        b[:, 2:] = np.maximum(b[:, 2:], b[:, :2] + self.const(1))
        return self.shift(b).reshape(-1, 2, 2)


# ---------------------------------------------------------------- §7 assembly
class EmptySparseBatchOne(NumpyPort):
    """§7: with neither points nor boxes returns one empty sequence, (1, 0, C), whatever the batch."""

    def sparse(self, points, labels, boxes, batch):
        if points is None and boxes is None:
            return np.zeros((1, 0, self.C), dtype=self.dtype)
        return super().sparse(points, labels, boxes, batch)


class EmptySparseFloat64(NumpyPort):
    """§7/§11.3 dtype: starts the sparse output from np.zeros((B, 0, C)) without a dtype (float64), so
    every sparse output is float64 holding float32 values."""

    def empty_sparse(self, batch):
        return np.zeros((batch, 0, self.C))


# ---------------------------------------------------------------- §8 grid
class GridFloat16(NumpyPort):
    """§8.2 precision: builds the dense positional grid in float16 (to save memory), returned as float32."""

    def dense_pe(self):
        g = self.p["pe_layer.positional_encoding_gaussian_matrix"].astype(np.float16)
        ys = (np.arange(self.h, dtype=np.float16) + np.float16(0.5)) / np.float16(self.h)
        xs = (np.arange(self.w, dtype=np.float16) + np.float16(0.5)) / np.float16(self.w)
        unit = np.stack(np.meshgrid(xs, ys), axis=-1)
        arg = np.float16(2 * np.pi) * ((np.float16(2) * unit - np.float16(1)) @ g)
        pe = np.concatenate([np.sin(arg), np.cos(arg)], axis=-1)
        return pe.transpose(2, 0, 1)[None].astype(np.float32)


class GridFromPixelCentres(NumpyPort):
    """§8.1: builds the grid from the pixel centres of each 16-pixel patch, normalised by (W, H) like
    points; equal to the cell centres only when (H, W) = 16 (h, w)."""

    def cell_centres(self):
        ys = (np.arange(self.h, dtype=self.dtype) * 16 + self.const(8)) / self.const(self.H)
        xs = (np.arange(self.w, dtype=self.dtype) * 16 + self.const(8)) / self.const(self.W)
        return np.stack(np.meshgrid(xs, ys), axis=-1)


# ---------------------------------------------------------------- §9 mask path
class ConvTapsSwapped(NumpyPort):
    """§9.1: the 2x2 stride-2 convolution written tap by tap, ``x[:, di::2, dj::2] @ weight[:, :, dj, di].T``:
    the kernel's row and column indices swapped."""

    def conv2x2(self, x, weight, bias):
        out = bias
        for di in (0, 1):
            for dj in (0, 1):
                out = out + x[:, di::2, dj::2, :] @ weight[:, :, dj, di].T
        return out


class LayerNormOverWidth(NumpyPort):
    """§9.2 layout: LayerNorm2d written for NCHW with ``axis=-1``, which there is the width, not the channels
    (here: channels-last data normalised over its x axis)."""

    def layer_norm(self, x, gamma, beta):
        mu = x.mean(axis=-2, keepdims=True)
        var = ((x - mu) ** 2).mean(axis=-2, keepdims=True)
        return (x - mu) / np.sqrt(var + self.const(self.eps)) * gamma + beta


class ActivationBeforeNorm(NumpyPort):
    """§9 ordering: conv -> GELU -> LayerNorm2d instead of conv -> LayerNorm2d -> GELU."""

    def downscale(self, masks):
        p = self.p
        x = np.asarray(masks, dtype=self.dtype)[:, 0, :, :, None]
        x = self.conv2x2(x, p["mask_downscaling.0.weight"], p["mask_downscaling.0.bias"])
        x = self.layer_norm(self.activation(x), p["mask_downscaling.1.weight"], p["mask_downscaling.1.bias"])
        x = self.conv2x2(x, p["mask_downscaling.3.weight"], p["mask_downscaling.3.bias"])
        x = self.layer_norm(self.activation(x), p["mask_downscaling.4.weight"], p["mask_downscaling.4.bias"])
        x = self.conv1x1(x, p["mask_downscaling.6.weight"], p["mask_downscaling.6.bias"])
        return x.transpose(0, 3, 1, 2)


class GeluErfSeriesTruncated(NumpyPort):
    """§9.3: erf from its Maclaurin series cut at 8 terms (the port's language has no erf): exact near 0,
    off for |x| beyond about 1.5."""

    def activation(self, x):
        z = x / self.const(np.sqrt(2))
        term, total = z, z.copy()
        for n in range(1, 8):
            term = term * (-(z * z)) / self.const(n)
            total = total + term / self.const(2 * n + 1)
        erf = np.clip(self.const(2 / np.sqrt(np.pi)) * total, -1, 1)
        return (x * self.const(0.5) * (self.const(1) + erf)).astype(self.dtype)


class NormPrecedence(NumpyPort):
    """§9.2: writes x - mu / sqrt(var + eps) (precedence slip) for (x - mu) / sqrt(var + eps)."""

    def layer_norm(self, x, gamma, beta):
        mu = x.mean(axis=-1, keepdims=True)
        var = ((x - mu) ** 2).mean(axis=-1, keepdims=True)
        return (x - mu / np.sqrt(var + self.const(self.eps))) * gamma + beta


class VarianceOverEverything(NumpyPort):
    """§9.2 reduction: the mean is per pixel but the variance forgets axis=-1 (one variance for the whole batch)."""

    def layer_norm(self, x, gamma, beta):
        mu = x.mean(axis=-1, keepdims=True)
        var = ((x - mu) ** 2).mean()
        return (x - mu) / np.sqrt(var + self.const(self.eps)) * gamma + beta


class WindowsWithoutPermute(NumpyPort):
    """§9.1 layout: gathers the 2x2 windows by reshape alone, without moving the row tap next to the column tap."""

    def conv2x2(self, x, weight, bias):
        b, hx, wx, cin = x.shape
        win = x.reshape(b, hx // 2, wx // 2, 4 * cin)
        kernel = weight.transpose(2, 3, 1, 0).reshape(4 * cin, -1)
        return win @ kernel + bias


class MaskWeightsFloat16Checkpoint(NumpyPort):
    """Precision, weights: the mask downscaler's weights come from a float16 checkpoint (rounded to float16)."""

    def convert(self, params):
        p = super().convert(params)
        for key in p:
            if key.startswith("mask_downscaling."):
                p[key] = p[key].astype(np.float16).astype(self.dtype)
        return p


class IntegerMasksAsUint8(NumpyPort):
    """§9.5 dtype/cast: integer masks are read as uint8 (an image-mask habit), so negative integer logits wrap
    (-1 becomes 255); float masks are right."""

    def downscale(self, masks):
        masks = np.asarray(masks)
        if np.issubdtype(masks.dtype, np.integer):
            masks = masks.astype(np.uint8)
        return super().downscale(masks)


class MaskCastToInt(NumpyPort):
    """§9 dtype: reads the mask as integers (np.asarray(masks, np.int32)), truncating the logits."""

    def downscale(self, masks):
        return super().downscale(np.asarray(masks).astype(np.int32))


# ---------------------------------------------------------------- §10 no mask
class NoMaskReshapedFromNHWC(NumpyPort):
    """§10 layout: broadcasts no_mask_embed channels-last, (B, h, w, C), then reshapes it to (B, C, h, w)."""

    def no_mask(self, batch):
        embed = self.p["no_mask_embed.weight"].reshape(1, 1, 1, -1)
        return np.broadcast_to(embed, (batch, self.h, self.w, self.C)).reshape(batch, self.C, self.h, self.w)


# ---------------------------------------------------------------- §11 batch, layout, dtype
class TokensFlattenedWrong(NumpyPort):
    """§11.1 batching: encodes the points flattened to (B*N, 2) and unflattens their encodings as
    (N, B, C) transposed, which mixes the images' tokens when B > 1 (boxes and the grid are right)."""

    def embed_points(self, points, labels, pad):
        coords = self.shift(np.asarray(points, dtype=self.dtype))
        labels = np.asarray(labels)
        if pad:
            coords, labels = self.pad(coords, labels)
        b, n, _ = coords.shape
        flat = self.encode(self.normalise(coords.reshape(-1, 2)))
        return self.label_tokens(flat.reshape(n, b, -1).transpose(1, 0, 2), labels)


class BatchOneSqueezed(NumpyPort):
    """§11.1 layout: a batch of one image returns its sparse tokens unbatched, (N', C), "for convenience"."""

    def run(self, points, labels, boxes, masks):
        out = super().run(points, labels, boxes, masks)
        sparse = out["prompt_sparse_embeddings"]
        if sparse.shape[0] == 1:
            out["prompt_sparse_embeddings"] = sparse[0]
        return out


class DensePeNoBatchAxis(NumpyPort):
    """§11.2 layout: returns the dense positional grid as (C, h, w), without its batch axis of 1."""

    def dense_pe(self):
        return super().dense_pe()[0]


class WholePortFloat16(NumpyPort):
    """Precision, whole port: computes every stage in float16 and returns float32 outputs."""

    dtype = np.float16

    def run(self, points, labels, boxes, masks):
        return {k: np.asarray(v, dtype=np.float32) for k, v in super().run(points, labels, boxes, masks).items()}


# ---------------------------------------------------------------- two independent bugs
class TwoBugsLabelsBatchAndNormPrecedence(LabelsOfFirstImage, NormPrecedence):
    """Two bugs: §5.2 labels of the first image for the batch, and §9.2 the LayerNorm precedence slip."""


class TwoBugsPiTypedAndMaskInt(PiTyped, MaskCastToInt):
    """Two bugs of very different sizes: §4.1 2π typed as 2 * 3.1416 (below float16's budget), and §9 mask
    logits truncated to int32."""


class TwoBugsGridFloat16AndCornersSorted(GridFloat16, BoxCornersSorted):
    """Two bugs, one of them precision: §8.2 the grid in float16, and §6.1 boxes reordered to (min, max)."""


class TwoBugsCosFromSinAndEmptyBatch(CosFromSin, EmptySparseBatchOne):
    """Two bugs: §4.2 cos from sin, and §7 the empty sparse output with batch 1."""


# ---------------------------------------------------------------- ports that trace themselves
class Traced:
    """A ``trace()`` the way a NumPy porter adds one: each stage method records its result under the
    reference's stage names (docs/spec.md §11.4), in the reference's layouts, while ``run`` runs."""

    STAGES = {"shift": "shifted", "normalise": "normalised", "fourier_argument": "fourier_argument"}
    MASK = ("conv1", "norm1", "act1", "conv2", "norm2", "act2", "conv3")

    def trace(self, points, labels, boxes, masks):
        self._stages, self._where, self._mask_step = {}, None, 0
        try:
            outputs = self.run(points, labels, boxes, masks)
        finally:
            stages, self._stages = self._stages, None
        stages.update(outputs)
        return stages

    def _record(self, stage, value):
        if getattr(self, "_stages", None) is None or self._where is None:
            return value
        kept = np.array(value)
        if self._where == "boxes" and stage != "tokens":
            kept = kept.reshape(kept.shape[0], 1, 2, -1)
        if self._where == "mask":
            stage, self._mask_step = self.MASK[self._mask_step], self._mask_step + 1
        self._stages.setdefault(f"{self._where}.{stage}", kept)
        return value

    def _inside(self, where, fn, *args):
        previous, self._where = getattr(self, "_where", None), where
        try:
            return fn(*args)
        finally:
            self._where = previous

    def embed_points(self, points, labels, pad):
        tokens = self._inside("points", super().embed_points, points, labels, pad)
        return self._inside("points", self._record, "tokens", tokens)

    def embed_boxes(self, boxes):
        tokens = self._inside("boxes", super().embed_boxes, boxes)
        return self._inside("boxes", self._record, "tokens", tokens)

    def dense_pe(self):
        return self._inside("dense_pe", super().dense_pe)

    def downscale(self, masks):
        return self._inside("mask", super().downscale, masks)

    def shift(self, coords):
        return self._record("shifted", super().shift(coords))

    def normalise(self, coords):
        return self._record("normalised", super().normalise(coords))

    def cell_centres(self):
        return self._record("cell_centres", super().cell_centres())

    def fourier_argument(self, unit):
        return self._record("fourier_argument", super().fourier_argument(unit))

    def sinusoids(self, arg):
        out = super().sinusoids(arg)
        return self._record("grid" if self._where == "dense_pe" else "positional_encoding", out)

    def conv2x2(self, x, weight, bias):
        return self._record("conv", super().conv2x2(x, weight, bias))

    def layer_norm(self, x, gamma, beta):
        return self._record("norm", super().layer_norm(x, gamma, beta))

    def activation(self, x):
        return self._record("act", super().activation(x))

    def conv1x1(self, x, weight, bias):
        return self._record("conv", super().conv1x1(x, weight, bias))


class TracedNumpyPort(Traced, NumpyPort):
    """Faithful, with a trace()."""


class TracedCosFromSin(Traced, CosFromSin):
    """§4.2, traced: cos A = sqrt(1 - sin² A)."""


class TracedBoxesClipped(Traced, BoxesClippedToImage):
    """§6.1, traced: box corners clipped into the image."""


class TracedBoxesXXYY(Traced, NumpyPort):
    """§6.1 layout, traced: the box (B, 4) read as corners (x1, x2), (y1, y2)."""

    def box_corners(self, boxes):
        return self.shift(np.asarray(boxes, dtype=self.dtype).reshape(-1, 2, 2).transpose(0, 2, 1))


class TracedWindowsWithoutPermute(Traced, WindowsWithoutPermute):
    """§9.1, traced: 2x2 windows gathered by reshape alone."""


class TracedLabelsOfFirstImage(Traced, LabelsOfFirstImage):
    """§5.2 batching, traced: image 0's labels for the whole batch."""


class TraceFailsOnBatchesMaskCastToInt(Traced, MaskCastToInt):
    """§9 dtype (mask logits truncated to int32), with a trace() that raises on batches of more than one
    image ("not implemented"): the verdicts must not change, and the trace's failure must be reported."""

    def trace(self, points, labels, boxes, masks):
        given = [x for x in (points, boxes, masks) if x is not None]
        if given and np.asarray(given[0]).shape[0] > 1:
            raise ValueError("trace: batches of more than one image are not implemented")
        return super().trace(points, labels, boxes, masks)
