"""Spec §4.2, fast form: sin and cos of the Fourier argument by the half-angle identities (NumPy float64)."""

from __future__ import annotations

from ..backend import namespace_name


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
