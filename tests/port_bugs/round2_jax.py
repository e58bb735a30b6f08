"""Round 2 of the held-out ports: a SAM prompt encoder written from scratch in JAX, from docs/spec.md.

Functional, float32, channels-last inside (NHWC activations, HWIO kernels, as Flax ports keep them),
converted to the ``sam`` layout on the way out. ``JaxPort`` is the adapter (profile ``sam``); each
buggy port replaces one method by what a porter wrote.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.scipy.special import erf

F32 = jnp.float32


def convert_params(params: dict) -> dict:
    """SAM v1 state_dict names → this port's tree; conv kernels OIHW → HWIO."""
    p = {k: jnp.asarray(np.asarray(v), dtype=F32) for k, v in params.items()}
    return {
        "gaussian": p["pe_layer.positional_encoding_gaussian_matrix"],
        # rows: not-a-point, background, foreground, top-left, bottom-right
        "point_table": jnp.concatenate(
            [p["not_a_point_embed.weight"]] + [p[f"point_embeddings.{i}.weight"] for i in range(4)]
        ),
        "no_mask": p["no_mask_embed.weight"][0],
        "conv": [
            (p[f"mask_downscaling.{i}.weight"].transpose(2, 3, 1, 0), p[f"mask_downscaling.{i}.bias"])
            for i in (0, 3, 6)
        ],
        "norm": [(p[f"mask_downscaling.{i}.weight"], p[f"mask_downscaling.{i}.bias"]) for i in (1, 4)],
    }


class JaxPort:
    name, profile, compute_dtype = "round2-jax", "sam", "float32"

    def build(self, config, params):
        self.c = config["hidden_size"]
        self.hw = tuple(config["image_embedding_size"])
        self.image_hw = tuple(config["input_image_size"])
        self.p = convert_params(params)

    # ---- §3, §4 -----------------------------------------------------------------------------
    def unit(self, xy):
        h, w = self.image_hw
        return (xy + 0.5) / jnp.array([w, h], dtype=F32)

    def project(self, centred):
        return centred @ self.p["gaussian"]

    def fourier(self, unit):
        angle = 2 * math.pi * self.project(2 * unit - 1)
        return jnp.concatenate([jnp.sin(angle), jnp.cos(angle)], axis=-1)

    # ---- §5 ---------------------------------------------------------------------------------
    def pad(self, xy, labels):
        b = xy.shape[0]
        # the padding point sits at (0, 0) after the shift: -0.5 before this port's combined shift
        xy = jnp.concatenate([xy, jnp.full((b, 1, 2), -0.5, F32)], axis=1)
        return xy, jnp.concatenate([labels, jnp.full((b, 1), -1, labels.dtype)], axis=1)

    def label_rows(self, labels):
        table = self.p["point_table"]
        rows = jnp.zeros(labels.shape + (self.c,), F32)
        for label, row in ((-1, 0), (0, 1), (1, 2)):
            rows = jnp.where((labels == label)[..., None], table[row], rows)
        return rows

    def points(self, xy, labels, pad):
        if pad:
            xy, labels = self.pad(xy, labels)
        pe = self.fourier(self.unit(xy))
        pe = jnp.where((labels == -1)[..., None], 0.0, pe)
        return pe + self.label_rows(labels)

    # ---- §6 ---------------------------------------------------------------------------------
    def boxes(self, boxes):
        b = boxes.shape[0]
        pe = self.fourier(self.unit(boxes.reshape(b, -1, 2, 2)))
        pe = pe + self.p["point_table"][3:5]
        return pe.reshape(b, -1, self.c)

    # ---- §8 ---------------------------------------------------------------------------------
    def cell_centres(self):
        h, w = self.hw
        ones = jnp.ones((h, w), F32)
        y = (jnp.cumsum(ones, axis=0) - 0.5) / h
        x = (jnp.cumsum(ones, axis=1) - 0.5) / w
        return jnp.stack([x, y], axis=-1)

    def dense_pe(self):
        grid = self.fourier(self.cell_centres())  # (h, w, C)
        return self.grid_to_nchw(grid)[None]

    def grid_to_nchw(self, grid):
        return grid.transpose(2, 0, 1)

    # ---- §9, §10 ----------------------------------------------------------------------------
    def conv(self, x, index):
        kernel, bias = self.p["conv"][index]
        stride = kernel.shape[0]
        y = lax.conv_general_dilated(x, kernel, (stride, stride), "VALID", dimension_numbers=("NHWC", "HWIO", "NHWC"))
        return y + bias

    def norm(self, x, index):
        gamma, beta = self.p["norm"][index]
        mean = x.mean(-1, keepdims=True)
        var = ((x - mean) ** 2).mean(-1, keepdims=True)
        return (x - mean) / jnp.sqrt(var + 1e-6) * gamma + beta

    def gelu(self, x):
        return 0.5 * x * (1 + erf(x / math.sqrt(2.0)))

    def mask_input(self, masks):
        return jnp.asarray(masks).astype(F32)

    def downscale(self, masks):
        x = self.mask_input(masks).transpose(0, 2, 3, 1)  # (B, 1, H, W) -> NHWC
        x = self.gelu(self.norm(self.conv(x, 0), 0))
        x = self.gelu(self.norm(self.conv(x, 1), 1))
        return self.conv(x, 2).transpose(0, 3, 1, 2)

    def no_mask(self, batch):
        h, w = self.hw
        return jnp.broadcast_to(self.p["no_mask"][None, :, None, None], (batch, self.c, h, w))

    # ---- §7, §11 ----------------------------------------------------------------------------
    def run(self, points, labels, boxes, masks):
        batch = next((np.shape(x)[0] for x in (points, boxes, masks) if x is not None), 1)
        parts = []
        if points is not None:
            parts.append(self.points(jnp.asarray(points, F32), jnp.asarray(labels, jnp.int32), pad=boxes is None))
        if boxes is not None:
            parts.append(self.boxes(jnp.asarray(boxes, F32)))
        sparse = jnp.concatenate(parts, axis=1) if parts else jnp.zeros((batch, 0, self.c), F32)
        dense = self.downscale(masks) if masks is not None else self.no_mask(batch)
        return {
            "prompt_sparse_embeddings": np.asarray(sparse),
            "prompt_dense_embeddings": np.asarray(dense),
            "prompt_dense_positional_embeddings": np.asarray(self.dense_pe()),
        }


class JaxFaithful(JaxPort):
    name = "JaxFaithful"


class JaxFourierBfloat16(JaxPort):
    """The projection written for a TPU: operands in bfloat16, as DEFAULT matmul precision does there."""

    def project(self, centred):
        return (centred.astype(jnp.bfloat16) @ self.p["gaussian"].astype(jnp.bfloat16)).astype(F32)


class JaxStandardize(JaxPort):
    """LayerNorm2d by jax.nn.standardize, whose epsilon defaults to 1e-5."""

    def norm(self, x, index):
        gamma, beta = self.p["norm"][index]
        return jax.nn.standardize(x, axis=-1) * gamma + beta


class JaxGeluDefault(JaxPort):
    """jax.nn.gelu, whose `approximate` defaults to True (the tanh form)."""

    def gelu(self, x):
        return jax.nn.gelu(x)


class JaxGridXFromCumsum(JaxPort):
    """The grid's x from cumsum without its - 0.5 (y has it): (j + 1) / w."""

    def cell_centres(self):
        h, w = self.hw
        ones = jnp.ones((h, w), F32)
        y = (jnp.cumsum(ones, axis=0) - 0.5) / h
        x = jnp.cumsum(ones, axis=1) / w
        return jnp.stack([x, y], axis=-1)


class JaxLabelsByIndex(JaxPort):
    """Label rows gathered as table[label + 1]: JAX clamps the out-of-range indices of labels 2 and 3
    to the last row, so they silently get the foreground embedding."""

    def label_rows(self, labels):
        return self.p["point_table"][:3][labels + 1]


class JaxGridTransposedBack(JaxPort):
    """The (h, w, C) grid moved to channels-first with transpose(2, 1, 0): (C, w, h)."""

    def grid_to_nchw(self, grid):
        return grid.transpose(2, 1, 0)


class JaxNoPaddingForZeroPoints(JaxPort):
    """The padding point is appended only when the image has points (`if xy.shape[1]`)."""

    def pad(self, xy, labels):
        return super().pad(xy, labels) if xy.shape[1] else (xy, labels)


class JaxMasksFloat16(JaxPort):
    """Masks moved to the device as float16 (half the transfer), then computed in float32."""

    def mask_input(self, masks):
        return jnp.asarray(np.asarray(masks, dtype=np.float16)).astype(F32)
