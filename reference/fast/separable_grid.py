"""Spec §4 and §8.2, fast form: the dense positional grid by separation of variables (h + w
sines and cosines instead of h * w)."""

from __future__ import annotations

import math

from ..positional_encoding import grid_axes
from .half_angle import sin_and_cos


def fourier_features_on_grid(x, y, gaussian_matrix, xp):
    """Spec §4 at every point of a grid, by separation of variables; channels first.

        out[:, i, j] = PE((x[j], y[i]))          x: (w,), y: (h,), G: (2, C/2) -> (C, h, w)

    Why this equals the definition: the argument of §4.1 at (x_j, y_i) is a sum of a term of the
    column and a term of the row,

        A[i, j, k] = 2*pi*((2x_j - 1) G[0, k] + (2y_i - 1) G[1, k]) = a[j, k] + b[i, k],

    so the angle-addition formulas give every channel from h + w sines and cosines instead of h*w:

        sin A = sin a cos b + cos a sin b        cos A = cos a cos b - sin a sin b.

    For one frequency k both are rank-2 outer products, [cos b, sin b] (h, 2) times
    [[sin a], [cos a]] or [[cos a], [-sin a]] (2, w): one batched matrix product over the C channels
    writes the output, in the channels-first layout of §11.2. In float64 it agrees with
    ``fourier_features`` to ~1e-14 (tests/test_fast_paths.py); in float32 its error against float64
    is no larger than the direct form's (|a| + |b| is rounded instead of |a + b|; measured by
    ``samspec bench``, W3 and W4).
    """
    a = (2.0 * math.pi) * ((2.0 * x - 1.0)[:, None] * gaussian_matrix[0, :])  # (w, C/2)
    b = (2.0 * math.pi) * ((2.0 * y - 1.0)[:, None] * gaussian_matrix[1, :])  # (h, C/2)
    sin_a, cos_a = (xp.permute_dims(v, (1, 0)) for v in sin_and_cos(a, xp))  # (C/2, w)
    sin_b, cos_b = (xp.permute_dims(v, (1, 0)) for v in sin_and_cos(b, xp))  # (C/2, h)
    rows = xp.stack([cos_b, sin_b], axis=-1)[None, ...]  # (1, C/2, h, 2), shared by both halves
    columns = xp.stack(
        [
            xp.stack([sin_a, cos_a], axis=1),  # sines:   sin a cos b + cos a sin b
            xp.stack([cos_a, -sin_a], axis=1),  # cosines: cos a cos b - sin a sin b
        ],
        axis=0,
    )  # (2, C/2, 2, w)
    out = xp.matmul(rows, columns)  # (2, C/2, h, w): [sin A, cos A] per channel
    return xp.reshape(out, (2 * out.shape[1], y.shape[0], x.shape[0]))


def dense_positional_grid_separable(image_embedding_size, gaussian_matrix, xp):
    """Spec §8.2, the dense positional encoding: PE of every cell centre.

        P[i, j, :] = PE(u[i, j])                          -> (h, w, C), channels last

    Why this equals the definition (``positional_encoding.dense_positional_grid``, PE of every cell
    centre): ``fourier_features_on_grid`` (sin(a + b) from per-row and per-column terms); the result
    is a channels-last view of a channels-first array.
    """
    x, y = grid_axes(image_embedding_size, gaussian_matrix.dtype, xp)
    return xp.permute_dims(fourier_features_on_grid(x, y, gaussian_matrix, xp), (1, 2, 0))
