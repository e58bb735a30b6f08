"""A plain NumPy port of SAM's prompt encoder, written from docs/spec.md (§3–§11) the way a porter
writes one: float32, channels-last mask path, one method per stage. ``NumpyPort`` is faithful; the
subclasses in ``numpy_bugs.py`` each override one stage the way a porter gets it wrong.

It is an adapter (docs/adapters.md) under the ``sam`` profile: it appends the padding point itself
(§5.1), takes boxes (B, 4) and masks (B, 1, 4h, 4w), and returns dense outputs channels-first.
It has no ``trace()``: most hand-written ports do not.
"""

from __future__ import annotations

import numpy as np
from scipy.special import erf


class NumpyPort:
    name = "numpy-port"
    profile = "sam"  # no compute_dtype: like the adapter in docs/adapters.md, it declares none
    dtype = np.float32
    eps = 1e-6

    # ---- build: the weights, cast once (§1.3, §2.2)
    def build(self, config, params):
        self.C = int(config["hidden_size"])
        self.h, self.w = (int(v) for v in config["image_embedding_size"])
        self.H, self.W = (int(v) for v in config["input_image_size"])
        self.p = self.convert(params)

    def convert(self, params):
        return {k: np.asarray(v, dtype=self.dtype) for k, v in params.items()}

    def const(self, value):
        return self.dtype(value)

    # ---- §3 coordinates
    def shift(self, coords):
        return coords + self.const(0.5)

    def normalise(self, coords):
        return coords / np.array([self.W, self.H], dtype=self.dtype)

    # ---- §4 positional encoding
    def fourier_argument(self, unit):
        g = self.p["pe_layer.positional_encoding_gaussian_matrix"]
        return self.const(2 * np.pi) * ((self.const(2) * unit - self.const(1)) @ g)

    def sinusoids(self, arg):
        return np.concatenate([np.sin(arg), np.cos(arg)], axis=-1)

    def encode(self, unit):
        return self.sinusoids(self.fourier_argument(unit))

    # ---- §5 points
    def pad(self, coords, labels):
        b = coords.shape[0]
        coords = np.concatenate([coords, np.zeros((b, 1, 2), coords.dtype)], axis=1)
        labels = np.concatenate([labels, -np.ones((b, 1), labels.dtype)], axis=1)
        return coords, labels

    def embed_points(self, points, labels, pad):
        coords = self.shift(np.asarray(points, dtype=self.dtype))
        labels = np.asarray(labels)
        if pad:
            coords, labels = self.pad(coords, labels)
        pe = self.encode(self.normalise(coords))
        return self.label_tokens(pe, labels)

    def label_tokens(self, pe, labels):
        p = self.p
        tokens = np.where((labels == -1)[..., None], 0, pe).astype(self.dtype)
        tokens = tokens + (labels == -1)[..., None] * p["not_a_point_embed.weight"][0]
        tokens = tokens + (labels == 0)[..., None] * p["point_embeddings.0.weight"][0]
        tokens = tokens + (labels == 1)[..., None] * p["point_embeddings.1.weight"][0]
        return tokens.astype(self.dtype)

    # ---- §6 boxes
    def box_corners(self, boxes):
        return self.shift(np.asarray(boxes, dtype=self.dtype)).reshape(-1, 2, 2)

    def embed_boxes(self, boxes):
        pe = self.encode(self.normalise(self.box_corners(boxes)))
        pe[:, 0] += self.p["point_embeddings.2.weight"][0]
        pe[:, 1] += self.p["point_embeddings.3.weight"][0]
        return pe

    # ---- §7 sparse assembly
    def empty_sparse(self, batch):
        return np.zeros((batch, 0, self.C), dtype=self.dtype)

    def sparse(self, points, labels, boxes, batch):
        parts = [self.empty_sparse(batch)]
        if points is not None:
            parts.append(self.embed_points(points, labels, pad=boxes is None))
        if boxes is not None:
            parts.append(self.embed_boxes(boxes))
        return np.concatenate(parts, axis=1)

    # ---- §8 dense positional grid
    def cell_centres(self):
        ys = (np.arange(self.h, dtype=self.dtype) + self.const(0.5)) / self.const(self.h)
        xs = (np.arange(self.w, dtype=self.dtype) + self.const(0.5)) / self.const(self.w)
        return np.stack(np.meshgrid(xs, ys), axis=-1)  # (h, w, 2), (x, y)

    def dense_pe(self):
        return self.encode(self.cell_centres()).transpose(2, 0, 1)[None]

    # ---- §9 mask downscaler, channels-last
    def conv2x2(self, x, weight, bias):
        b, hx, wx, cin = x.shape
        win = x.reshape(b, hx // 2, 2, wx // 2, 2, cin).transpose(0, 1, 3, 2, 4, 5)
        win = win.reshape(b, hx // 2, wx // 2, 4 * cin)
        kernel = weight.transpose(2, 3, 1, 0).reshape(4 * cin, -1)
        return win @ kernel + bias

    def layer_norm(self, x, gamma, beta):
        mu = x.mean(axis=-1, keepdims=True)
        var = ((x - mu) ** 2).mean(axis=-1, keepdims=True)
        return (x - mu) / np.sqrt(var + self.const(self.eps)) * gamma + beta

    def activation(self, x):
        return (x * self.const(0.5) * (self.const(1) + erf(x / self.const(np.sqrt(2))))).astype(self.dtype)

    def conv1x1(self, x, weight, bias):
        return x @ weight[:, :, 0, 0].T + bias

    def downscale(self, masks):
        p = self.p
        x = np.asarray(masks, dtype=self.dtype)[:, 0, :, :, None]
        x = self.conv2x2(x, p["mask_downscaling.0.weight"], p["mask_downscaling.0.bias"])
        x = self.activation(self.layer_norm(x, p["mask_downscaling.1.weight"], p["mask_downscaling.1.bias"]))
        x = self.conv2x2(x, p["mask_downscaling.3.weight"], p["mask_downscaling.3.bias"])
        x = self.activation(self.layer_norm(x, p["mask_downscaling.4.weight"], p["mask_downscaling.4.bias"]))
        x = self.conv1x1(x, p["mask_downscaling.6.weight"], p["mask_downscaling.6.bias"])
        return x.transpose(0, 3, 1, 2)

    # ---- §10 no mask
    def no_mask(self, batch):
        embed = self.p["no_mask_embed.weight"].reshape(1, -1, 1, 1)
        return np.broadcast_to(embed, (batch, self.C, self.h, self.w))

    # ---- §11
    def batch_size(self, points, boxes, masks):
        for given in (points, boxes, masks):
            if given is not None:
                return np.asarray(given).shape[0]
        return 1

    def run(self, points, labels, boxes, masks):
        batch = self.batch_size(points, boxes, masks)
        dense = self.no_mask(batch) if masks is None else self.downscale(masks)
        return {
            "prompt_sparse_embeddings": self.sparse(points, labels, boxes, batch),
            "prompt_dense_embeddings": np.ascontiguousarray(dense),
            "prompt_dense_positional_embeddings": self.dense_pe(),
        }
