"""Spec §9.3, fast forms: the standard normal upper tail Q(a) = Phi(-a) = erfc(a / sqrt 2) / 2, a >= 0.

The exact GELU is x * Phi(x). NumPy has no erf, and SciPy's is a scalar loop (about 10 ns a
value, 20 times the rest of the mask path's arithmetic), so ``gelu_from_upper_tail`` (below)
takes Phi from this module's Q, which needs nothing but vectorised arithmetic, one exp and, in
float64, one table lookup. ``normal_upper_tail`` has one form per dtype, the faster there
(measured, docs/performance.md): a fitted polynomial in float32, a table and the midpoint rule in
float64.

*float32: a fitted polynomial* (``upper_tail_by_polynomial``)

    Q(a) = exp(-a^2 / 2) * r * P(s),    r = 1 / (k + a),    s = (k - a) * r

P is a polynomial fitted once, here, to the exactly known function. Why this form:
exp(-a^2/2) * r carries Q's Gaussian decay and its 1/a tail (Mills' ratio: Q(a) ~ phi(a) / a),
so what is left for P, Q(a) * exp(a^2/2) * (k + a), is smooth and bounded over all of a >= 0
(from k/2 at a = 0 to 1/sqrt(2 pi) as a -> oo). The change of variable s maps a in [0, oo) onto
s in (-1, 1] (a = 0 at s = 1) and puts most of its resolution near a = 0, where Phi bends.
P is the least-squares Chebyshev fit of that function on 64 * degree Chebyshev nodes of s, of
values from math.erfc (the platform's libm, correct to about an ulp; ``scaled_upper_tail``),
written in monomials of s for Horner's rule (well conditioned here: the monomial coefficients'
magnitudes sum to less than 4). Degree 8 is the smallest that reaches about 2 machine epsilons
of absolute error in Q. In float64 the same form needs degree 20: forty elementwise passes.

*float64: a table and the midpoint rule* (``upper_tail_by_table``)

    Q(a) = Q(a0) - integral_{a0}^{a} phi(t) dt
         = Q(a0) - phi(m) h (1 + (m^2 - 1) h^2 / 24 + ...),    h = a - a0,  m = a0 + h/2

a0 is the node nearest to a of a grid of step 2^-11 on [0, 40], where Q(a0) is tabulated once,
here, from math.erfc (beyond 40, Q is 0 in float64). The integral is the midpoint rule with its
error series: expanding phi about the midpoint m, the odd terms cancel and phi's derivatives
are phi(m) times the Hermite polynomials He_2 = m^2 - 1, He_4 = m^4 - 6m^2 + 3, ...; with
|h| <= 2^-12 the He_4 term, (m^4 - 6m^2 + 3) h^4 / 1920 relative to the integral, is below
half an epsilon of Q for a < 5 and is left out. The node and h = a - a0 are exact (a0 is a
multiple of 2^-11 within a factor 2 of a, Sterbenz), so the only roundings are those of a dozen
multiplications, one exp and the table's value: about twenty passes, against the polynomial's
forty-odd, and more accurate.

tests/test_fast_paths.py checks Q against math.erfc in both dtypes and the GELU against its
definition.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any

import numpy as np

from ..activations import gelu, get_activation
from ..backend import Array, DType, Namespace, namespace_name

# dtype -> (degree of P, k): the smallest degree whose fit reaches ~2 epsilons of absolute error in Q.
TAIL_FITS = {"float32": (8, 2.0)}
TABLE_STEP = 2.0**-11  # float64: Q tabulated every TABLE_STEP on [0, TABLE_END]
TABLE_END = 40.0  # Q(40) = 3.6e-350: 0 in float64, as is phi beyond 38.6


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


@functools.cache
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
    """Q(a) = Phi(-a) = erfc(a / sqrt 2) / 2 for finite a >= 0, elementwise, in a's dtype: float32
    by the fitted polynomial, float64 by the table (module docstring).

    Tested: within 4 machine epsilons absolute for every a, and 64 relative to Q itself for a < 5.
    """
    if a.dtype == xp.float32:
        return upper_tail_by_polynomial(a, xp)
    if a.dtype == xp.float64:
        return upper_tail_by_table(a, xp)
    raise TypeError(f"a: expected a float32 or float64 array; received dtype {a.dtype}")


def upper_tail_by_polynomial(a, xp):
    """Q(a) = exp(-a^2/2) * r * P(s),   r = 1 / (k + a),   s = (k - a) * r          a: float32"""
    degree, k = TAIL_FITS["float32"]
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


@functools.cache
def upper_tail_table():
    """Q(n * TABLE_STEP) for n = 0 .. TABLE_END / TABLE_STEP, from math.erfc: a read-only NumPy
    float64 array (81 921 values, 640 KiB; made in about 30 ms at first use)."""
    import numpy as np

    nodes = range(int(TABLE_END / TABLE_STEP) + 1)
    table = np.array([0.5 * math.erfc(n * TABLE_STEP / math.sqrt(2.0)) for n in nodes])
    table.flags.writeable = False
    return table


def upper_tail_by_table(a, xp):
    """Q(a) = Q(a0) - phi(m) h (1 + (m^2 - 1) h^2 / 24),   a0 = TABLE_STEP * round(a / TABLE_STEP),
    h = a - a0,  m = a - h/2,  phi(m) = exp(-m^2/2) / sqrt(2 pi)          a: float64

    Written with in-place operations on this function's own temporaries (the same values).
    """
    table = _device_table(xp)
    a = xp.minimum(a, xp.asarray(TABLE_END, dtype=a.dtype))  # beyond: Q(a0) = 0 and phi(m) = 0
    n = a * (1.0 / TABLE_STEP)
    n = xp.round(n)  # the nearest node, as a float
    q = xp.take(table, xp.astype(n, xp.int64))  # Q(a0)
    h = n
    h *= -TABLE_STEP
    h += a  # h = a - a0, exact
    m = h * -0.5
    m += a  # m = a - h/2, the midpoint of [a0, a]
    m *= m  # m^2
    integral = m * -0.5
    integral = xp.exp(integral)
    integral *= h  # exp(-m^2/2) h
    h *= h
    m -= 1.0
    m *= h
    m *= _INV_SQRT_2PI / 24.0
    m += _INV_SQRT_2PI  # (1 + (m^2 - 1) h^2 / 24) / sqrt(2 pi)
    integral *= m
    q -= integral
    return q


_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_TABLES: dict[Any, Array] = {}  # namespace -> the table as its array, made on first use


def _device_table(xp):
    if xp not in _TABLES:
        _TABLES[xp] = xp.asarray(upper_tail_table(), dtype=xp.float64)  # (NumPy: the same array)
    return _TABLES[xp]


def gelu_from_upper_tail(x, xp, out=None):
    """The exact GELU from the normal upper tail Q(|x|) = Phi(-|x|) (``normal_tail``), for finite
    float32 or float64 x.

        GELU(x) = x * Phi(x) = max(x, 0) - |x| * Q(|x|)
        out: None, or (NumPy only) the array to write the result into, which may be x itself

    Why this equals ``gelu``: x/2 * (1 + erf(x/sqrt 2)) = x * Phi(x), and by the symmetry of the
    normal density Phi(x) = 1 - Q(|x|) for x >= 0 and Q(|x|) for x < 0; max(x, 0) is x or 0
    accordingly (exactly), so one expression covers both signs with no branch or mask. For x < 0
    it is -|x| * Q exactly, which keeps GELU's relative accuracy where 1 + erf cancels (below
    about x = -4 in float32). It is computed as max(x - t, -t) with t = |x| Q(|x|) >= 0, the same
    value (t moved inside the max) from two whole arrays: NumPy's maximum against a scalar 0 is
    three times slower.
    """
    a = xp.abs(x)
    tail = normal_upper_tail(a, xp)
    tail *= a  # t = |x| Q(|x|)
    if out is None:
        return xp.maximum(x - tail, xp.negative(tail))
    np.subtract(x, tail, out=out)  # (NumPy, in place)
    return np.maximum(out, np.negative(tail, out=tail), out=out)


def fast_activation(name: str, dtype: DType, xp: Namespace) -> Callable[..., Array]:
    """The activation the encoder's fast composition (reference/fast/) evaluates: the same
    function, computed faster where that pays. Only NumPy's GELU is replaced (``gelu_from_upper_tail``):
    NumPy has no erf and SciPy's is a scalar loop (~10 ns a value, 20 times the rest of the mask
    path's arithmetic);
    CuPy's and torch's erf are vectorised kernels, and other dtypes keep the definition.
    """
    activation = get_activation(name)
    if activation is gelu and namespace_name(xp) == "numpy" and dtype in (xp.float32, xp.float64):
        return gelu_from_upper_tail
    return activation
