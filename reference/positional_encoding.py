"""Spec §4 and §8: random-Fourier positional encoding of points and of the embedding grid."""

from __future__ import annotations

import math

from .backend import Array, DType, Namespace


def fourier_argument(unit_coords, gaussian_matrix, xp):
    """Spec §4.1, the argument of the sinusoids.

        A = 2*pi * (2u - 1) @ G          u: (..., 2) in the unit square, G: (2, C/2) -> A: (..., C/2)

    2u - 1 centres the unit square on the origin (to [-1, 1]^2); G holds C/2 random spatial
    frequencies drawn from N(0, 1), one column each, so the argument is a random projection of the point.
    """
    centred = 2.0 * unit_coords - 1.0
    return (2.0 * math.pi) * xp.matmul(centred, gaussian_matrix)


def sinusoids(argument, xp):
    """Spec §4.2, the features of an argument: [sin(A), cos(A)].     A: (..., C/2) -> (..., C)

    The sines fill the first C/2 channels and the cosines the last C/2.
    """
    return xp.concat([xp.sin(argument), xp.cos(argument)], axis=-1)


def fourier_features(unit_coords, gaussian_matrix, xp):
    """Spec §4, random Fourier features of points in the unit square.

    PE(u) = [sin(A), cos(A)],  A = 2*pi * (2u - 1) @ G          u: (..., 2) -> PE: (..., C)
    """
    return sinusoids(fourier_argument(unit_coords, gaussian_matrix, xp), xp)


def grid_axes(image_embedding_size: tuple[int, int], dtype: DType, xp: Namespace) -> tuple[Array, Array]:
    """Spec §8.1 along each axis: x = (j + 0.5) / w for j < w and y = (i + 0.5) / h for i < h.

    -> x: (w,), y: (h,)
    """
    h, w = image_embedding_size
    x = (xp.arange(w, dtype=dtype) + 0.5) / float(w)
    y = (xp.arange(h, dtype=dtype) + 0.5) / float(h)
    return x, y


def grid_cell_centres(image_embedding_size, dtype, xp):
    """Spec §8.1, the unit-square coordinates of the embedding grid's cell centres.

        u[i, j] = ((j + 0.5) / w, (i + 0.5) / h)        -> (h, w, 2) as (x, y)

    ``image_embedding_size`` is (h, w). The half-cell offset puts each sample in the middle of
    its cell, the same convention as the +0.5 pixel-centre shift of §3.1.
    """
    h, w = image_embedding_size
    x, y = grid_axes(image_embedding_size, dtype, xp)
    xs = xp.broadcast_to(x[None, :], (h, w))
    ys = xp.broadcast_to(y[:, None], (h, w))
    return xp.stack([xs, ys], axis=-1)


def dense_positional_grid(image_embedding_size, gaussian_matrix, xp):
    """Spec §8.2, the dense positional encoding: PE (§4) of every cell centre (§8.1).

        P[i, j, :] = PE(u[i, j])                          -> (h, w, C), channels last

    It depends only on the configuration and G, never on the prompt. The encoder's fast composition
    computes it by separation of variables (reference/fast/separable_grid.py).
    """
    centres = grid_cell_centres(image_embedding_size, gaussian_matrix.dtype, xp)
    return fourier_features(centres, gaussian_matrix, xp)
