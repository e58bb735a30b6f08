"""Spec §9.3, fast form: the standard normal upper tail Q(a) = Phi(-a) = erfc(a / sqrt 2) / 2, a >= 0.

The exact GELU is x * Phi(x). NumPy has no erf, and SciPy's is a scalar loop (about 10 ns a
value, 20 times the rest of the mask path's arithmetic), so ``activations.gelu_from_upper_tail``
takes Phi from this module's Q, which needs nothing but vectorised arithmetic and one exp:

    Q(a) = exp(-a^2 / 2) * r * P(s),    r = 1 / (k + a),    s = (k - a) * r

P is a polynomial fitted once, here, to the exactly known function. Why this form:
exp(-a^2/2) * r carries Q's Gaussian decay and its 1/a tail (Mills' ratio: Q(a) ~ phi(a) / a),
so what is left for P, Q(a) * exp(a^2/2) * (k + a), is smooth and bounded over all of a >= 0
(from k/2 at a = 0 to 1/sqrt(2 pi) as a -> oo). The change of variable s maps a in [0, oo) onto
s in (-1, 1] (a = 0 at s = 1) and puts most of its resolution near a = 0, where Phi bends.

The fit: P is the least-squares Chebyshev fit of that function on 64 * degree Chebyshev nodes of
s, of values from math.erfc (the platform's libm, correct to about an ulp; ``scaled_upper_tail``);
it is then written in monomials of s for Horner's rule (well conditioned here: the
monomial coefficients' magnitudes sum to less than 4). The degrees are the smallest that reach
about 2 machine epsilons of absolute error in Q (measured against mpmath); tests/test_fast_paths.py
checks Q against math.erfc and the GELU against its definition.
"""

from __future__ import annotations

import functools
import math

# dtype -> (degree of P, k): the smallest degree whose fit reaches ~2 epsilons of absolute error in Q.
TAIL_FITS = {"float64": (20, 5.0), "float32": (8, 2.0)}


def scaled_upper_tail(a: float) -> float:
    """Q(a) * exp(a^2 / 2) for a float a >= 0, to about an ulp: the values P is fitted to.

    Below a = 30 from math.erfc, with a^2 split as hi + lo (hi on a 2^-20 grid, so hi^2 is
    exact) to keep exp(a^2/2) exact to an ulp; above, where erfc nears underflow, by the
    asymptotic series Q(a) exp(a^2/2) = 1/(a sqrt(2 pi)) * (1 - 1/a^2 + 1*3/a^4 - 1*3*5/a^6 + ...),
    summed to eleven terms (at a = 30 the last is 2e-21).
    """
    if a < 30.0:
        hi = math.ldexp(math.floor(math.ldexp(a, 20)), -20)
        lo = a - hi
        return 0.5 * math.erfc(a / math.sqrt(2.0)) * math.exp(0.5 * hi * hi) * math.exp(0.5 * lo * (2.0 * hi + lo))
    total, term = 0.0, 1.0
    for n in range(1, 12):
        total += term
        term *= -(2 * n - 1) / (a * a)
    return total / (a * math.sqrt(2.0 * math.pi))


@functools.lru_cache(maxsize=None)
def upper_tail_polynomial(degree: int, k: float) -> tuple:
    """The monomial coefficients of P in s, lowest first, as Python floats (see the module docstring).

    Computed in float64 with NumPy on the host whatever namespace evaluates Q. Python floats are
    "weak" scalars for NumPy and the array API, so they never widen a float32 array.
    """
    import numpy as np
    from numpy.polynomial import chebyshev

    nodes = 64 * degree
    s = np.cos(np.pi * (np.arange(nodes) + 0.5) / nodes)  # Chebyshev nodes, all inside (-1, 1)
    a = k * (1.0 - s) / (1.0 + s)  # the inverse of s = (k - a) / (k + a)
    target = [scaled_upper_tail(v) * (k + v) for v in a.tolist()]
    return tuple(float(c) for c in chebyshev.cheb2poly(chebyshev.chebfit(s, target, degree)))


def normal_upper_tail(a, xp):
    """Q(a) = Phi(-a) = erfc(a / sqrt 2) / 2 for finite a >= 0, elementwise, in a's dtype.

        Q(a) = exp(-a^2/2) * r * P(s),   r = 1 / (k + a),   s = (k - a) * r          a: float32 or float64

    Tested: within 4 machine epsilons absolute for every a, and 64 relative to Q itself for a < 5.
    """
    dtype = next((name for name in TAIL_FITS if a.dtype == getattr(xp, name)), None)
    if dtype is None:
        raise TypeError(f"a: expected a float32 or float64 array; received dtype {a.dtype}")
    degree, k = TAIL_FITS[dtype]
    coefficients = upper_tail_polynomial(degree, k)
    r = k + a
    r = 1.0 / r
    s = k - a
    s *= r
    p = coefficients[-1] * s  # Horner's rule, in place: p = (...(c_n s + c_{n-1}) s + ...) s + c_0
    p += coefficients[-2]
    for c in coefficients[-3::-1]:
        p *= s
        p += c
    q = a * a
    q *= -0.5
    q = xp.exp(q)
    q *= r
    q *= p
    return q
