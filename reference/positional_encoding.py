"""Spec §4 and §8: random-Fourier positional encoding of points and of the embedding grid."""

from __future__ import annotations

import math

from .backend import namespace_name


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


def sin_cos_half_angle(angle, xp):
    """sin and cos of an angle by the half-angle identities, from t = tan(angle/2).

        sin a = 2t / (1 + t^2) = t * q,   cos a = (1 - t^2) / (1 + t^2) = q - 1,   q = 2 / (1 + t^2)

    Why this equals xp.sin and xp.cos: the identities are exact (write sin and cos of 2 * (a/2)
    and divide by cos^2 + sin^2 = 1), and a/2 is exact in binary floating point. Near |t| = inf
    (a near pi mod 2 pi) sin a = 2/t keeps its relative accuracy; cos a = q - 1 cancels near
    |t| = 1, where cos a is itself ~0 and the error is a few 1e-16 absolute, no more than the
    rounding of a already causes in the direct form. In float64 it agrees with sin and cos to
    8 machine epsilons, 1.8e-15 absolute (tests/test_fast_paths.py).
    """
    t = xp.tan(0.5 * angle)
    q = t * t
    q += 1.0
    q = 2.0 / q
    t *= q  # sin
    q -= 1.0  # cos
    return t, q


def sin_and_cos(angle, xp):
    """sin and cos of an angle, the fast way for its dtype and namespace: the fast compositions' sinusoids.

    NumPy float64 goes through ``sin_cos_half_angle``: NumPy's float64 sin and cos are scalar
    loops (9-14 ns a value), while its float64 tan is vectorised (~0.8 ns), so one tan and four
    elementwise passes cost about a tenth of a sine and a cosine. Everything else calls xp.sin and
    xp.cos: in float32 they are vectorised anyway, and the identities' extra roundings would
    double the float32 error that the tolerance model takes as the faithful one
    (docs/tolerances.md); on a GPU the two kernels are cheaper than the identities' five.
    """
    if angle.dtype == xp.float64 and namespace_name(xp) == "numpy":
        return sin_cos_half_angle(angle, xp)
    return xp.sin(angle), xp.cos(angle)


def fourier_features(unit_coords, gaussian_matrix, xp):
    """Spec §4, random Fourier features of points in the unit square.

    PE(u) = [sin(A), cos(A)],  A = 2*pi * (2u - 1) @ G          u: (..., 2) -> PE: (..., C)
    """
    return sinusoids(fourier_argument(unit_coords, gaussian_matrix, xp), xp)


def grid_axes(image_embedding_size, dtype, xp):
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


def dense_positional_grid_literal(image_embedding_size, gaussian_matrix, xp):
    """Spec §8.2 as written, the definition: PE (§4) of every cell centre (§8.1).

    P[i, j, :] = PE(u[i, j])                          -> (h, w, C), channels last
    """
    centres = grid_cell_centres(image_embedding_size, gaussian_matrix.dtype, xp)
    return fourier_features(centres, gaussian_matrix, xp)


def dense_positional_grid(image_embedding_size, gaussian_matrix, xp):
    """Spec §8.2, the dense positional encoding: PE of every cell centre.

        P[i, j, :] = PE(u[i, j])                          -> (h, w, C), channels last

    It depends only on the configuration and G, never on the prompt. Computed by
    ``fourier_features_on_grid`` (sin(a + b) from per-row and per-column terms); the result is a
    channels-last view of a channels-first array. ``dense_positional_grid_literal`` is the definition.
    """
    x, y = grid_axes(image_embedding_size, gaussian_matrix.dtype, xp)
    return xp.permute_dims(fourier_features_on_grid(x, y, gaussian_matrix, xp), (1, 2, 0))
