"""Round 2 of the held-out ports: a float32 NumPy port with keras-hub's API conventions, written from
docs/spec.md: channels-last everywhere (masks (B, M, 4h, 4w, 1), dense (B, h, w, C), HWIO kernels),
boxes as corner pairs (B, M, 2, 2), no padding point (the caller gives it), labels 2 and 3 as
foreground; the image loop is explicit, one image at a time. Profile ``keras_hub``.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import erf

F32 = np.float32


def hwio(weight):
    """A PyTorch (Cout, Cin, kh, kw) kernel as (kh, kw, Cin, Cout)."""
    return np.ascontiguousarray(weight.transpose(2, 3, 1, 0))


class NhwcNumpyPort:
    name, profile, compute_dtype = "round2-numpy-nhwc", "keras_hub", "float32"

    def build(self, config, params):
        p = {k: np.asarray(v, dtype=F32) for k, v in params.items()}
        self.c = config["hidden_size"]
        self.hw = tuple(config["image_embedding_size"])
        self.image_hw = tuple(config["input_image_size"])
        self.gaussian = p["pe_layer.positional_encoding_gaussian_matrix"]
        self.not_a_point = p["not_a_point_embed.weight"][0]
        self.background, self.foreground, self.top_left, self.bottom_right = (
            p[f"point_embeddings.{i}.weight"][0] for i in range(4)
        )
        self.no_mask_embed = p["no_mask_embed.weight"][0]
        self.kernels = [
            (self.kernel(p[f"mask_downscaling.{i}.weight"]), p[f"mask_downscaling.{i}.bias"]) for i in (0, 3, 6)
        ]
        self.norms = [(p[f"mask_downscaling.{i}.weight"], p[f"mask_downscaling.{i}.bias"]) for i in (1, 4)]

    def kernel(self, weight):
        return hwio(weight)

    # ---- §3, §4 -----------------------------------------------------------------------------
    def shift(self, xy):
        return xy + F32(0.5)

    def unit(self, xy):
        h, w = self.image_hw
        return xy / np.array([w, h], dtype=F32)

    def fourier(self, unit):
        angle = F32(2 * math.pi) * ((F32(2) * unit - F32(1)) @ self.gaussian)
        return np.concatenate([np.sin(angle), np.cos(angle)], axis=-1)

    # ---- §5: one image at a time ------------------------------------------------------------
    def point_tokens(self, xy, labels):
        """xy (N, 2) shifted, labels (N,) → (N, C)."""
        pe = self.fourier(self.unit(xy))
        out = np.empty((len(labels), self.c), F32)
        for n, label in enumerate(labels):
            if label == -1:
                out[n] = self.not_a_point
            elif label == 0:
                out[n] = pe[n] + self.background
            else:
                out[n] = pe[n] + self.foreground
        return out

    def all_point_tokens(self, points, labels):
        return np.stack([self.point_tokens(self.shift(points[b]), labels[b]) for b in range(len(points))])

    # ---- §6 ---------------------------------------------------------------------------------
    def corner_rows(self, m):
        return np.tile(np.stack([self.top_left, self.bottom_right]), (m, 1))

    def box_tokens(self, corners):
        """corners (M, 2, 2) → (2M, C): tl₀, br₀, tl₁, br₁, …"""
        m = len(corners)
        pe = self.fourier(self.unit(self.shift(corners.reshape(2 * m, 2))))
        return pe + self.corner_rows(m)

    # ---- §8 ---------------------------------------------------------------------------------
    def cell_centres(self):
        h, w = self.hw
        x = (np.arange(w, dtype=F32) + F32(0.5)) / F32(w)
        y = (np.arange(h, dtype=F32) + F32(0.5)) / F32(h)
        return np.stack(np.meshgrid(x, y), axis=-1)  # (h, w, 2): meshgrid's default xy indexing

    def dense_pe(self, batch):
        return self.fourier(self.cell_centres())[None]

    # ---- §9, §10 ----------------------------------------------------------------------------
    def conv(self, x, index):
        kernel, bias = self.kernels[index]
        k = kernel.shape[0]
        h, w = x.shape[0] // k, x.shape[1] // k
        windows = x.reshape(h, k, w, k, -1).transpose(0, 2, 1, 3, 4).reshape(h, w, -1)
        return windows @ kernel.reshape(-1, kernel.shape[-1]) + bias

    def statistics(self, x):
        mean = x.mean(axis=-1, keepdims=True)
        return mean, ((x - mean) ** 2).mean(axis=-1, keepdims=True)

    def norm(self, x, index):
        gamma, beta = self.norms[index]
        mean, var = self.statistics(x)
        return (x - mean) / np.sqrt(var + F32(1e-6)) * gamma + beta

    def gelu(self, x):
        return F32(0.5) * x * (F32(1) + erf(x / F32(math.sqrt(2.0))).astype(F32))

    def downscale(self, mask):
        """One mask (4h, 4w, 1) → (h, w, C)."""
        x = mask.astype(F32)
        x = self.gelu(self.norm(self.conv(x, 0), 0))
        x = self.gelu(self.norm(self.conv(x, 1), 1))
        return self.conv(x, 2)

    # ---- §7, §11 ----------------------------------------------------------------------------
    def run(self, points, labels, boxes, masks):
        batch = next(np.shape(x)[0] for x in (points, boxes, masks) if x is not None)
        parts = []
        if points is not None:
            parts.append(self.all_point_tokens(np.asarray(points, F32), np.asarray(labels)))
        if boxes is not None:
            boxes = np.asarray(boxes, F32)
            parts.append(np.stack([self.box_tokens(boxes[b]) for b in range(batch)]).reshape(batch, -1, self.c))
        sparse = np.concatenate(parts, axis=1) if parts else np.zeros((batch, 0, self.c), F32)
        if masks is not None and masks.shape[1] > 0:
            flat = np.asarray(masks).reshape(-1, *masks.shape[2:])
            dense = np.stack([self.downscale(m) for m in flat])
        else:
            h, w = self.hw
            dense = np.broadcast_to(self.no_mask_embed, (batch, h, w, self.c))
        return {
            "prompt_sparse_embeddings": sparse,
            "prompt_dense_embeddings": np.ascontiguousarray(dense),
            "prompt_dense_positional_embeddings": self.dense_pe(batch),
        }


class NhwcFaithful(NhwcNumpyPort):
    name = "NhwcFaithful"


class NhwcKernelReversedAxes(NhwcNumpyPort):
    """OIHW → HWIO written as a full reversal, transpose(3, 2, 1, 0): (kw, kh, Cin, Cout)."""

    def kernel(self, weight):
        return np.ascontiguousarray(weight.transpose(3, 2, 1, 0))


class NhwcNormOverHeight(NhwcNumpyPort):
    """LayerNorm2d moved from NCHW code keeping `axis=1`: in NHWC that is the height."""

    def statistics(self, x):
        mean = x.mean(axis=0, keepdims=True)  # one image (H, W, C): axis 1 of (B, H, W, C)
        return mean, ((x - mean) ** 2).mean(axis=0, keepdims=True)


class NhwcGridRowCol(NhwcNumpyPort):
    """Cell centres built by a (row, col) helper: the grid stacks (y, x) into the x-first projection."""

    def cell_centres(self):
        return super().cell_centres()[..., ::-1]


class NhwcShiftInPlace(NhwcNumpyPort):
    """The batch's coordinates shifted in place inside the image loop: image b is shifted b + 1 times."""

    def all_point_tokens(self, points, labels):
        out = []
        for b in range(len(points)):
            points += F32(0.5)
            out.append(self.point_tokens(points[b], labels[b]))
        return np.stack(out)


class NhwcDensePeBatched(NhwcNumpyPort):
    """The positional grid broadcast to the prompt's batch, like the dense embedding: (B, h, w, C)."""

    def dense_pe(self, batch):
        grid = super().dense_pe(batch)
        return np.ascontiguousarray(np.broadcast_to(grid, (batch, *grid.shape[1:])))


class NhwcCornerRowsRepeated(NhwcNumpyPort):
    """Corner embeddings laid out by np.repeat, not np.tile: tl, tl, br, br for two boxes."""

    def corner_rows(self, m):
        return np.repeat(np.stack([self.top_left, self.bottom_right]), m, axis=0)


class NhwcBoxesPopped(NhwcNumpyPort):
    """An image's boxes pushed on a stack and popped: several boxes come out last first."""

    def box_tokens(self, corners):
        stack, out = list(corners), []
        while stack:
            out.append(super().box_tokens(stack.pop()[None]))
        return np.concatenate(out) if out else np.zeros((0, self.c), F32)


class NhwcFactoredNorm(NhwcNumpyPort):
    """LayerNorm2d in Keras' factored form s = γ·rsqrt(σ² + eps), y = x·s + (β − μ·s): a single
    channel (mask_in_channels 4) no longer gives exactly β."""

    def norm(self, x, index):
        gamma, beta = self.norms[index]
        mean, var = self.statistics(x)
        s = gamma / np.sqrt(var + F32(1e-6))
        return x * s + (beta - mean * s)
